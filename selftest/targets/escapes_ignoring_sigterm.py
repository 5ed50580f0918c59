"""Hostile target: a correct echo server whose children ignore SIGTERM and escape into sessions of their own.

At start it forks two children that both call setsid() and ignore SIGTERM:
one stays a direct child and keeps the log pipe open; the other daemonizes
properly (forks again, so its parent exits and it is re-parented to the
subreaper, and closes its stdio), so only its launch token still ties it to
the target.  tcp.process.shutdown must fail; teardown must SIGKILL both.
"""

import os
import signal
import time

from _serve import args, listen, log, serve_echo


def stubborn_forever(close_stdio: bool) -> None:
    """Become a session leader that ignores SIGTERM and sleeps forever (optionally off the log pipe)."""
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if close_stdio:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    while True:
        time.sleep(3600)


host, port = args()
if os.fork() == 0:
    stubborn_forever(close_stdio=False)
if os.fork() == 0:
    if os.fork() == 0:  # the daemon proper: its parent exits below
        stubborn_forever(close_stdio=True)
    os._exit(0)
os.wait()  # reap the intermediate child, as a daemonizing parent does
sock = listen(host, port)
log(f"listening on {host} port {port}; two children ignore SIGTERM in sessions of their own")
serve_echo(sock)
