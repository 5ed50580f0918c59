"""Hostile target: starts, prints one line, and sleeps forever without ever listening.

The launcher must give up after ready_timeout with a "not serving" error and
still kill it at teardown.
"""

import time

from _serve import args, log

args()
log("sleeping instead of listening")
while True:
    time.sleep(3600)
