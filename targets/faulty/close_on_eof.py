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
comes back short, then EOF.  The server writes before it reads in each
round, at most 64 KiB per round (a fairness choice, so that one client
cannot hold the loop), and reads up to 1 MiB per round without pausing:
so a small echo (64 KiB) is always written before the EOF is read, while
megabytes of a large one are always still in its own buffer when the FIN
arrives right after the data.

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
WRITE_SLICE = 64 * 1024  # at most this much sent per round


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

    def send_slice(conn):
        buf = out[conn]
        try:
            del buf[:conn.send(buf[:WRITE_SLICE])]
        except BlockingIOError:
            pass

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
                # Write first: what was read in earlier rounds goes out before a FIN is seen.
                if mask & selectors.EVENT_WRITE and out[conn]:
                    send_slice(conn)
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
                update(conn)
            except OSError:  # reset by peer, broken pipe
                close(conn)


if __name__ == "__main__":
    main()
