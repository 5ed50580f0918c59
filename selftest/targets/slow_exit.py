"""Hostile target: a correct TCP echo server that, on SIGTERM, takes 200 ms to clean up and exits with status 7.

Its exit status must survive teardown: close() must not reap the process
behind subprocess.Popen's back (which makes Popen report status 0).
"""

import os
import signal
import time

from _serve import args, listen, log, serve_echo


def slow_exit(signum, frame):
    time.sleep(0.2)
    os._exit(7)


signal.signal(signal.SIGTERM, slow_exit)
host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; SIGTERM exits with status 7 after 200 ms")
serve_echo(sock)
