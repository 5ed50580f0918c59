"""Hostile target: listens (connections complete in the backlog) but never accepts or answers.

An echo check against it waits for its whole idle timeout, which gives the
interrupt self-tests a run that is busy inside a check.
"""

import time

from _serve import args, listen, log

host, port = args()
sock = listen(host, port)
log(f"listening on {host} port {port}; never answering")
while True:
    time.sleep(3600)
