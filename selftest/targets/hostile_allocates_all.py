"""HOSTILE: two children each touch HOSTILE_CHILD_MIB MiB (within any per-process address space
limit), together more than the launch's total memory; the server exits 1 if a child was killed,
else echoes."""

import os
import signal
import sys

from _serve import args, listen, log, serve_echo

host, port = args()
size = int(os.environ.get("HOSTILE_CHILD_MIB", "200")) << 20
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        block = bytearray(size)
        for offset in range(0, size, 4096):  # touch every page: used memory, not reserved space
            block[offset] = 1
        os._exit(0)
    children.append(pid)
killed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == -signal.SIGKILL]
if killed:
    log(f"{len(killed)} of my children were killed")
    sys.exit(1)
log("both children touched their memory")
sock = listen(host, port)
serve_echo(sock)
