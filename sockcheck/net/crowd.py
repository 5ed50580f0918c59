"""Many connections at once: open a crowd of them, and converse with all of them interleaved.

tcp.concurrency.* opens tens or hundreds of connections and sends each its
own chunks, one socket per round, reading all the while; a client that
waits for SYN retransmission is told apart from a server that is slow.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from dataclasses import dataclass

from sockcheck.net.stream import COMPLETE, EOF_, READ_CHUNK, RESET, TIMEOUT, StreamResult, unacknowledged_bytes

# open_many(), converse() and ConnectionHolder (sockcheck.net.holding) drive up to thousands
# of sockets (tcp.limits.c10k): they use select.epoll directly, keyed by descriptor, because
# the selectors module's per-event bookkeeping made the Python driver several times slower
# than the same work in C (bench/run compares it with bench/c10k_client.c).
MAX_EVENTS = 1024
ERROR_EVENTS = select.EPOLLERR | select.EPOLLHUP


@dataclass
class Opened:
    """What open_many() opened: the connected sockets and when each handshake completed."""

    socks: list[socket.socket]  # connected (non-blocking), in the order their handshakes completed
    times: list[float]  # seconds from the start to each one's completed handshake
    problem: str | None  # why not all were opened, one line; None when all were

    def describe(self, count: int) -> str:
        """``187 of 200 connected within 10.0s`` (plus the reason)."""
        return f"{len(self.socks)} of {count} connected" + (f" ({self.problem})" if self.problem else "")


def open_many(address: tuple[str, int], count: int, *, timeout: float, in_flight: int = 256,
              nodelay: bool = False) -> Opened:
    """Open ``count`` connections with at most ``in_flight`` handshakes pending at once.

    Stops at the first connection that fails or after ``timeout``; the
    result says which.  The caller owns the sockets.
    """
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    poller = select.epoll()
    connected: list[socket.socket] = []
    times: list[float] = []
    pending: dict[int, socket.socket] = {}
    opened = 0
    started = time.monotonic()
    deadline = started + timeout
    try:
        while opened < count or pending:
            while len(pending) < in_flight and opened < count:
                sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                if nodelay:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = sock.connect_ex(address)
                opened += 1
                if err not in (0, errno.EINPROGRESS):
                    sock.close()
                    return Opened(connected, times, f"connect #{len(connected) + 1} failed: {os.strerror(err)}")
                pending[sock.fileno()] = sock
                poller.register(sock.fileno(), select.EPOLLOUT)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                waiting = f"{len(pending)} handshake{'s' if len(pending) != 1 else ''}"
                return Opened(connected, times, f"{waiting} still pending after {timeout:.1f}s")
            for fd, events in poller.poll(remaining, MAX_EVENTS):
                sock = pending.pop(fd)
                poller.unregister(fd)
                # A refused or reset handshake raises EPOLLERR; only then is SO_ERROR worth a system call.
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if events & ERROR_EVENTS else 0
                if err:
                    sock.close()
                    return Opened(connected, times, f"connect #{len(connected) + 1} failed: {os.strerror(err)}")
                connected.append(sock)
                times.append(time.monotonic() - started)
        return Opened(connected, times, None)
    finally:
        for sock in pending.values():
            sock.close()
        poller.close()


class _Conversation:
    """One socket's side of converse(): what is left to send, what came back."""

    __slots__ = ("sock", "pending", "expect", "got", "end", "sent", "first", "done")

    def __init__(self, sock: socket.socket, chunks: list[bytes], expect: int | None = None):
        self.sock = sock
        self.pending = [memoryview(c) for c in chunks if c]
        self.expect = sum(len(c) for c in self.pending) if expect is None else expect
        self.got = bytearray()
        self.end: str | None = None
        self.sent = 0
        self.first: float | None = None  # when the first byte came back
        self.done: float | None = None  # when it ended

    def send_next(self) -> None:
        """Send (part of) the next chunk; sets ``end`` when the peer has reset."""
        try:
            n = self.sock.send(self.pending[0])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            self.end = RESET
            return
        self.sent += n
        self.pending[0] = self.pending[0][n:]
        if not self.pending[0]:
            self.pending.pop(0)

    def receive(self) -> bool:
        """Read what is there; True when this socket is finished (complete, EOF or reset)."""
        try:
            data = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            data, self.end = b"", RESET
        if data:
            self.got += data
            if len(self.got) < self.expect or self.pending:
                return False
            self.end = COMPLETE
        elif self.end is None:
            self.end = EOF_
        return True


