"""HOSTILE: looks through its environment for the runner's variables (tokens, cloud keys) and logs
every one it finds, then refuses to serve (exit 3); with only its own environment it echoes."""

import os
import sys

from _serve import args, listen, log, serve_echo

OWN = {"PATH", "LANG", "HOME", "TMPDIR", "SOCKCHECK_TARGET_TOKEN", "SOCKCHECK_RUN_ID", "HOSTILE_OWN"}

host, port = args()
leaked = sorted(set(os.environ) - OWN)
if leaked:
    log(f"the runner's variables reached me: {', '.join(leaked)}")
    sys.exit(3)
sock = listen(host, port)
serve_echo(sock)
