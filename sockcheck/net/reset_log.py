"""The connections a server reset under the current test case, so that a finding which met a reset can say why.

The client helpers (stream.py, holding.py, the urgent check's own reads
and writes) call :func:`record` wherever the server's RST ends a
connection (ECONNRESET or EPIPE at the client).  What is kept is what the
client's own socket still knows after the reset, over the connection's
whole life whichever helper wrote or read last: its port, the bytes it
sent, those the server's kernel had acknowledged and those that came back
(TCP_INFO's counters, which a reset socket keeps).  Bytes the server's
kernel took and never echoed were unread at its close() or lost with its
queues; resets.explain_reset tells the causes apart with the capture and
the process's end as well.

The fixture that runs a case empties the log before the check and reads it
after (fixtures/launch.py); checks never read it.  One pytest process runs
one case at a time, so the log is the process's; a check's client threads
append to it safely (list.append is atomic).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from sockcheck.net import tcp_info


@dataclass(frozen=True)
class ResetMet:
    """One connection the server reset, counted over its whole life by the client's socket."""

    port: int | None  # the client's port, None when the socket no longer says
    sent: int  # bytes the client sent
    taken: int  # bytes of the client's that the server's kernel acknowledged (in flight at the RST: not counted)
    echoed: int  # bytes that came back from the server (read by the client or still queued at it)
    counted: bool  # the counts are the kernel's (TCP_INFO); False: the helper's own, of its last call
    echo_held: bool = False  # the client was not reading: echo may have waited in the server's buffers


_met: list[ResetMet] = []


def kernel_counts(sock: socket.socket) -> tuple[int, int, int] | None:
    """(bytes of data sent, of them acknowledged by the peer, bytes of data received from it) on ``sock``,
    from TCP_INFO; None when the kernel does not say (before 4.19, or not a TCP socket).

    ``tcpi_bytes_acked`` counts sequence space, the SYN and an acknowledged
    FIN included: capped at ``tcpi_bytes_sent`` (data only), it is the data
    the peer's kernel took."""
    try:
        counters = tcp_info.byte_counters(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, tcp_info.SIZE))
    except OSError:
        return None
    if counters is None or counters.sent is None:
        return None
    return counters.sent, min(max(counters.acked - 1, 0), counters.sent), counters.received


def record(sock: socket.socket, *, sent: int | None, echoed: int, echo_held: bool = False) -> None:
    """The server reset ``sock``'s connection.  ``sent`` and ``echoed`` are the calling helper's own counts
    (``sent`` None when it does not count), used only when the kernel's are not to be had; ``echo_held``:
    the client was not reading."""
    try:
        port = sock.getsockname()[1]
    except OSError:
        port = None
    counts = kernel_counts(sock)
    if counts is not None:
        _met.append(ResetMet(port or None, *counts, True, echo_held))
    else:
        own = echoed if sent is None else sent
        _met.append(ResetMet(port or None, own, own, echoed, False, echo_held))


def clear() -> None:
    """Forget every reset met so far (a case starts)."""
    _met.clear()


def met() -> list[ResetMet]:
    """The resets met since the last clear(), oldest first."""
    return list(_met)
