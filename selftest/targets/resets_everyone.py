"""Listens, then resets every connection before answering (as a server that cannot resolve a name
it needs does): one finding, not a violation of every rule."""

import socket
import struct

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
log("resetting every client")
while True:
    conn, _ = sock.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
