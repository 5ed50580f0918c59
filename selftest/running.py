"""How the self-tests run sockcheck, and how they look for what a run left behind.

Running the suite from a self-test
----------------------------------
Every run that may launch a target is a fresh ``python -m pytest`` subprocess
(``Sockcheck.run``: ``pytester.runpytest_subprocess``; the interrupt tests use
plain ``subprocess.Popen`` of ``popen_command()``), started with

    --rootdir ROOT -c ROOT/pytest.ini ROOT/suites/tcp/test_echo.py ...

from the test's own temporary folder (pytester chdirs there).  This works
from any current folder because:

* ``-c`` makes ROOT/pytest.ini the config (its addopts, markers, timeouts),
  and the conftest.py next to it is loaded because it sits in an ancestor of
  the suite path given on the command line, within the config's folder;
  that conftest loads ``sockcheck.plugin`` after pytest put ROOT on sys.path;
* the suite path is absolute, and node ids stay relative to ``--rootdir``
  (``suites/tcp/test_echo.py::test_roundtrip[NAME]``);
* relative outputs (the default ``reports/conformance.json``) land in the
  temporary folder, never in the work tree; we always pass
  ``--conformance-json`` explicitly anyway.

Each run gets its own ``SOCKCHECK_RUN_ID`` in its environment: the harness
inherits it (launcher.RUN_ID) and stamps it on every target process, so
``leftovers(run_id)`` finds exactly that run's processes, also when two
self-test workers run at once.  Target commands also carry a per-test tag
as an extra argument (``script_command``) so a process that lost its
environment would still be found by its command line.

Runs that stop at a usage error (a bad manifest or option) go through
``Sockcheck.run_inprocess`` (``pytester.runpytest_inprocess``): the same plugin
code, about 20 times cheaper.  Never use it for a run that gets past option
parsing: the plugin's pytest_configure then changes the process it runs in
(network namespace, environment, signal handlers).

The self-test process itself loads the sockcheck plugin too (ROOT/conftest.py
is the rootdir conftest): it becomes a child subreaper, so an orphan of a
run that died is re-parented to us and shows up in ``zombie_children()``;
and each self-test worker runs in a network namespace of its own.  Every
sockcheck run started as root makes its own namespace again, so runs of two
self-test workers never share ports; without that permission they share the
loopback and rely on the port allocator's bind probe.

Use: the ``sockcheck`` fixture (selftest/conftest.py) gives a ``Sockcheck``;
``sockcheck.manifest(target_toml(...), ...)`` writes a manifest,
``sockcheck.run(*args)`` returns a ``Run`` (exit code, output, parsed JSON),
and ``sockcheck.leftovers()`` lists processes any of its runs left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTEST_INI = ROOT / "pytest.ini"
TCP_SUITE = ROOT / "suites" / "tcp" / "test_echo.py"
UDP_SUITE = ROOT / "suites" / "udp" / "test_echo.py"
BUNDLED_MANIFEST = ROOT / "targets" / "targets.toml"
C_DIR = ROOT / "targets" / "c"
C_BIN = C_DIR / "bin"
SELFTEST_TARGETS = Path(__file__).resolve().parent / "targets"

RUN_VARIABLE = "SOCKCHECK_RUN_ID"
TOKEN_VARIABLE = "SOCKCHECK_TARGET_TOKEN"
# Variables of the self-test's own xdist worker that must not leak into a run.
LEAKY_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
                   "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")


def new_run_id() -> str:
    return "selftest-" + uuid.uuid4().hex[:12]


def base_args(*suites: Path) -> list[str]:
    """The arguments that point a pytest subprocess at this checkout's config and suites."""
    return ["--rootdir", str(ROOT), "-c", str(PYTEST_INI), *(str(s) for s in (suites or (TCP_SUITE,)))]


