"""pytest plugin loaded by bench/run (``-p cpu_probe``): CPU of the targets versus the suite's own.

Just before each test's teardown, while the target still runs, it reads the
target's process tree CPU time (user + system, including children the
target has reaped) and the launch-to-ready time the launcher measured;
after the teardown, the CPU of the case's capture process (the suite's own
work, done in a process of its own).  At the end each pytest process
(controller, each worker) writes its own RUSAGE_SELF and those sums to
$SOCKCHECK_BENCH_CPU_DIR.  bench/run subtracts
them from the whole run's rusage.  Kept out of the harness: only the
benchmark asks.

Not counted as target CPU: what a target spends after the SIGTERM of its
teardown, and earlier launches of a target a check restarts (tcp.time-wait.rebind);
both are small and land in "other".
"""

from __future__ import annotations

import json
import os
import resource

import pytest

from sockcheck.launch import proctree

CPU_DIR_VARIABLE = "SOCKCHECK_BENCH_CPU_DIR"
_totals = {"target_cpu": 0.0, "capture_cpu": 0.0, "launches": 0, "ready_seconds": {}}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    """Add the target's CPU and readiness time while it still runs, then let teardown stop it."""
    funcargs = getattr(item, "funcargs", None) or {}
    running = funcargs.get("target")
    capture = funcargs.get("wire")  # the case's Capture (None where capture is unavailable)
    if running is not None and getattr(running, "process", None) is not None:
        _totals["target_cpu"] += proctree.cpu_seconds(running.processes())
        _totals["launches"] += running.launches
        if running.ready_seconds is not None:
            _totals["ready_seconds"].setdefault(running.spec.name, []).append(round(running.ready_seconds, 5))
    try:
        return (yield)
    finally:
        _totals["capture_cpu"] += getattr(capture, "cpu_seconds", 0.0)  # known once it is stopped


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Write this process's own CPU and the targets' sums for bench/run."""
    folder = os.environ.get(CPU_DIR_VARIABLE)
    if not folder:
        return
    own = resource.getrusage(resource.RUSAGE_SELF)
    record = {"pid": os.getpid(), "worker": os.environ.get("PYTEST_XDIST_WORKER", "controller-or-single"),
              "self_cpu": own.ru_utime + own.ru_stime, **_totals}
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as fh:
        json.dump(record, fh)
