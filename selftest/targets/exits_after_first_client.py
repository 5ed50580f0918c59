"""Hostile target: echoes its first client until that client goes away, then exits with status 0.

Checks that need a second connection (tcp.close.peer-reset) must fail with a
one-line reason (connection refused or reset, the server gone), not hang.
"""

import sys

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; serving one client only")
conn, _ = sock.accept()
with conn:
    try:
        while data := conn.recv(65536):
            conn.sendall(data)
    except OSError as exc:  # the client reset the connection: just as final
        log(f"first client ended with {exc.__class__.__name__}")
log("first client gone; exiting")
sys.exit(0)
