"""Plumbing shared by bench/run and bench/soak: the venv, process flags, a CPU hog, machine facts, tables.

Nothing here is imported by the harness or the suites; the scripts in bench/
drive the suite from the outside, as a user or CI would.
"""

from __future__ import annotations

import ctypes
import datetime
import hashlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
PYTEST = VENV / "bin" / "pytest"
REPORTS = ROOT / "reports"
RUN_VARIABLE = "SOCKCHECK_RUN_ID"
TOKEN_VARIABLE = "SOCKCHECK_TARGET_TOKEN"

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def use_the_venv() -> None:
    """Re-exec the calling script under .venv/bin/python unless it already runs there.

    The scripts are executable (``#!/usr/bin/env python3``) and must work from
    any shell, but they import psutil and the harness, which live in the venv.
    """
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not VENV_PYTHON.exists():
        sys.exit(f"{VENV_PYTHON} is missing: run `make build` first")
    script = Path(sys.argv[0]).resolve()
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(script), *sys.argv[1:]])


def become_subreaper() -> bool:
    """Orphans of the runs we start are re-parented to us, so leftovers and zombies stay visible."""
    return _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when we die, so a crashed script never leaves its hog spinning."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class CpuHog:
    """One child process spinning in a loop: keeps one core busy while a run is measured.

    It is not pinned: a neighbour on a CI machine is not pinned either, and an
    unpinned spinner still takes one core's worth of CPU from the scheduler.
    """

    def __init__(self) -> None:
        """Not started yet: see start()."""
        self.proc: subprocess.Popen | None = None

    def start(self) -> "CpuHog":
        """Start spinning; the child dies with us (PR_SET_PDEATHSIG) even if we are killed."""
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        return self

    @property
    def pid(self) -> int | None:
        """The spinner's pid, None before start()."""
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        """Kill and reap the spinner."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()


def machine() -> dict:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mib": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git": git_state(),
    }


def git_state() -> dict:
    """The commit and whether the work tree had uncommitted changes (a measurement of what?)."""
    def git(*args: str) -> str:
        """git's stdout, "" when git is missing or fails."""
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "--short", "HEAD"), "modified": status.splitlines()}


def foreign_load(exclude: Iterable[int] = ()) -> dict:
    """The 1-minute load average and CPU-busy processes that are not ours, sampled over 0.5 s.

    Measurements on a shared machine are only as good as its quiet: this is
    recorded beside every figure so a noisy one can be recognised.
    """
    import psutil

    mine = {os.getpid(), *exclude}
    try:
        mine |= {p.pid for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        pass
    procs = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid in mine:
            continue
        try:
            proc.cpu_percent(None)
            procs.append(proc)
        except psutil.Error:
            pass
    time.sleep(0.5)
    busy = []
    for proc in procs:
        try:
            pct = proc.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 10:
            busy.append({"pid": proc.pid, "name": proc.info["name"], "cpu_percent": round(pct)})
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "foreign_busy": sorted(busy, key=lambda b: -b["cpu_percent"])}


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values (a phase that measured nothing)."""
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Plain aligned columns (numbers right-aligned), for the terminal and for pasting into a README."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        """One row: numbers right-aligned, text left-aligned."""
        out = []
        for i, cell in enumerate(cells):
            numeric = cell.replace(".", "", 1).replace("x", "", 1).replace("%", "").lstrip("-").isdigit()
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def write_report(path: Path, document: dict) -> None:
    """Write ``document`` as JSON atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)


def export_head(dest: Path, rev: str = "HEAD") -> str:
    """``git archive REV`` into ``dest``: a committed tree, whatever is being edited in the checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed")
    return commit


def build_tree(tree: Path, quiet: bool = False) -> None:
    """What ``make build`` does to a tree once the venv is there: the C targets, then its byte-compile
    step where its Makefile has one (with this venv, importing the tree's own harness)."""
    out = subprocess.DEVNULL if quiet else None
    for folder in ("targets/c", "targets/faulty"):
        subprocess.run(["make", "-s", "-C", str(tree / folder)], check=True, stdout=out)
    if re.search(r"^bytecode:", (tree / "Makefile").read_text(), re.MULTILINE):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(import_path(tree))}
        subprocess.run(["make", "-s", "-C", str(tree), "bytecode", f"VENV={VENV}"], env=env, check=True, stdout=out)


