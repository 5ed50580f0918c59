"""FAULTY: a line echo server that believes one recv() is one message.

Bug: every recv(4096) result is treated as exactly one line, and the
server answers each line newline-terminated: it sends the chunk back with
b"\\n" appended.
Why it is wrong: TCP is a byte stream with no message boundaries.  One
recv() may return two lines sent back to back (coalesced into one segment,
or simply both waiting in the buffer) or half of one line (the other half
arrives later).  Framing must be done by the application: buffer the bytes
and split on b"\\n" yourself.
Exposed by: any echo: the stream that comes back has an extra b"\\n" at
every place where a recv() happened to end, which no client can predict.
(Appending whatever the content makes the bug independent of the payload,
so the verdict is the same for every seed.)

Everything else is meant to be correct: a thread per connection, complete
writes (sendall), half-close, resets, SIGTERM -> exit 0.
"""
import signal
import socket
import sys
import threading
import time


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
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(512)
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:  # e.g. ECONNABORTED, EMFILE: back off briefly
            time.sleep(0.05)
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
