"""FAULTY: closes the connection as soon as the client's EOF is read.

Bug: when recv() returns b"" (the client did shutdown(SHUT_WR) or close),
the server closes the socket at once, throwing away whatever is still in
its user-space output buffer.
Why it is wrong: EOF from the client only ends the client->server
direction.  The server->client direction is still open and the client is
still waiting for the rest of its echo; the server must first send every
buffered byte and only then close (which sends its FIN).  Bytes already
handed to the kernel survive close(); bytes still in our own buffer do not.
Exposed by: a large transfer followed by shutdown(SHUT_WR) (e.g. 4 MiB,
read concurrently): the echo comes back short.  Small ones (e.g. 64 KiB)
survive, since they were already written by the time the EOF is read.
The server keeps reading whatever arrives (it buffers without limit
rather than pausing input), with a modest fixed send buffer: so when a
large transfer's EOF arrives, megabytes of echo are still in its own
buffer on every run.  (A server that paused reading above a high-water
mark would reach the EOF only once its buffer had drained below the mark,
and lose the tail only when the client happened to read slowly.)  Each
pass reads one chunk and then flushes, so a small transfer (64 KiB) is
fully written before the EOF is read.

Everything else is meant to be correct: non-blocking sockets, selectors,
per-connection output buffers, no busy loop, resets, SIGTERM -> exit 0.
"""
import os
import selectors
import socket
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import (  # noqa: E402
    exit_on_stop_signals, parse_args, tcp_listener)

SNDBUF = 128 * 1024  # fixed kernel send buffer (Linux doubles it)


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()  # SystemExit(0)

    lsock = tcp_listener(host, port, family)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    out = {}  # socket -> bytearray still to send

    def close(conn):
        sel.unregister(conn)
        del out[conn]
        conn.close()

    def update(conn):
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out[conn] else 0)
        sel.modify(conn, events)

    def flush(conn):
        buf = out[conn]
        while buf:
            try:
                n = conn.send(buf)
            except BlockingIOError:
                break
            del buf[:n]

    while True:
        for key, mask in sel.select():
            if key.fileobj is lsock:
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except OSError:  # BlockingIOError: none left (or EMFILE)
                        break
                    conn.setblocking(False)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
                    out[conn] = bytearray()
                    sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            if conn not in out:
                continue
            try:
                if mask & selectors.EVENT_READ:
                    try:
                        data = conn.recv(1 << 20)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        # BUG: out[conn] may still hold unsent echo; it is
                        # discarded here instead of being sent first.
                        close(conn)
                        continue
                    if data:
                        out[conn] += data
                flush(conn)
                update(conn)
            except OSError:  # reset by peer, broken pipe
                close(conn)


if __name__ == "__main__":
    main()