def import_path(tree: Path) -> list[str]:
    """What goes first on sys.path so that ``import sockcheck`` loads ``tree``'s harness.

    The venv's editable install maps ``sockcheck`` and its parts kept
    outside the package folder (``sockcheck.fixtures``, ``.suites``,
    ``.targets``) to the checkout, after sys.path.  Another tree (a
    snapshot, a worktree of an earlier commit) with a sockcheck/ folder gets
    links in it to its own fixtures/, suites/ and targets/; a tree from
    before that folder gets a folder of its own first on the path, holding a
    ``sockcheck`` link to its fixtures/.  A tree older than the package name
    imports ``fixtures`` from the tree itself.
    """
    tree = tree.resolve()
    if tree == ROOT.resolve() or not (tree / "fixtures").is_dir():
        return [str(tree)]
    shim = Path(tempfile.gettempdir()) / f"sockcheck-bench-import-{hashlib.sha256(str(tree).encode()).hexdigest()[:12]}"
    shim.mkdir(exist_ok=True)
    link = shim / "sockcheck"
    if (tree / "sockcheck" / "__init__.py").is_file():
        # pytest puts the tree's rootdir first on sys.path, so its sockcheck/ is the package: links
        # inside it to fixtures/, suites/ and targets/ keep the editable install's mapping out.
        for part in ("fixtures", "suites", "targets"):
            if not (tree / "sockcheck" / part).exists():
                (tree / "sockcheck" / part).symlink_to(Path("..") / part)
        return [str(tree)]
    if not link.is_symlink() or Path(os.readlink(link)) != tree / "fixtures":
        tmp = shim / f".sockcheck-{os.getpid()}"
        tmp.symlink_to(tree / "fixtures")
        tmp.replace(link)
    return [str(shim), str(tree)]


def pytest_env(run_id: str, tree: Path = ROOT) -> dict[str, str]:
    """Environment of a pytest child: a known run id (the harness stamps it on every target),
    bench/ on PYTHONPATH so ``-p`` can load the probe plugins kept here, out of the harness,
    and the tree under test before it (see import_path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.pop("PYTEST_ADDOPTS", None)
    env[RUN_VARIABLE] = run_id
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*import_path(tree), str(BENCH), env.get("PYTHONPATH", "")) if p)
    return env


def run_pytest(args: Sequence[str], *, run_id: str, log: Path, timeout: float, tree: Path = ROOT,
               preexec_fn=None, env: dict[str, str] | None = None) -> dict:
    """Run ``pytest ARGS`` from the checkout, output to ``log``; exit status, wall time and rusage.

    The rusage comes from wait4() on the pytest process: everything it and its
    descendants used once they were reaped (workers reap targets, the
    controller reaps workers).  A run past ``timeout`` gets SIGTERM, then SIGKILL.
    """
    env = env or pytest_env(run_id, tree)
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(PYTEST), *args], cwd=tree, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    timed_out = False
    deadline = began + timeout
    status, usage = 0, None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline and not timed_out:
                timed_out = True
                proc.send_signal(signal.SIGTERM)  # the suite turns SIGTERM into a clean interrupt
                deadline = time.monotonic() + 30
            elif timed_out and time.monotonic() > deadline:
                proc.kill()
                deadline = float("inf")
            time.sleep(0.05)
    except BaseException:
        # Interrupted ourselves: let the run tear its targets down before we go (and remove its folder).
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it is reaped
    return {
        "exit": proc.returncode,
        "wall": round(time.monotonic() - began, 2),
        "timed_out": timed_out,
        "cpu_user": round(usage.ru_utime, 2),
        "cpu_system": round(usage.ru_stime, 2),
        "pid": proc.pid,
    }
