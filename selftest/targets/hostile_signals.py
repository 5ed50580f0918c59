"""HOSTILE: sends SIGKILL to every process it can (kill(-1)), to its parent and to every pytest
process it finds in /proc, then echoes.  The self-test checks that the run goes on unharmed."""

import os
import signal
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off kill(-1) would end the machine's processes
    log("running as root: not attacking")
    sys.exit(4)
targets = [os.getppid()]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"pytest" in fh.read():
                targets.append(int(pid))
    except OSError:
        continue
try:
    os.kill(-1, signal.SIGKILL)  # every process it may signal: only its own uid's
except OSError as exc:
    log(f"kill(-1): {exc.strerror}")
for pid in targets:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as exc:
        log(f"could not kill {pid}: {exc.strerror}")
    else:
        log(f"killed {pid}")
        sys.exit(3)
sock = listen(host, port)
serve_echo(sock)
