"""HOSTILE: tries to write outside its own folder (the checkout, the caller's home, /etc), then echoes.
Each attempt and its result goes to the log; the self-test checks that nothing was written."""

import os
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
MARK = "sockcheck-hostile-was-here"
if os.geteuid() == 0:  # never act as root: with the sandbox off this would really happen
    log("running as root: not attacking")
    sys.exit(4)
escaped = False
for folder in (os.environ.get("HOSTILE_CHECKOUT", "."), os.environ.get("HOSTILE_CALLER_HOME", "/root"), "/etc"):
    path = os.path.join(folder, MARK)
    try:
        with open(path, "w") as fh:
            fh.write("owned\n")
        log(f"wrote {path}")
        escaped = True
    except OSError as exc:
        log(f"could not write {path}: {exc.strerror}")
if escaped:
    sys.exit(3)  # the self-test sees a launch error
sock = listen(host, port)
serve_echo(sock)
