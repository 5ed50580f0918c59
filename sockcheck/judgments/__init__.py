"""The checks' judgments: pure functions of what a check observed, free of sockets and of pytest.

A check in suites/ does the I/O (connects, writes, reads, captures,
counts processes) and hands what it saw to a judgment here as plain
values: the bytes expected and received, how reading ended (``EOF``,
``RST``, ``timeout``, ``complete``), captured segments, counts.  The
judgment returns the finding (a ``Violation`` or an ``Inconclusive``
from sockcheck.verdicts.findings, which the check raises) or None, or a
plain value the check words its verdict with.  Where the evidence tells
the usual cause apart (a death by SIGPIPE, zombies fewer than the
clients), the Violation names it, and the catalogue gives the fix hint for
that cause (causes.py).  selftest/ tests every one of them on synthetic
data.

One module per check family: half_close, close, nagle, backpressure,
process, concurrency, limits (tcp.*) and udp (udp.*); model.py reads the
server's model from what it did, resets.py tells why a server reset a
connection, causes.py names the causes.
"""
