"""HOSTILE: allocates memory without end when a client connects, and never answers it.
Its memory limit must stop it: the case ends with the limit named, the run goes on."""

import os

from _serve import args, listen, log

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off nothing would bound it
    raise SystemExit("running as root: not attacking")
sock = listen(host, port)
log("listening; every client makes me allocate without end")
conn, _ = sock.accept()
hoard = []
while True:
    hoard.append(bytearray(16 << 20))
