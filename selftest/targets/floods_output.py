"""Hostile target: writes SELFTEST_FLOOD_MIB MiB (default 1024) to stdout and stderr, then exits with status 1.

It writes 1 MiB blocks of short numbered lines, alternating between stdout
and stderr, as fast as the pipe takes them, and never listens.  The launcher
drains both into a bounded in-memory log: the run must neither block on a
full pipe nor grow memory or disk with the flood, and the launch error must
still quote the last lines ("flood done: ...").
"""

import os
import sys

from _serve import args, log

args()
mib = int(os.environ.get("SELFTEST_FLOOD_MIB", "1024"))
line = b"flood line %08d " + b"x" * 43 + b"\n"  # 64 bytes
lines_per_block = (1 << 20) // 64
written = 0
for block in range(mib):
    first = block * lines_per_block
    data = b"".join(line % n for n in range(first, first + lines_per_block))
    fd = 1 if block % 2 == 0 else 2
    view = memoryview(data)
    while view:  # os.write may be partial on a pipe
        view = view[os.write(fd, view):]
    written += len(data)
log(f"flood done: {written} bytes in {mib} blocks of 1 MiB")
sys.exit(1)
