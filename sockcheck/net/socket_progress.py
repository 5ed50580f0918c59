"""How many bytes a server application has moved through its end of one connection, from sock_diag.

A client sees only what reaches the wire: while its own receive window is
closed, the server may still be copying megabytes from its receive queue to
its send queue (a server with a 16-byte buffer does that in 16-byte steps),
and nothing the client can count moves.  The kernel's counters of the
server's socket tell what the application itself did: every byte it read is
a byte received and no longer queued (``bytes_received - rqueue``), every
byte it wrote is either acknowledged or still queued (``bytes_acked +
wqueue``).  Both move only when the application reads or writes, never when
the kernel merely passes queued bytes on.

The request and answer layouts are socket_table's (linux/inet_diag.h), with
the INET_DIAG_INFO extension: the server socket's ``struct tcp_info``, whose
counters tcp_info.py reads.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sockcheck.net.socket_table import (DIAG_INODE, DIAG_MSG, DIAG_REQUEST, DIAG_TIMEOUT, NETLINK_SOCK_DIAG,
                                        NLM_F_REQUEST, SOCK_DIAG_BY_FAMILY, SOCKID, SOCKID_REST, attribute, exchange,
                                        sockid)
from sockcheck.net.stream import WRITE_CHUNK
from sockcheck.net.tcp_info import byte_counters

INET_DIAG_INFO = 2  # the attribute carrying struct tcp_info; asked for with ext bit 1 << (2 - 1)
# Connected states: a server's end of a connection the client has not closed, or has half-closed.
CONNECTED = (1 << 1) | (1 << 8)  # ESTABLISHED, CLOSE_WAIT
PUSH_POLL = 0.005  # seconds between looks at the server's counters while pushing


@dataclass(frozen=True)
class SocketProgress:
    """One end of a TCP connection as its application has used it, in bytes since the connection began."""

    read: int  # taken from the receive queue by the application
    written: int  # handed to the send queue by the application
    receive_queue: int  # received, not yet read (rqueue)
    send_queue: int  # written, not yet acknowledged by the peer (wqueue)

    def moved(self) -> tuple[int, int]:
        """(read, written): what changes when, and only when, the application reads or writes."""
        return self.read, self.written


class ProgressReader:
    """Reads the counters of the server's end of one client connection; a context manager holding one
    netlink socket (opened in the calling thread, so in its network namespace: the client's)."""

    def __init__(self, client: socket.socket) -> None:
        self.family = client.family
        try:
            (client_host, self.client_port, *_), (server_host, self.server_port, *_) = \
                client.getsockname(), client.getpeername()
        except OSError:  # ENOTCONN: the server has already reset the connection
            self.server_port = None
        else:
            self.client_address = socket.inet_pton(self.family, client_host)
            self.server_address = socket.inet_pton(self.family, server_host)
        self._diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        self._diag.settimeout(DIAG_TIMEOUT)
        self._diag.bind((0, 0))

    def __enter__(self) -> ProgressReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self._diag.close()

    def read(self) -> SocketProgress | None:
        """The server end's counters now; None when the kernel shows no such socket (it is closed, or
        the server is in another network namespace) or keeps no byte counters (Linux before 4.2).
        An IPv4 connection is asked about again as IPv4-mapped IPv6 when the first question finds
        nothing: a dual-stack server's end of it is an AF_INET6 socket."""
        if self.server_port is None:
            return None
        found = self._ask(self.family, self.server_address, self.client_address)
        if found is None and self.family == socket.AF_INET:
            found = self._ask(socket.AF_INET6, _mapped(self.server_address), _mapped(self.client_address))
        return found

    def moved(self) -> tuple[int, int] | None:
        """read()'s (read, written) now, for push_until_still's ``mark``; None when read() finds nothing."""
        progress = self.read()
        return None if progress is None else progress.moved()

    def _ask(self, family: int, server: bytes, client: bytes) -> SocketProgress | None:
        """One exact lookup (no dump: the kernel finds the socket by its addresses and ports in its hash
        table, whatever else the namespace holds)."""
        body = DIAG_REQUEST.pack(family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), CONNECTED) \
            + sockid(self.server_port, self.client_port, server, client)
        try:
            for data, start, end in exchange(self._diag, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, body):
                return _progress(data, start, end)
        except OSError:  # ENOENT: no such socket
            return None
        return None


def _progress(data: bytes, start: int, end: int) -> SocketProgress | None:
    """The counters of one inet_diag_msg, None without a long enough tcp_info."""
    _expires, rqueue, wqueue, _uid, _inode = DIAG_INODE.unpack_from(
        data, start + DIAG_MSG.size + SOCKID.size + SOCKID_REST.size)
    info = attribute(data, start, end, INET_DIAG_INFO)
    counters = None if info is None else byte_counters(info)
    if counters is None:
        return None
    return SocketProgress(counters.received - rqueue, counters.acked + wqueue, rqueue, wqueue)


def _mapped(address: bytes) -> bytes:
    """The IPv4-mapped IPv6 form (::ffff:a.b.c.d) of a packed IPv4 address."""
    return bytes(10) + b"\xff\xff" + address


def push_until_still(sock: socket.socket, payload: bytes, sent: int, mark: Callable[[], Hashable], *,
                     quiet: float, until: float) -> tuple[int, float | None]:
    """Write what the connection takes of ``payload[sent:]`` without ever reading, until ``mark()``
    (what the server has moved) has stayed the same for ``quiet`` seconds, or until the monotonic
    time ``until``.  Returns how much of the payload is sent, and the monotonic time since which
    ``mark()`` has not changed (None when it never stayed the same for ``quiet`` seconds)."""
    sock.setblocking(False)
    last, still_since = mark(), time.monotonic()
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while True:
            if sent < len(payload) and selector.select(PUSH_POLL):
                taken = send_some(sock, payload, sent)
                sent += taken
                if not taken:  # writable but refused: the connection is gone; only the counters are watched
                    time.sleep(PUSH_POLL)
            elif sent >= len(payload):
                time.sleep(PUSH_POLL)  # nothing left to write: only the server's counters are watched
            now, current = time.monotonic(), mark()
            if current != last:
                last, still_since = current, now
            elif now - still_since >= quiet:
                return sent, still_since
            if now >= until:
                return sent, None


def send_some(sock: socket.socket, payload: bytes, sent: int) -> int:
    """One non-blocking send of the payload from ``sent``: how many bytes it took (0 when full or reset:
    a reset shows when the echo is read)."""
    try:
        return sock.send(memoryview(payload)[sent:sent + WRITE_CHUNK])
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        return 0
