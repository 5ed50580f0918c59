"""A correct thread-per-connection TCP echo server (the control in self-tests)."""

from _serve import args, listen, log, serve_echo

host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}")
serve_echo(sock)
