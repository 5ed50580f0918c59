"""The bundled Python servers' shared plumbing (targets/py/serverargs.py).

A thread-per-connection server stops on SIGTERM only if the signal reaches its
main thread, asleep in accept(): the connection threads must block it."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "targets", "py"))
import serverargs  # noqa: E402

STOPS = {signal.SIGTERM, signal.SIGINT}


def blocked_in_thread() -> set[int]:
    """The signals blocked in the calling thread, from the kernel's own view."""
    with open("/proc/thread-self/status") as status:
        mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigBlk:"))
    return {signum for signum in STOPS if mask & (1 << (signum - 1))}


def test_connection_threads_leave_stop_signals_to_the_main_thread():
    seen = []
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    serverargs.start_thread(lambda: seen.append(blocked_in_thread())).join(5)
    assert seen == [STOPS], "a connection's thread may take SIGTERM, leaving accept() asleep"
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before, "the main thread's mask changed"
