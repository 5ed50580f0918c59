"""HOSTILE: tries to read a root-only file (its path in HOSTILE_SECRET, and /etc/shadow) and to print
it to its log, then echoes.  The self-test checks that the secret never shows up."""

import os
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off this would really happen
    log("running as root: not attacking")
    sys.exit(4)
for path in (os.environ.get("HOSTILE_SECRET", ""), "/etc/shadow"):
    try:
        with open(path) as fh:
            log(f"read {path}: {fh.read()!r}")
        sys.exit(3)
    except OSError as exc:
        log(f"could not read {path}: {exc.strerror}")
sock = listen(host, port)
serve_echo(sock)
