"""FAULTY: closes the connection as soon as the client's EOF is read.

Bug: when recv() returns b"" (the client did shutdown(SHUT_WR) or close),
the server closes the socket at once, throwing away whatever is still in
its user-space output buffer.
Why it is wrong: EOF from the client only ends the client->server
direction.  The server->client direction is still open and the client is
still waiting for the rest of its echo; the server must first send every
buffered byte and only then close (which sends its FIN).  Bytes already
handed to the kernel survive close(); bytes still in our own buffer do not.
Exposed by: a large echo followed by shutdown(SHUT_WR) (4 MiB): the echo
comes back short, then EOF.  The server shapes its output per connection
with a token bucket (a burst of 256 KiB, then 16 MiB/s) and reads without
limit, so its buffer holds whatever the bucket has not let out yet.  A
64 KiB echo always fits in the burst and is sent before the EOF is read;
4 MiB always leaves megabytes behind, unless the client took longer than
a quarter of a second to send it (the server reads as fast as it arrives).

Everything else is meant to be correct: non-blocking sockets, selectors,
per-connection output buffers, no busy loop (it sleeps in select() until
the bucket refills), resets, SIGTERM -> exit 0.
"""
import os
import selectors
import sys
import time

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import (  # noqa: E402
    exit_on_stop_signals, parse_args, tcp_listener)

BURST = 256 * 1024  # bytes a connection may send at once
RATE = 16 * 1024 * 1024  # bytes per second after the burst
MIN_SEND = 16 * 1024  # wait for at least this many tokens before sending again


class Shaper:
    """A connection's output buffer, let out through a token bucket."""

    def __init__(self):
        self.out = bytearray()
        self.tokens = float(BURST)
        self.stamp = time.monotonic()

    def refill(self, now):
        self.tokens = min(BURST, self.tokens + (now - self.stamp) * RATE)
        self.stamp = now

    def ready_in(self, now):
        """Seconds until this connection may send again (0: now, None: nothing to send)."""
        if not self.out:
            return None
        self.refill(now)
        want = min(MIN_SEND, len(self.out))
        return 0.0 if self.tokens >= want else (want - self.tokens) / RATE

    def send(self, conn):
        self.refill(time.monotonic())
        allowed = int(min(self.tokens, len(self.out)))
        if allowed <= 0:
            return
        try:
            sent = conn.send(self.out[:allowed])
        except BlockingIOError:
            return
        del self.out[:sent]
        self.tokens -= sent


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()  # SystemExit(0)

    lsock = tcp_listener(host, port, family)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    shapers = {}  # socket -> Shaper

    def close(conn):
        sel.unregister(conn)
        del shapers[conn]
        conn.close()

    while True:
        now = time.monotonic()
        waits = {conn: shaper.ready_in(now) for conn, shaper in shapers.items()}
        for conn, wait in waits.items():
            # Ask for writability only when the bucket allows a send.
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wait == 0.0 else 0)
            if sel.get_key(conn).events != events:
                sel.modify(conn, events)
        pending = [w for w in waits.values() if w]
        for key, mask in sel.select(min(pending) if pending else None):
            if key.fileobj is lsock:
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except OSError:  # BlockingIOError: none left (or EMFILE)
                        break
                    conn.setblocking(False)
                    shapers[conn] = Shaper()
                    sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            if conn not in shapers:
                continue
            try:
                if mask & selectors.EVENT_WRITE:
                    shapers[conn].send(conn)
                if mask & selectors.EVENT_READ:
                    try:
                        data = conn.recv(1 << 20)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        # BUG: the shaper may still hold unsent echo; it is
                        # discarded here instead of being sent first.
                        close(conn)
                        continue
                    if data:
                        shapers[conn].out += data
                        shapers[conn].send(conn)
            except OSError:  # reset by peer, broken pipe
                close(conn)


if __name__ == "__main__":
    main()
