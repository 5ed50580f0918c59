"""HOSTILE: leaves files, a FIFO and a symlink to /root/.bashrc in /tmp, /var/tmp and /dev/shm;
looks at other users' processes in /proc and at a unix socket of the machine (HOSTILE_SOCKET,
"socket=PATH").  If it can see pid 1's command line or connect to that socket, it says so and
refuses to serve (exit 3); else it echoes."""

import os
import socket
import sys

from _serve import args, listen, log, serve_echo

MARK = os.environ.get("HOSTILE_MARK", "sockcheck-hostile-leftover")
host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off this would really happen
    log("running as root: not attacking")
    sys.exit(4)
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, MARK + ".file"), "w") as fh:
            fh.write("x" * 4096)
        os.mkfifo(os.path.join(folder, MARK + ".fifo"))
        os.symlink("/root/.bashrc", os.path.join(folder, MARK + ".link"))
    except OSError as exc:
        log(f"{folder}: {exc.strerror}")
seen = []
try:
    with open("/proc/1/cmdline", "rb") as fh:
        command = fh.read().replace(bytes(1), b" ").decode(errors="replace")
    seen.append(f"pid 1 is {command!r}")
except OSError:
    pass
path = os.environ.get("HOSTILE_SOCKET", "").removeprefix("socket=")  # not a path: nothing keeps its folder
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
    probe.settimeout(1)
    try:
        probe.connect(path)
        seen.append(f"connected to {path}")
    except OSError:
        pass
if seen:
    log("saw the machine: " + "; ".join(seen))
    sys.exit(3)
sock = listen(host, port)
serve_echo(sock)
