"""Hostile target: a correct TCP echo server that forks a child which escapes with setsid().

The child leaves the target's process group and session and sleeps forever,
so signalling the group alone misses it; the launcher must still find it (by
its launch token, or as an orphan re-parented to the subreaper) and kill it.
"""

import os
import time

from _serve import args, listen, log, serve_echo

host, port = args()
pid = os.fork()
if pid == 0:
    os.setsid()  # it keeps the log pipe open, as a careless daemon would
    while True:
        time.sleep(3600)
sock = listen(host, port)
log(f"listening on {host} port {port}; forked escaped child {pid}")
serve_echo(sock)
