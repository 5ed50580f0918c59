"""Thread-per-connection echo server built on socketserver.ThreadingTCPServer.

What it gets right: SO_REUSEADDR, a deep accept backlog so a burst of
clients is not refused, daemon threads that neither delay exit nor are
joined on close, and an echo loop of blocking recv/sendall.  sendall loops
over short writes, and a client that stops reading simply blocks its own
thread in sendall: backpressure that costs no CPU and buffers nothing.
On EOF (the client's shutdown(SHUT_WR)) everything has already been echoed
and socketserver shuts down and closes the socket: a FIN, never an RST.
SIGTERM raises SystemExit out of serve_forever(): exit status 0."""

import socketserver

from serverargs import echo_blocking, exit_on_stop_signals, log, parse_args


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        echo_blocking(self.request)  # until EOF, or a reset


class EchoServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False  # exit at once, do not join handler threads
    request_queue_size = 1024


def main():
    host, port, family = parse_args()
    # Handlers before listen(): a client that sees the port open may signal.
    exit_on_stop_signals()
    EchoServer.address_family = family
    try:
        server = EchoServer((host, port), EchoHandler)
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    log(f"listening on {host} port {port} (tcp)")
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
