"""Single-threaded event-loop echo server on selectors.DefaultSelector.

What it gets right: non-blocking sockets throughout; accept() drained in a
loop until BlockingIOError so a burst of clients is taken in one wake-up;
a per-connection output buffer, so short writes lose nothing; and
backpressure: while a connection's unsent output exceeds CAP the server
stops watching it for READ and watches only for WRITE, so a client that
does not read can neither make the loop spin nor grow memory without
bound.  Reading resumes once the buffer drains.  After EOF (the client's
shutdown(SHUT_WR)) the rest of the buffer is still sent, then the socket
is closed with a FIN.  A reset ends only its own connection.  SIGTERM
stops the loop: exit status 0."""

import selectors

from serverargs import exit_on_stop_signals, log, parse_args, tcp_listener

CAP = 256 * 1024  # stop reading a connection with more unsent output
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Conn:
    def __init__(self, sock):
        self.sock, self.out, self.eof = sock, bytearray(), False


def main():
    host, port, family = parse_args()
    # Handlers before listen(): a client that sees the port open may signal.
    exit_on_stop_signals()
    listener = tcp_listener(host, port, family, backlog=1024)
    listener.setblocking(False)

    sel = selectors.DefaultSelector()
    sel.register(listener, READ)

    def close(conn):
        sel.unregister(conn.sock)
        conn.sock.close()

    def service(conn, events):
        try:
            if events & READ:
                data = conn.sock.recv(65536)
                conn.out += data
                conn.eof = not data
            if conn.out:
                del conn.out[:conn.sock.send(conn.out)]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # reset by the client: only this connection ends
            return close(conn)
        want = (0 if conn.eof or len(conn.out) > CAP else READ) \
            | (WRITE if conn.out else 0)
        if not want:  # EOF and all echoed
            close(conn)
        elif want != sel.get_key(conn.sock).events:
            sel.modify(conn.sock, want, conn)

    log(f"listening on {host} port {port} (tcp)")
    while True:
        for key, events in sel.select():
            if key.data is not None:
                service(key.data, events)
                continue
            while True:  # accept every pending connection
                try:
                    sock, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:  # e.g. EMFILE: retry on the next wake-up
                    log(f"accept: {e}")
                    break
                sock.setblocking(False)
                sel.register(sock, READ, Conn(sock))


if __name__ == "__main__":
    main()
