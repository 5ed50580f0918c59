"""The byte counters of ``struct tcp_info`` (linux/tcp.h), wherever the structure comes from.

A client's own socket gives it with getsockopt(TCP_INFO) (reset_log.py);
sock_diag gives the server's end's as its INET_DIAG_INFO attribute
(socket_progress.py).  Both read the same three counters at the same
offsets: the layout is the kernel's ABI, which only grows at its end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SIZE = 256  # bytes to ask getsockopt(TCP_INFO) for: more than any field read here
_U64 = struct.Struct("=Q")
ACKED, RECEIVED, SENT = 120, 128, 200  # tcpi_bytes_acked (Linux 4.1), _received (4.2), _sent (4.19)


@dataclass(frozen=True)
class ByteCounters:
    """In bytes since the connection began, as this end counts them."""

    acked: int  # sequence space the peer acknowledged: the SYN and an acknowledged FIN count one each
    received: int  # data received from the peer
    sent: int | None  # data sent, retransmissions included; None before Linux 4.19


def byte_counters(info: bytes) -> ByteCounters | None:
    """The counters of one ``struct tcp_info``; None when it is too short to hold them (before 4.2)."""
    if len(info) < RECEIVED + _U64.size:
        return None
    sent = _U64.unpack_from(info, SENT)[0] if len(info) >= SENT + _U64.size else None
    return ByteCounters(_U64.unpack_from(info, ACKED)[0], _U64.unpack_from(info, RECEIVED)[0], sent)
