"""The client helpers of sockcheck/net/ (stream, crowd, holding) against tiny in-process servers."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator

import pytest

from sockcheck.net.crowd import converse, open_many
from sockcheck.net.holding import ConnectionHolder
from sockcheck.net.stream import COMPLETE, NARROW_MSS, STALLED, narrow_connect, send_until_stalled, unread_bytes

TIMEOUT = 5.0  # seconds any one step of these tests may take, far above what each needs


class TinyServer:
    """A selectors server in a thread; ``behaviour`` decides what it does with a readable connection."""

    def __init__(self, behaviour: str):
        self.behaviour = behaviour  # "echo", "discard" (read, never write) or "idle" (never read)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()
        self.conns: list[socket.socket] = []
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TinyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_w.send(b"x")
        self._thread.join(TIMEOUT)
        for sock in (*self.conns, self.listener, self._stop_r, self._stop_w):
            sock.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            selector.register(self._stop_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._stop_r:
                        return
                    if key.fileobj is self.listener:
                        while True:
                            try:
                                conn, _ = self.listener.accept()
                            except BlockingIOError:
                                break
                            self.conns.append(conn)
                            if self.behaviour != "idle":
                                selector.register(conn, selectors.EVENT_READ)
                        continue
                    conn = key.fileobj
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        selector.unregister(conn)
                        continue
                    if self.behaviour == "echo":
                        # Blocking sendall: a client that does not read stops this whole server,
                        # which is what a backpressuring server looks like from the client.
                        conn.setblocking(True)
                        conn.settimeout(TIMEOUT)
                        try:
                            conn.sendall(data)
                        except OSError:
                            selector.unregister(conn)
                        conn.setblocking(False)


@pytest.fixture
def server(request) -> Iterator[TinyServer]:
    with TinyServer(request.param) as running:
        yield running


@pytest.mark.parametrize("server", ["discard"], indirect=True)
def test_send_until_stalled_writes_everything_to_a_reader(server):
    """A server that keeps reading takes the whole payload."""
    with narrow_connect(server.address, TIMEOUT) as sock:
        push = send_until_stalled(sock, b"x" * (4 << 20), quiet=0.2, patience=TIMEOUT, limit=TIMEOUT * 2)
    assert push.end == COMPLETE and push.sent == 4 << 20


@pytest.mark.parametrize("server", ["echo"], indirect=True)
def test_send_until_stalled_stops_when_the_echo_backs_up(server):
    """A server that reads only when it can write stops taking data; the quiet period ends the writing,
    well before the patience meant for a server that has not started."""
    with narrow_connect(server.address, TIMEOUT) as sock:
        push = send_until_stalled(sock, b"y" * (64 << 20), quiet=0.2, patience=60.0, limit=60.0)
        assert unread_bytes(sock) > 0, "the echo waits unread in the client's receive buffer"
    assert push.end == STALLED and 0 < push.sent < 64 << 20
    assert push.elapsed < 30.0


@pytest.mark.parametrize("server", ["idle"], indirect=True)
def test_send_until_stalled_gives_a_silent_server_patience(server):
    """No echo has come: a stop in progress means a slow start, so only ``patience`` ends the writing."""
    with narrow_connect(server.address, TIMEOUT) as sock:
        push = send_until_stalled(sock, b"z" * (64 << 20), quiet=0.05, patience=0.5, limit=TIMEOUT)
    assert push.end == STALLED and push.elapsed >= 0.5


@pytest.mark.parametrize("server", ["idle"], indirect=True)
def test_narrow_connect_sets_window_and_mss_before_the_handshake(server):
    with narrow_connect(server.address, TIMEOUT) as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) <= 16 * 1024
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= NARROW_MSS


@pytest.mark.parametrize("server", ["echo"], indirect=True)
def test_connection_holder_holds_every_echoed_connection(server):
    """A bounded window of unechoed connections; all held at the end, and each answers one more byte."""
    payloads = [i.to_bytes(4, "big") * 4 for i in range(300)]
    with ConnectionHolder(server.address) as holder:
        run = holder.hold(payloads, window=16, timeout=TIMEOUT * 4)
        assert (run.echoed, run.pending, run.failure) == (300, 0, None)
        assert holder.ping([b"!"] * 300, timeout=TIMEOUT) == []
        assert holder.dropped == []


@pytest.mark.parametrize("server", ["echo"], indirect=True)
def test_connection_holder_notices_a_held_connection_the_server_closes(server):
    with ConnectionHolder(server.address) as holder:
        run = holder.hold([b"abcd"] * 3, window=2, timeout=TIMEOUT)
        assert run.echoed == 3
        server.conns[1].close()
        problems = holder.ping([b"!"] * 3, timeout=TIMEOUT)
    assert len(holder.dropped + problems) == 1
    assert "connection #2" in (holder.dropped + problems)[0]


@pytest.mark.parametrize("server", ["echo"], indirect=True)
def test_converse_times_each_socket_and_waits_for_an_owed_echo(server):
    opened = open_many(server.address, 4, timeout=TIMEOUT, in_flight=1)
    try:
        assert opened.problem is None and len(opened.times) == 4
        results = converse(opened.socks, [[b"hello"]] * 4, idle_timeout=TIMEOUT)
        assert all(r.end == COMPLETE and 0 <= r.first_byte <= r.finished for r in results)
        for sock in opened.socks:
            sock.sendall(b"again")
        owed = converse(opened.socks, [[] for _ in opened.socks], expect=[5] * 4, idle_timeout=TIMEOUT)
        assert [r.data for r in owed] == [b"again"] * 4
    finally:
        for sock in opened.socks:
            sock.close()