def run_env(run_id: str) -> dict[str, str]:
    """os.environ for a sockcheck subprocess: our xdist variables removed, a known run id set."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    env[RUN_VARIABLE] = run_id
    return env


# `python -m pytest`, except that SIGINT raises KeyboardInterrupt even when this self-test
# inherited SIGINT as ignored (a background job of a non-interactive shell does): Python
# leaves an ignored SIGINT ignored, and the interrupt tests would then test nothing.
_PYTEST_WITH_SIGINT = ("import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
                       "sys.exit(pytest.console_main())")


def popen_command(*args: str, suites: Iterable[Path] = (TCP_SUITE,)) -> list[str]:
    """argv for ``subprocess.Popen`` of a sockcheck run (the interrupt tests)."""
    return [sys.executable, "-c", _PYTEST_WITH_SIGINT, *base_args(*suites), *args]


# -- manifests ------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def target_toml(name: str, command: list[str] | None = None, transport: str = "tcp", **keys: Any) -> str:
    """One ``[[target]]`` table; ``violates`` (a dict) is written as its own sub-table."""
    violates = keys.pop("violates", None)
    lines = ["[[target]]", f"name = {_toml_value(name)}"]
    if command is not None:
        lines.append(f"command = {_toml_value(command)}")
    lines.append(f"transport = {_toml_value(transport)}")
    lines += [f"{key} = {_toml_value(value)}" for key, value in keys.items()]
    if violates:
        lines.append("[target.violates]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in violates.items()]
    return "\n".join(lines) + "\n"


def write_manifest(path: Path, *tables: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("schema = 1\n\n" + "\n".join(tables))
    return path


def script_command(script: str, tag: str = "") -> list[str]:
    """A self-test target (selftest/targets/SCRIPT) run by the suite's interpreter."""
    argv = ["{python}", str(SELFTEST_TARGETS / script), "{port}", "{host}"]
    return argv + [tag] if tag else argv


def c_command(binary: str) -> list[str]:
    """A bundled C reference server, by absolute path (see ensure_c_targets)."""
    return [str(C_BIN / binary), "{port}", "{host}"]


def ensure_c_targets() -> None:
    """Build targets/c once, under a lock: two self-test workers must not run make at once."""
    lock_path = Path(os.environ.get("TMPDIR", "/tmp")) / "sockcheck-selftest-make.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "-C", str(C_DIR)], check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)


# -- results --------------------------------------------------------------------

@dataclass
class Run:
    """One finished sockcheck subprocess run."""

    ret: int
    stdout: str
    stderr: str
    duration: float
    json_path: Path
    run_id: str
    args: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.stderr

    @cached_property
    def doc(self) -> dict:
        assert self.json_path.exists(), f"no conformance JSON was written\n{self.text}"
        return json.loads(self.json_path.read_text())

    def cell(self, target: str, check: str) -> dict:
        return self.doc["targets"][target]["checks"][check]

    def outcome(self, target: str, check: str) -> str:
        return self.cell(target, check)["outcome"]

    def outcomes(self) -> dict[tuple[str, str], str]:
        return {(t, c): cell["outcome"] for t, entry in self.doc["targets"].items()
                for c, cell in entry["checks"].items()}

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:  # for assert messages: `assert run.ret == 0, str(run)`
        return (f"sockcheck {' '.join(self.args)}\nexit {self.ret} after {self.duration:.1f}s"
                f"\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")


