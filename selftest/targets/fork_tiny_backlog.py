"""A correct fork-per-connection echo server with a listen backlog of 2 (busybox nc's): it reaps every
child with a waitpid() loop.  tcp.process.zombies used to fail it for its backlog, by connecting
32 clients at once."""

import os
import signal
import socket

from _serve import args, log


def reap(_signo, _frame):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


host, port = args()
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, port))
sock.listen(2)
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
log(f"listening on {host}:{port}, backlog 2")
while True:
    try:
        conn, _ = sock.accept()
    except InterruptedError:
        continue
    if os.fork() == 0:
        sock.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while data := conn.recv(65536):
            conn.sendall(data)
        os._exit(0)
    conn.close()
