"""Hostile target: a correct echo server, but on PORT + 1 instead of the port it was given.

The launcher must give up after ready_timeout with "not serving on HOST:PORT"
and quote the log line that says where it listens instead.
"""

from _serve import args, listen, log, serve_echo

host, port = args()
sock = listen(host, port + 1)
log(f"listening on {host} port {port + 1} (asked for {port})")
serve_echo(sock)