class Sockcheck:
    """Runs sockcheck in a pytester subprocess; one per self-test (the ``sockcheck`` fixture)."""

    def __init__(self, pytester, monkeypatch, tmp_path: Path):
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.tmp_path = tmp_path
        self.tag = "sockcheck-selftest-tag-" + uuid.uuid4().hex[:12]
        self.run_ids: list[str] = []
        for name in LEAKY_VARIABLES:
            if name != "PYTEST_CURRENT_TEST":
                monkeypatch.delenv(name, raising=False)

    def manifest(self, *tables: str, name: str = "targets.toml") -> Path:
        return write_manifest(self.tmp_path / name, *tables)

    def script(self, script: str) -> list[str]:
        return script_command(script, self.tag)

    def run(self, *args: str, suites: Iterable[Path] = (TCP_SUITE,), timeout: float = 60.0) -> Run:
        """Run the suites with ``args``; the JSON goes to a fresh file in tmp_path."""
        run_id = new_run_id()
        self.run_ids.append(run_id)
        self.monkeypatch.setenv(RUN_VARIABLE, run_id)
        json_path = self.tmp_path / f"conformance-{len(self.run_ids)}.json"
        argv = [*base_args(*suites), "--conformance-json", str(json_path), *args]
        result = self.pytester.runpytest_subprocess(*argv, timeout=timeout)
        return Run(result.ret, result.stdout.str(), result.stderr.str(), result.duration, json_path, run_id, argv)

    def run_inprocess(self, *args: str, suites: Iterable[Path] = (TCP_SUITE,)) -> Run:
        """The same, inside this process (``pytester.runpytest_inprocess``): only for runs that
        stop before any target starts, such as manifest errors (about 20 times cheaper)."""
        json_path = self.tmp_path / f"conformance-inprocess-{len(self.run_ids)}.json"
        argv = [*base_args(*suites), "--conformance-json", str(json_path), *args]
        result = self.pytester.runpytest_inprocess(*argv)
        return Run(result.ret, result.stdout.str(), result.stderr.str(), result.duration, json_path, "", argv)

    def leftovers(self) -> list[psutil.Process]:
        """Live processes of any run of this test (by run id or by this test's tag)."""
        return leftovers(self.run_ids, (self.tag,))


# -- processes ------------------------------------------------------------------

def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except (psutil.Error, OSError):
        return {}


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return ""


def marked_processes(run_ids: Iterable[str], tags: Iterable[str] = (), *, targets_only: bool = False) -> list[psutil.Process]:
    """Every process on the machine (but us) whose environment has one of ``run_ids``
    or whose command line holds one of ``tags``; ``targets_only``: those with a target token."""
    run_ids, tags = set(run_ids), tuple(t for t in tags if t)
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        env = _environ(proc)
        hit = env.get(RUN_VARIABLE) in run_ids or any(tag in _cmdline(proc) for tag in tags)
        if hit and (not targets_only or TOKEN_VARIABLE in env):
            found.append(proc)
    return found


def kill_run(proc: subprocess.Popen, run_id: str, tag: str) -> None:
    """Last resort so that a failing self-test does not leave its own mess behind:
    the pytest process ``proc`` and every process marked with its run id or tag."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for marked in marked_processes([run_id], [tag]):
        try:
            marked.kill()
        except psutil.NoSuchProcess:
            pass


def leftovers(run_ids: Iterable[str], tags: Iterable[str] = ()) -> list[psutil.Process]:
    """Marked processes that are still alive or unreaped (zombies count: someone must reap them)."""
    out = []
    for proc in marked_processes(run_ids, tags):
        try:
            proc.status()
            out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def zombie_children() -> list[psutil.Process]:
    """Zombies among our descendants: orphans re-parented to us (a subreaper) and never reaped."""
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def describe(processes: Iterable[psutil.Process]) -> str:
    rows = []
    for proc in processes:
        try:
            rows.append(f"pid {proc.pid} ppid {proc.ppid()} {proc.status()} {_cmdline(proc)[:160]}")
        except psutil.NoSuchProcess:
            continue
    return "\n".join(rows) or "(none)"


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def wait_no_leftovers(run_ids: Iterable[str], tags: Iterable[str] = (), timeout: float = 5.0) -> list[psutil.Process]:
    """Leftovers that are still there after ``timeout`` s (process exit is asynchronous)."""
    run_ids, tags = list(run_ids), list(tags)
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(run_ids, tags)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


# -- resources a run may grow (added for selftest/test_hostile.py) ------------------------

def disk_used(path: Path) -> int:
    """Bytes in use on the filesystem holding ``path`` (statvfs): a run that spilled a flood
    of output to disk shows up here, wherever it wrote."""
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def children_max_rss() -> int:
    """Largest peak RSS, in bytes, of any descendant this process has reaped so far (a sockcheck
    run, its workers and their targets once the run ended): an upper bound on the run's memory."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
