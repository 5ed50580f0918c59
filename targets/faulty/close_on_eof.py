"""FAULTY: closes the connection as soon as the client's EOF is read.

Bug: when recv() returns b"" (the client did shutdown(SHUT_WR) or close),
the server closes the socket at once, throwing away whatever is still in
its user-space output buffer.
Why it is wrong: EOF from the client only ends the client->server
direction.  The server->client direction is still open and the client is
still waiting for the rest of its echo; the server must first send every
buffered byte and only then close (which sends its FIN).  Bytes already
handed to the kernel survive close(); bytes still in our own buffer do not.
Exposed by: tcp.half-close.large.  The server reads whenever data arrives,
whether or not it can send, so while a client writes without reading the
echo piles up in the server's buffer; the check's client makes that pile
big (a small receive window and MSS keep the kernel's share of the echo
small), then sends its FIN: the echo comes back short, then EOF.  A 64 KiB
echo fits in the kernel's buffers and is handed over before the EOF is
read, so tcp.half-close.eof-after-echo passes.

Everything else is meant to be correct: non-blocking sockets, selectors,
per-connection output buffers, writability asked for only while output
waits (no busy loop), resets, SIGTERM -> exit 0.
"""
import os
import selectors
import sys

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import (  # noqa: E402
    exit_on_stop_signals, parse_args, tcp_listener)


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()  # SystemExit(0)

    lsock = tcp_listener(host, port, family)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    outputs = {}  # socket -> bytearray of echo not yet taken by the kernel

    def close(conn):
        sel.unregister(conn)
        del outputs[conn]
        conn.close()

    def flush(conn):
        out = outputs[conn]
        try:
            del out[:conn.send(out)]
        except BlockingIOError:
            pass
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
        if sel.get_key(conn).events != events:
            sel.modify(conn, events)

    while True:
        for key, mask in sel.select():
            if key.fileobj is lsock:
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except OSError:  # BlockingIOError: none left (or EMFILE)
                        break
                    conn.setblocking(False)
                    outputs[conn] = bytearray()
                    sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            if conn not in outputs:
                continue
            try:
                if mask & selectors.EVENT_READ:
                    try:
                        data = conn.recv(1 << 20)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        # BUG: outputs[conn] may still hold unsent echo; it
                        # is discarded here instead of being sent first.
                        close(conn)
                        continue
                    if data:
                        outputs[conn] += data
                flush(conn)
            except OSError:  # reset by peer, broken pipe
                close(conn)


if __name__ == "__main__":
    main()
