"""HOSTILE: writes one file without end into its TMPDIR when a client connects.
Its file size limit must stop it (SIGXFSZ); its private folder is removed afterwards."""

import os

from _serve import args, listen, log

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off nothing would bound it
    raise SystemExit("running as root: not attacking")
sock = listen(host, port)
log("listening; every client makes me write without end")
conn, _ = sock.accept()
block = b"x" * (1 << 20)
with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "sockcheck-hostile-fill"), "wb") as fh:
    while True:
        fh.write(block)
