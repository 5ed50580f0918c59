"""Hostile target: accepts connections and holds them open, but never reads a byte.

Its sockets have a small receive buffer, so a client writing a large stream
(tcp.echo.large: 8 MiB) is stalled by flow control within a few hundred
kilobytes.  The check must end on its idle timeout with a one-line reason,
never block in send().
"""

import socket

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by accepted sockets
log(f"listening on {host} port {port}; accepting, never reading")
held = []
while True:
    conn, _ = sock.accept()
    held.append(conn)
