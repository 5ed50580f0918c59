"""Process-per-connection echo server built on socketserver.ForkingTCPServer.

What it gets right beyond the stock class: SO_REUSEADDR and a deep accept
backlog; max_children raised from 40 (where the stock class blocks in
waitpid and stops accepting) so hundreds of simultaneous clients are
served; prompt reaping, because serve_forever() reaps exited children on
every wake-up and poll_interval=0.1 bounds a zombie's life to 0.1 s.
Reaping stays in serve_forever() rather than in a SIGCHLD handler on
purpose: a pid is only freed by the reap, so every pid in active_children
is still ours when SIGTERM kills them.  Each child restores the default
SIGTERM action and drops its copy of the listening socket.

On SIGTERM the parent stops accepting, sends SIGTERM to every child, waits
for all of them (server_close with block_on_close) and exits with status 0,
so no child outlives it.  The echo loop is blocking recv/sendall, so a
client that stops reading blocks only its own process."""

import os
import signal
import socketserver
import threading

from serverargs import log, parse_args


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:  # reset by the client: only this connection ends
            pass


class EchoServer(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    request_queue_size = 1024
    max_children = 1000


def main():
    host, port, family = parse_args()
    EchoServer.address_family = family
    server = EchoServer((host, port), EchoHandler, bind_and_activate=False)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return (at once if it has
        # not started yet), so it must be called from another thread.
        threading.Thread(target=server.shutdown).start()

    def in_child():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        server.socket.close()

    # Handlers before listen(): a client that sees the port open may signal.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    os.register_at_fork(after_in_child=in_child)
    try:
        server.server_bind()
        server.server_activate()
    except OSError as e:
        log(f"bind {host} port {port}: {e}")
        raise SystemExit(1)
    log(f"listening on {host} port {port} (tcp)")
    with server:  # on exit server_close() waits for every child
        try:
            server.serve_forever(poll_interval=0.1)
        finally:
            for pid in server.active_children or ():
                os.kill(pid, signal.SIGTERM)  # unreaped, so still ours


if __name__ == "__main__":
    main()
