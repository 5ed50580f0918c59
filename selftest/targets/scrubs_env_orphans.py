"""A fork-per-connection echo server that runs with an empty environment (as inetd does: the launch
variable does not reach its children) and on SIGTERM exits without stopping its children, which go
on serving.  tcp.process.shutdown used to pass it: the orphans carried no launch variable."""

import os
import signal
import socket
import sys

from _serve import args, log

SCRUBBED = "--scrubbed"
if SCRUBBED not in sys.argv:  # start again with nothing inherited
    os.execve(sys.executable, [sys.executable, *sys.argv, SCRUBBED], {})

host, port = args()
sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, port))
sock.listen(128)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps: no zombies
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # the bug: the children are left running
log(f"listening on {host}:{port} with an empty environment")
while True:
    conn, _ = sock.accept()
    if os.fork() == 0:
        sock.close()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # orphans outlive a SIGTERM to the group as well
        while data := conn.recv(65536):
            conn.sendall(data)
        os._exit(0)
    conn.close()
