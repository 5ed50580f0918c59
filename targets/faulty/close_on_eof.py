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
The modest fixed send buffer and the 1 MiB reads (both legitimate choices)
make sure our own buffer is non-empty at that moment on every run, instead
of only when the client happens to read slowly.

Everything else is meant to be correct: non-blocking sockets, selectors,
per-connection output buffers, backpressure, resets, SIGTERM -> exit 0.
"""
import selectors
import signal
import socket
import sys

HIGH_WATER = 256 * 1024  # stop reading while this much is waiting to go out
SNDBUF = 128 * 1024  # fixed kernel send buffer (Linux doubles it)


def main():
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(512)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    out = {}  # socket -> bytearray still to send

    def close(conn):
        sel.unregister(conn)
        del out[conn]
        conn.close()

    def update(conn):
        events = selectors.EVENT_WRITE if out[conn] else 0
        if len(out[conn]) <= HIGH_WATER:
            events |= selectors.EVENT_READ
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
