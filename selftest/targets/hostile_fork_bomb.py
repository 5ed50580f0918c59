"""HOSTILE: a fork bomb beside a working echo: a child forks without end (every process forks again),
while the main process listens and echoes one client at a time.  Its process limit must contain it,
and teardown must end every process of it."""

import os

from _serve import args, listen, log

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off nothing would bound it
    raise SystemExit("running as root: not attacking")
sock = listen(host, port)
if os.fork() == 0:
    sock.close()
    while True:  # until teardown kills the lot
        try:
            os.fork()
        except OSError:
            pass
log("fork bomb started; echoing")
while True:  # one client at a time: a thread could not be started with the limit used up
    conn, _ = sock.accept()
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
