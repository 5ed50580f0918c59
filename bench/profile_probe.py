"""pytest plugin loaded by bench/run --profile (``-p profile_probe``): where each pytest process's CPU goes.

Each pytest process (controller, each worker) runs cProfile on its main
thread, timed by that thread's own CPU clock (``time.thread_time``), so
time spent blocked in a socket read, a process wait or a sleep counts for
nothing and the figures add up to the CPU the checks themselves cost.  At
the end each process writes its stats to $SOCKCHECK_BENCH_PROFILE_DIR;
bench/run merges them.  A sampling profiler (py-spy) was tried first: in
this setting it counted threads blocked in read() as busy, so its top
entries were the xdist pipe reader and the target log readers.

cProfile's own overhead makes Python-heavy functions look dearer than they
are (roughly 1.5-2x); the ranking, not the absolute seconds, is the point.
Kept out of the harness: only the benchmark asks.
"""

from __future__ import annotations

import cProfile
import os
import time

import pytest

PROFILE_DIR_VARIABLE = "SOCKCHECK_BENCH_PROFILE_DIR"
_profiler: cProfile.Profile | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _profiler
    if os.environ.get(PROFILE_DIR_VARIABLE):
        _profiler = cProfile.Profile(time.thread_time)
        _profiler.enable()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _profiler is None:
        return
    _profiler.disable()
    role = os.environ.get("PYTEST_XDIST_WORKER", "controller-or-single")
    _profiler.dump_stats(os.path.join(os.environ[PROFILE_DIR_VARIABLE], f"{role}-{os.getpid()}.prof"))
