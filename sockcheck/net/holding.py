"""Thousands of connections held open at once, each echoed (tcp.limits.c10k's driver)."""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from dataclasses import dataclass

from sockcheck.net import reset_log
from sockcheck.net.crowd import ERROR_EVENTS, MAX_EVENTS
from sockcheck.net.stream import READ_CHUNK


@dataclass
class Holding:
    """How far ConnectionHolder.hold() got."""

    count: int  # connections asked for
    echoed: int  # echoed and held open
    opened: int  # connections started
    pending: int  # open and not yet echoed when it stopped
    failure: str | None  # the first connection that failed, one line; None when none did
    elapsed: float
    at_once: int  # handshakes complete when connect() returned (loopback: all of them)
    waited: int  # handshakes the client had to wait for
    wait_mean: float  # seconds, over those
    wait_max: float

    def describe(self) -> str:
        """``6761 of 10000 echoed and held, 512 open and not yet echoed``."""
        return f"{self.echoed} of {self.count} echoed and held, {self.pending} open and not yet echoed"

    def figures(self) -> str:
        """The connection rate and the handshakes, for the record."""
        rate = f"{self.echoed} connections opened and echoed in {self.elapsed:.2f}s ({self.echoed / self.elapsed:.0f}/s)"
        if not self.waited:
            return f"{rate}; every handshake complete within connect()"
        return (f"{rate}; {self.at_once} handshakes complete within connect(), {self.waited} waited for "
                f"{self.wait_mean * 1000:.1f} ms on average, at most {self.wait_max * 1000:.0f} ms")


class _Held:
    """One connection of a ConnectionHolder: what it must get back, what came."""

    __slots__ = ("sock", "index", "want", "got", "since")

    def __init__(self, sock: socket.socket, index: int, want: bytes, since: float | None):
        self.sock = sock
        self.index = index
        self.want = want
        self.got = bytearray()
        self.since = since  # when connect() was called, while the handshake is pending; else None


