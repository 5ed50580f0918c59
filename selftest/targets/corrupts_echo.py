"""Faulty target: echoes every byte with its lowest bit flipped (a wrong echo, always detectable).

A check must report it as a violation (failed), or as xfailed when declared.
"""

from _serve import args, listen, log, serve_echo

host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; flipping bit 0 of every byte")
serve_echo(sock, lambda data: bytes(b ^ 1 for b in data))
