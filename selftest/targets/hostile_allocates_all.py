"""HOSTILE: two children each touch HOSTILE_CHILD_MIB MiB (within any per-process address space
limit), together more than the launch's total memory; the server exits 1 if a child was killed,
else echoes.

Each child holds its memory until both have touched theirs, so the two allocations overlap however
the children are scheduled (one finishing before the other starts would never exceed the total)."""

import os
import select
import signal
import sys
import time

from _serve import args, listen, log, serve_echo

host, port = args()
size = int(os.environ.get("HOSTILE_CHILD_MIB", "200")) << 20
ready_r, ready_w = os.pipe()
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        block = bytearray(size)
        for offset in range(0, size, 4096):  # touch every page: used memory, not reserved space
            block[offset] = 1
        os.write(ready_w, b"x")
        signal.pause()  # hold it until the parent ends this child
        os._exit(0)
    children.append(pid)
os.close(ready_w)
ready, alive, killed, deadline = 0, set(children), [], time.monotonic() + 60
while ready < len(children) and alive == set(children) and time.monotonic() < deadline:
    if select.select([ready_r], [], [], 0.05)[0]:
        ready += len(os.read(ready_r, 2))
    for pid in sorted(alive):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            alive.discard(pid)
            if os.waitstatus_to_exitcode(status) == -signal.SIGKILL:
                killed.append(pid)
for pid in alive:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
if killed:
    log(f"{len(killed)} of my children were killed")
    sys.exit(1)
log("both children touched their memory")
sock = listen(host, port)
serve_echo(sock)
