"""The usual causes a finding's evidence tells apart, by name.

A judgment that can tell why a rule was broken names the cause on its
Violation (``violation(..., cause=SIGPIPE)``); the catalogue maps each
check's cause names to a fix hint in the words of the socket textbooks, and
a finding without a cause gets the check's default hint.  Every function
here or in a judgment module that can name a cause says which ones with
:func:`names_causes`, so the self-tests can prove that each cause a check
can be given has a hint for that check.

Stream causes (what came back on a TCP connection, against what was sent)
and datagram causes are shared by every check of the transport; the others
belong to one check or family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sockcheck.net.stream import EOF_, RESET, TIMEOUT

F = TypeVar("F", bound=Callable)

# What came back on a TCP connection (stream_cause), shared by every TCP check.
EXTRA_BYTES = "extra-bytes"  # more bytes than were sent (a newline added, a buffer's length echoed)
ALTERED = "altered"  # as many bytes as were sent, some changed
STOPS_AT_NUL = "stops-at-nul"  # a correct prefix that ends where a NUL byte was due
DROPPED = "dropped"  # fewer bytes, missing in the middle (short writes ignored)
STALLED = "stalled"  # a correct prefix, then silence
NO_REPLY = "no-reply"  # nothing at all, the connection left open
CLOSED_EARLY = "closed-early"  # a correct prefix, then EOF
RESET_EARLY = "reset"  # a correct prefix, then RST
STREAM = (EXTRA_BYTES, ALTERED, STOPS_AT_NUL, DROPPED, STALLED, NO_REPLY, CLOSED_EARLY, RESET_EARLY)

# After the client's FIN (tcp.half-close.*): everything came back, but no EOF.
NO_EOF = "no-eof"

# Why the server reset a connection (resets.explain_reset), for every check that reports a server's RST;
# a death names the cause the exit status gives (SIGPIPE, CRASH, EXIT_ON_ERROR below).
RST_UNREAD = "unread-at-close"  # close() with unread input in the receive buffer
RST_LINGER = "linger-zero"  # nothing unread, the process alive, the socket aborted itself: SO_LINGER {1, 0}
RST_NO_SOCKET = "no-socket"  # the kernel's answer for a port or connection without a socket
RST_UNTOLD = "reset-untold"  # the evidence cannot tell which

# tcp.close.*
CLIENT_RST = "client-rst"
NO_FIN = "no-fin"
SIGPIPE = "sigpipe"
EXIT_ON_ERROR = "econnreset-exit"
CRASH = "crash"
STOPPED_SERVING = "stopped-serving"

# tcp.concurrency.*, and tcp.limits.select-fd's share of them
CROSSED = "crossed"  # a client got another client's bytes
NEVER_SERVED = "never-served"  # clients accepted and never served while others are
SERVER_EXITED = "server-exited"  # the server ended with clients connected (served N clients, then exit())
ONE_AT_A_TIME = "one-at-a-time"
LIMIT = "limit"  # a fixed number served at once
BACKLOG = "backlog"  # handshakes waited for SYN retransmission

# tcp.backpressure.*, tcp.urgent.*, tcp.time-wait.*
BUSY_LOOP = "busy-loop"
URGENT_DROPPED = "urgent-dropped"
OOB_POLICY = "oob-policy"
CLIENT_URG = "client-urg"
NO_TIME_WAIT = "no-time-wait"

# tcp.process.*
ONE_PER_SIGNAL = "one-per-signal"
NEVER_REAPED = "never-reaped"
CHILDREN_LINGER = "children-linger"
NOT_CLOSED_ON_EOF = "not-closed-on-eof"
NOT_CLOSED_ON_RESET = "not-closed-on-reset"
ORPHANS = "orphans"
IGNORES_SIGTERM = "ignores-sigterm"
EXIT_STATUS = "exit-status"

# tcp.limits.*
FD_SETSIZE = "fd-setsize"
DESCRIPTOR_LIMIT = "descriptor-limit"

# udp.*: what came back of a datagram (datagram_cause), shared by every UDP check.
TRUNCATED = "truncated"
MERGED = "merged"
OTHER_SOCKET = "other-socket"
DATAGRAM = (NO_REPLY, TRUNCATED, ALTERED, MERGED, OTHER_SOCKET)


def names_causes(*causes: str | Callable) -> Callable[[F], F]:
    """Mark a function with the cause names it can give a finding; a marked function among ``causes``
    stands for the ones it names."""
    named: set[str] = set()
    for cause in causes:
        named.update(getattr(cause, "causes") if callable(cause) else [cause])

    def mark(function: F) -> F:
        function.causes = frozenset(named)
        return function

    return mark


@names_causes(*STREAM)
def stream_cause(expected: bytes, received: bytes, end: str) -> str | None:
    """Why ``received`` (then ``end``: EOF_, RESET, TIMEOUT, or anything else) is not ``expected``; None
    when it is, or when it is all there and only the end is wrong (that is for the caller to name)."""
    if received == expected:
        return None
    if len(received) > len(expected):
        return EXTRA_BYTES
    if len(received) == len(expected):
        return ALTERED
    if not expected.startswith(received):
        return DROPPED
    if expected[len(received)] == 0:
        return STOPS_AT_NUL
    if end == RESET:
        return RESET_EARLY
    if end == EOF_:
        return CLOSED_EARLY
    if end == TIMEOUT and not received:
        return NO_REPLY
    return STALLED


@names_causes(NO_REPLY, TRUNCATED, ALTERED, MERGED)
def datagram_cause(sent: bytes, got: list[bytes]) -> str | None:
    """Why the replies ``got`` to one datagram ``sent`` are not that datagram alone; None when they are."""
    if got == [sent]:
        return None
    if not got:
        return NO_REPLY
    if len(got[0]) < len(sent) and sent.startswith(got[0]):
        return TRUNCATED
    if len(got[0]) > len(sent):
        return MERGED
    return ALTERED
