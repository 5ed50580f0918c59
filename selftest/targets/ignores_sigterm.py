"""Hostile target: a correct TCP echo server that ignores SIGTERM.

It passes the echo checks; teardown must escalate to SIGKILL after the grace
period, so no process of it is left.
"""

import signal

from _serve import args, listen, log, serve_echo

signal.signal(signal.SIGTERM, signal.SIG_IGN)
host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; SIGTERM is ignored")
serve_echo(sock)
