"""FAULTY: a line echo server that believes one recv() is one message.

Bug: every recv(4096) result is treated as exactly one line, and the
server answers each line newline-terminated: it sends the chunk back with
b"\\n" appended.
Why it is wrong: TCP is a byte stream with no message boundaries.  One
recv() may return two lines sent back to back (coalesced into one segment,
or simply both waiting in the buffer) or half of one line (the other half
arrives later).  Framing must be done by the application: buffer the bytes
and split on b"\\n" yourself.
Exposed by: every echo check, from tcp.echo.roundtrip and
tcp.stream.coalesced on: the stream that comes back has an extra b"\\n" at
every place where a recv() happened to end, which no client can predict.
(Appending whatever the content makes the bug independent of the payload,
so the verdict is the same for every seed.)

Everything else is meant to be correct: a thread per connection, complete
writes (sendall), half-close, resets, SIGTERM -> exit 0.
"""
import os
import sys
import time

# The plumbing shared with the reference servers lives in ../py.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             os.pardir, "py"))
from serverargs import (  # noqa: E402
    exit_on_stop_signals, parse_args, start_thread, tcp_listener)


def serve(conn):
    with conn:
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return  # client EOF: all echoed, close sends FIN
                # BUG: assumes the chunk is exactly one line of the protocol.
                conn.sendall(chunk + b"\n")
        except OSError:  # reset by peer, broken pipe
            pass


def main():
    host, port, family = parse_args()
    exit_on_stop_signals()  # SystemExit(0)

    lsock = tcp_listener(host, port, family)  # blocking accept()
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:  # e.g. ECONNABORTED, EMFILE: back off briefly
            time.sleep(0.05)
            continue
        start_thread(serve, conn)


if __name__ == "__main__":
    main()
