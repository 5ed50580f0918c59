"""Hostile target: starts, prints one line, and sleeps forever without ever listening.

The launcher must give up after ready_timeout with a "not serving" error and
still kill it at teardown.  With SELFTEST_SIGTERM_FILE in its environment it
also ignores SIGTERM, but records each one it gets in that file, so a
self-test can poll for "teardown has begun"; FILE.armed appears once the
handler is installed.
"""

import os
import signal
import time

from _serve import args, log

args()
record = os.environ.get("SELFTEST_SIGTERM_FILE")
if record:
    def note_sigterm(signum, frame):
        with open(record, "a") as fh:
            fh.write("SIGTERM\n")

    signal.signal(signal.SIGTERM, note_sigterm)
    open(record + ".armed", "w").close()  # the handler is in place: a SIGTERM from now on is recorded
log("sleeping instead of listening")
while True:
    time.sleep(3600)