class ConnectionHolder:
    """Thousands of connections, opened a bounded number at a time, each echoed, all held open.

    ``hold()`` opens one connection per payload and round-trips the payload
    on it, with at most ``window`` connections open and not yet echoed at
    any moment: a new one starts only when another has been echoed.  A
    server's listen backlog holds the handshakes the kernel completed
    before the server accepted them; a client that opened ten thousand at
    once would overflow it, and the dropped handshakes would wait for SYN
    retransmission (1 s, 3 s, 7 s ...), which measures the client, not the
    server.  Echoed connections stay open and stay in the epoll set, so a
    server that closes or resets one shows, and ``ping()`` later sends one
    more byte on each without registering anything again.
    """

    def __init__(self, address: tuple[str, int]):
        self.address = address
        self.family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.poller = select.epoll()
        self.held: dict[int, _Held] = {}  # echoed, by descriptor
        self.dropped: list[str] = []  # held connections the server closed, reset or wrote to

    def __enter__(self) -> ConnectionHolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for conn in self.held.values():
            conn.sock.close()
        self.held.clear()
        self.poller.close()

    def hold(self, payloads: list[bytes], *, window: int, timeout: float) -> Holding:
        """Connect once per payload, round-trip it, keep the connection; stop at the first failure
        (refused, reset, closed, other bytes) or after ``timeout`` seconds."""
        count = len(payloads)
        pending: dict[int, _Held] = {}
        opened = at_once = waited = 0
        wait_total = wait_max = 0.0
        failure = None
        started = time.monotonic()
        end_by = started + timeout
        try:
            while failure is None and (opened < count or pending):
                while len(pending) < window and opened < count:
                    sock = socket.socket(self.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                    since = time.monotonic()
                    err = sock.connect_ex(self.address)
                    if err not in (0, errno.EINPROGRESS):
                        sock.close()
                        failure = f"connection #{opened + 1}: connect failed: {os.strerror(err)}"
                        break
                    conn = _Held(sock, opened, payloads[opened], since)
                    opened += 1
                    # On loopback the handshake is over when connect() returns, and the payload
                    # goes out at once; elsewhere send() says EAGAIN until it is.
                    try:
                        sock.send(conn.want)
                    except BlockingIOError:
                        events = select.EPOLLOUT
                    except OSError as exc:
                        sock.close()
                        failure = f"connection #{opened}: {exc.strerror}"
                        break
                    else:
                        conn.since = None
                        at_once += 1
                        events = select.EPOLLIN
                    pending[sock.fileno()] = conn
                    self.poller.register(sock.fileno(), events)
                remaining = end_by - time.monotonic()
                if failure is not None or remaining <= 0:
                    break
                for fd, events in self.poller.poll(remaining, MAX_EVENTS):
                    conn = pending.get(fd)
                    if conn is None:
                        self._drop(fd, events)
                        continue
                    if conn.since is not None:  # the handshake was pending
                        # A refused or reset handshake raises EPOLLERR; only then is SO_ERROR worth a system call.
                        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if events & ERROR_EVENTS else 0
                        if err:
                            failure = f"connection #{conn.index + 1}: connect failed: {os.strerror(err)}"
                            break
                        took = time.monotonic() - conn.since
                        waited += 1
                        wait_total += took
                        wait_max = max(wait_max, took)
                        conn.since = None
                        try:
                            conn.sock.send(conn.want)  # a just-connected socket has room for a few bytes
                        except OSError as exc:
                            failure = f"connection #{conn.index + 1}: send failed: {exc.strerror}"
                            break
                        self.poller.modify(fd, select.EPOLLIN)
                        continue
                    failure = self._receive(conn, events)
                    if failure is not None:
                        break
                    if len(conn.got) >= len(conn.want):
                        del pending[fd]
                        conn.got.clear()
                        self.held[fd] = conn
        finally:
            left = len(pending)
            for fd, conn in pending.items():
                self.poller.unregister(fd)
                conn.sock.close()
        return Holding(count, len(self.held), opened, left, failure, time.monotonic() - started,
                       at_once, waited, wait_total / waited if waited else 0.0, wait_max)

    def _receive(self, conn: _Held, events: int) -> str | None:
        """Read what came for ``conn``; a one-line failure when it is not the start of what it sent."""
        try:
            data = conn.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            reset_log.record(conn.sock, sent=len(conn.want), echoed=len(conn.got))
            return f"connection #{conn.index + 1}: reset after {len(conn.got)} of {len(conn.want)} bytes"
        if not data:
            return f"connection #{conn.index + 1}: EOF after {len(conn.got)} of {len(conn.want)} bytes"
        conn.got += data
        if conn.got != conn.want[:len(conn.got)]:
            return f"connection #{conn.index + 1}: other bytes came back than it sent"
        return None

    def _drop(self, fd: int, events: int) -> None:
        """A held connection became readable: the server wrote, closed or reset it unasked."""
        conn = self.held.pop(fd)
        self.poller.unregister(fd)
        try:
            data = conn.sock.recv(READ_CHUNK)
        except BlockingIOError:
            data = None
        except ConnectionResetError:
            why = "reset"
        else:
            why = "closed by the server (EOF)" if data == b"" else "written to unasked"
        self.dropped.append(f"connection #{conn.index + 1} {why} while held")
        conn.sock.close()

    def ping(self, payloads: list[bytes], *, timeout: float) -> list[str]:
        """Send each held connection (in the order they were opened) one more payload and wait
        for it to come back; returns one line per connection that did not answer."""
        talks = sorted(self.held.values(), key=lambda c: c.index)
        waiting: dict[int, _Held] = {}
        problems = []
        for conn, payload in zip(talks, payloads):
            conn.want, conn.got = payload, bytearray()
            try:
                conn.sock.send(payload)
            except OSError as exc:
                problems.append(f"connection #{conn.index + 1}: send failed: {exc.strerror}")
                continue
            waiting[conn.sock.fileno()] = conn
        end_by = time.monotonic() + timeout
        while waiting:
            remaining = end_by - time.monotonic()
            if remaining <= 0:
                break
            for fd, events in self.poller.poll(remaining, MAX_EVENTS):
                conn = waiting.get(fd)
                if conn is None:
                    continue
                failure = self._receive(conn, events)
                if failure is not None:
                    problems.append(failure)
                    del waiting[fd]
                elif len(conn.got) >= len(conn.want):
                    del waiting[fd]
        problems += [f"connection #{c.index + 1}: nothing back within {timeout:.1f}s"
                     for c in sorted(waiting.values(), key=lambda c: c.index)]
        return problems
