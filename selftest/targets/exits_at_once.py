"""Hostile target: prints "fatal: config missing" to stderr and exits with status 3 at once.

The launch error must carry the exit status and quote that log line.
"""

import sys

print("fatal: config missing", file=sys.stderr, flush=True)
sys.exit(3)