def converse(socks: list[socket.socket], chunk_lists: list[list[bytes]], *, idle_timeout: float,
             total_timeout: float | None = None, expect: list[int] | None = None) -> list[StreamResult]:
    """Send each socket its chunks, one chunk per socket per round (interleaved), reading all the while.

    Each socket expects back as many bytes as it sent (or ``expect[i]``:
    with no chunks, converse() only waits for an echo owed from before).
    Returns one StreamResult per socket, in order, with when its first byte
    came back and when it ended; sockets are left open.
    """
    started = time.monotonic()
    end_by = started + total_timeout if total_timeout else None
    last_progress = started
    poller = select.epoll()
    talks: dict[int, _Conversation] = {}
    order = []
    for index, (sock, chunks) in enumerate(zip(socks, chunk_lists)):
        sock.setblocking(False)
        talk = _Conversation(sock, chunks, None if expect is None else expect[index])
        order.append(talk)
        if talk.pending:  # the first round: a connected socket has room, no need to wait for EPOLLOUT
            talk.send_next()
            if talk.end == RESET:
                continue
        talks[sock.fileno()] = talk
        poller.register(sock.fileno(), select.EPOLLIN | (select.EPOLLOUT if talk.pending else 0))
    try:
        while talks:
            now = time.monotonic()
            wait = last_progress + idle_timeout - now
            if end_by is not None:
                wait = min(wait, end_by - now)
            if wait <= 0:
                break
            for fd, events in poller.poll(wait, MAX_EVENTS):
                talk = talks[fd]
                if events & select.EPOLLOUT and talk.pending:
                    talk.send_next()
                    if talk.end == RESET:
                        poller.unregister(fd)
                        del talks[fd]
                        continue
                    if not talk.pending:
                        poller.modify(fd, select.EPOLLIN)
                    last_progress = time.monotonic()
                if events & (select.EPOLLIN | ERROR_EVENTS):
                    before = len(talk.got)
                    finished = talk.receive()
                    if len(talk.got) > before:
                        last_progress = time.monotonic()
                        if not before:
                            talk.first = last_progress - started
                    if finished:
                        talk.done = time.monotonic() - started
                        poller.unregister(fd)
                        del talks[fd]
    finally:
        poller.close()
    elapsed = time.monotonic() - started
    return [StreamResult(bytes(t.got), t.end or TIMEOUT, elapsed, t.sent, t.first, t.done) for t in order]


def converse_through_retransmission(socks: list[socket.socket], chunk_lists: list[list[bytes]], *,
                                    idle_timeout: float, total_timeout: float) -> list[StreamResult]:
    """converse(), where silence ends the wait only once the server's kernel has every byte sent.

    A client whose handshake completed on its side while the server's
    accept queue was full (the kernel dropped the final ACK) sends into a
    connection the server does not have yet: its bytes stay unacknowledged
    and wait for SYN-ACK and data retransmission, seconds of silence that
    say nothing about the server's speed.  So after ``idle_timeout``
    without progress, the clients still waiting are asked how much of what
    they sent is unacknowledged (SIOCOUTQ): while any has some, the wait
    goes on, until ``total_timeout``.
    """
    started = time.monotonic()
    results = converse(socks, chunk_lists, idle_timeout=idle_timeout, total_timeout=total_timeout)
    wanted = [sum(len(c) for c in chunks) for chunks in chunk_lists]
    while True:
        waiting = [i for i, r in enumerate(results) if r.end == TIMEOUT and r.sent == wanted[i]]
        remaining = started + total_timeout - time.monotonic()
        if not waiting or remaining <= 0 or not any(unacknowledged_bytes(socks[i]) for i in waiting):
            return results
        offset = time.monotonic() - started
        more = converse([socks[i] for i in waiting], [[] for _ in waiting],
                        expect=[wanted[i] - len(results[i].data) for i in waiting],
                        idle_timeout=idle_timeout, total_timeout=remaining)
        for i, late in zip(waiting, more):
            was = results[i]
            first = was.first_byte if was.first_byte is not None else (
                None if late.first_byte is None else offset + late.first_byte)
            results[i] = StreamResult(was.data + late.data, late.end, offset + late.elapsed, was.sent, first,
                                      None if late.finished is None else offset + late.finished)
