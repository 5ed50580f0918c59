"""Hostile target: accepts connections but never answers (it never consumes a byte).

An echo check against it waits for its whole idle timeout, which gives the
interrupt self-tests a run that is busy inside a check.  When the
environment has SELFTEST_ACCEPTED_FILE, the first connection that carries
data (a check's client, not the launcher's readiness probe, which sends
nothing) creates that file, so a self-test can poll for "a check is under way".
"""

import os
import select
import socket

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; never answering")
marker = os.environ.get("SELFTEST_ACCEPTED_FILE")
held = []
while True:
    conn, _ = sock.accept()
    held.append(conn)
    if not marker or os.path.exists(marker) or not select.select([conn], [], [], 2.0)[0]:
        continue
    try:
        has_data = conn.recv(1, socket.MSG_PEEK)  # left unread; b"" is the probe's EOF
    except OSError:
        continue
    if has_data:
        with open(marker + ".tmp", "w") as fh:
            fh.write(f"{os.getpid()}\n")
        os.replace(marker + ".tmp", marker)
