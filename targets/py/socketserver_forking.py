"""Process-per-connection echo server built on socketserver.ForkingTCPServer.

What it gets right beyond the stock class: SO_REUSEADDR and a deep accept
backlog; max_children raised from 40 (where the stock class blocks in
waitpid and stops accepting) so hundreds of simultaneous clients are
served; prompt reaping, because serve_forever() reaps exited children on
every wake-up and poll_interval=0.1 bounds a zombie's life to 0.1 s.
Reaping stays in serve_forever() rather than in a SIGCHLD handler on
purpose: a pid is only freed by the reap, so every pid in active_children
is still ours when SIGTERM kills them.

Signals and fork() need care.  The SIGTERM handler only sets a flag, which
serve_forever() acts on within poll_interval: no thread exists to be forked
mid-flight and nothing is interrupted between fork() and the recording of
the child's pid.  fork() runs with SIGTERM blocked, so a child never runs
the parent's handler; it restores the default action, then unblocks, and
drops its copy of the listening socket.  On SIGTERM the parent stops
accepting, sends SIGTERM to every child, waits for all of them
(server_close with block_on_close) and exits with status 0, so no child
outlives it.  The echo loop is blocking recv/sendall, so a client that
stops reading blocks only its own process."""

import os
import signal
import socketserver

from serverargs import echo_blocking, log, parse_args

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        echo_blocking(self.request)  # until EOF, or a reset


class EchoServer(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    request_queue_size = 1024
    max_children = 1 << 20  # the stock 40 (or any small cap) blocks accept under load

    def collect_children(self, *, blocking=False):
        """Reap whichever children have exited: waitpid(-1) in a loop.

        The stock version calls waitpid() once per known child on every
        loop iteration, which costs O(children) per accepted connection.
        """
        while self.active_children:
            try:
                pid, _ = os.waitpid(-1, 0 if blocking else os.WNOHANG)
            except ChildProcessError:
                self.active_children.clear()
                break
            if pid == 0:
                break
            self.active_children.discard(pid)
    stopping = False  # set by the SIGTERM handler

    def process_request(self, request, client_address):
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:  # the child never returns from here
            super().process_request(request, client_address)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def service_actions(self):  # every wake-up, at least every poll_interval
        super().service_actions()
        if self.stopping:
            raise SystemExit(0)


def main():
    host, port, family = parse_args()
    EchoServer.address_family = family
    server = EchoServer((host, port), EchoHandler, bind_and_activate=False)

    def stop(signum, frame):
        server.stopping = True

    def in_child():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        server.socket.close()

    # Handlers before listen(): a client that sees the port open may signal.
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
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
