"""Interrupting a run (SIGINT as Ctrl-C, SIGTERM as a CI job timeout) must leave no target
process and no zombie behind, whether the run is inside a check or still launching a target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from selftest.running import (
    RUN_VARIABLE,
    TCP_SUITE,
    TOKEN_VARIABLE,
    describe,
    kill_run,
    marked_processes,
    new_run_id,
    popen_command,
    run_env,
    script_command,
    target_toml,
    wait_for,
    wait_no_leftovers,
    write_manifest,
    zombie_children,
)

ROUNDTRIP = "tcp.echo.roundtrip"
START_DEADLINE = 30.0  # seconds for pytest to start and the target to come up
EXIT_DEADLINE = 40.0  # seconds for the interrupted run to finish its teardown


class InterruptedRun:
    """A sockcheck run in a Popen, against targets that keep a check (or a launch) busy."""

    def __init__(self, tmp_path: Path, phase: str, workers: int, drop_box: Path):
        self.tmp_path = tmp_path
        self.run_id = new_run_id()
        self.tag = "sockcheck-selftest-tag-" + self.run_id
        self.accepted = [drop_box / f"accepted-{i}" for i in range(workers or 1)]  # written by the targets
        self.sigterm_record = drop_box / "sigterms"
        if phase == "stubborn-setup":
            # never listens and ignores SIGTERM (recording it): teardown waits out the grace period.
            tables = [target_toml("stubborn", script_command("never_listens.py", self.tag), ready_timeout=60,
                                  env={"SELFTEST_SIGTERM_FILE": str(self.sigterm_record)})]
            extra = []
        elif phase == "call":
            # silent.py never answers; --timeout-scale makes the check wait 2 s x 30 for its echo.
            tables = [target_toml(f"silent-{i}", script_command("silent.py", self.tag),
                                  env={"SELFTEST_ACCEPTED_FILE": str(path)}) for i, path in enumerate(self.accepted)]
            extra = ["--timeout-scale", "30"]
        else:
            # never_listens.py keeps the launcher polling for readiness for up to 60 s.
            tables = [target_toml(f"never-{i}", script_command("never_listens.py", self.tag), ready_timeout=60)
                      for i in range(workers or 1)]
            extra = []
        manifest = write_manifest(tmp_path / "targets.toml", *tables)
        self.json_path = tmp_path / "conformance.json"
        self.output = tmp_path / "output.txt"
        argv = popen_command("--targets-file", str(manifest), "-k", ROUNDTRIP, "--conformance-json",
                             str(self.json_path), "-n", str(workers), *extra)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=tmp_path, env=run_env(self.run_id), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.target_pids: set[tuple[int, float]] = set()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def targets(self) -> list[psutil.Process]:
        """Target processes of this run: descendants of the pytest process with a launch token."""
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        found = []
        for proc in descendants:
            try:
                if proc.environ().get(TOKEN_VARIABLE) and proc.environ().get(RUN_VARIABLE) == self.run_id:
                    found.append(proc)
            except (psutil.Error, OSError):
                pass
        return found

    def wait_busy(self, count: int, phase: str) -> None:
        """Poll until ``count`` targets run (and, for "call", each has a check's client connected)."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended before it was interrupted:\n{self.text()}")
            found = self.targets()
            if len(found) < count:
                return False
            if phase == "call" and not all(path.exists() for path in self.accepted):
                return False
            for proc in found:
                try:
                    self.target_pids.add((proc.pid, proc.create_time()))
                except psutil.NoSuchProcess:
                    pass
            return True

        wait_for(ready, START_DEADLINE, f"{count} busy target(s) of run {self.run_id}")

    def signal(self, signo: int) -> None:
        """Signal the pytest process only (it runs in a session of its own, away from our Ctrl-C)."""
        os.kill(self.proc.pid, signo)

    def wait(self) -> int:
        try:
            return self.proc.wait(EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the run did not end within {EXIT_DEADLINE}s of the interrupt:\n{self.text()}")

    def stop(self, signo: int) -> int:
        self.signal(signo)
        return self.wait()

    def kill_everything(self) -> None:
        """Last resort so that a failing self-test does not leave its own mess behind."""
        kill_run(self.proc, self.run_id, self.tag)


def still_there(pids: set[tuple[int, float]]) -> list[psutil.Process]:
    out = []
    for pid, created in pids:
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture
def interrupted(tmp_path, drop_box):
    runs: list[InterruptedRun] = []

    def start(phase: str, workers: int = 0) -> InterruptedRun:
        run = InterruptedRun(tmp_path, phase, workers, drop_box)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill_everything()


def assert_clean(run: InterruptedRun) -> None:
    left = wait_no_leftovers([run.run_id], [run.tag], timeout=3.0)
    assert not left, f"processes of the interrupted run survived it:\n{describe(left)}\n--- output\n{run.text()}"
    gone_not = still_there(run.target_pids)
    assert not gone_not, f"target processes survived (or were not reaped):\n{describe(gone_not)}"
    zombies = zombie_children()
    assert not zombies, f"unreaped zombies:\n{describe(zombies)}"


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_a_check(interrupted, signo):
    """Ctrl-C or SIGTERM while a check waits on its target used to leave the target running."""
    run = interrupted("call")
    run.wait_busy(1, "call")
    began = time.monotonic()
    ret = run.stop(signo)
    assert ret == 2, f"exit {ret}, expected 2 (interrupted)\n{run.text()}"
    assert time.monotonic() - began < 15
    assert "KeyboardInterrupt" in run.text()
    assert_clean(run)
    cell = json.loads(run.json_path.read_text())["targets"]["silent-0"]["checks"][ROUNDTRIP]
    assert cell["outcome"] == "error" and "interrupted" in cell["message"], cell


def test_interrupt_while_launching(interrupted):
    """A Ctrl-C while the launcher polls for readiness bypasses the fixture's own cleanup, so only the safety net can act."""
    run = interrupted("setup")
    run.wait_busy(1, "setup")
    (target,) = run.targets()
    env = target.environ()  # the marks the leftover search relies on
    assert env[RUN_VARIABLE] == run.run_id and len(env[TOKEN_VARIABLE]) == 32
    assert target.pid == os.getpgid(target.pid) == os.getsid(target.pid)  # a session of its own
    ret = run.stop(signal.SIGINT)
    assert ret == 2, f"exit {ret}, expected 2 (interrupted)\n{run.text()}"
    assert_clean(run)


def test_sigint_to_xdist_controller(interrupted):
    """SIGINT to the xdist controller alone (not to its workers, unlike a terminal's Ctrl-C) must still end every worker's targets."""
    run = interrupted("call", workers=2)
    run.wait_busy(2, "call")
    ret = run.stop(signal.SIGINT)
    assert ret == 2, f"exit {ret}, expected 2 (interrupted)\n{run.text()}"
    assert_clean(run)


def test_second_sigint_during_teardown(interrupted):
    """An impatient second Ctrl-C while teardown waits out a target's SIGTERM grace could abort the cleanup."""
    run = interrupted("stubborn-setup")
    run.wait_busy(1, "setup")
    # Before its handler is installed a SIGTERM would simply kill the target.
    armed = run.sigterm_record.with_name(run.sigterm_record.name + ".armed")
    wait_for(armed.exists, START_DEADLINE, "the target to install its SIGTERM handler")
    run.signal(signal.SIGINT)
    wait_for(lambda: run.sigterm_record.exists() or run.proc.poll() is not None, START_DEADLINE,
             "teardown to send SIGTERM to the target")
    assert run.proc.poll() is None, f"the run ended without waiting for the grace period:\n{run.text()}"
    run.signal(signal.SIGINT)
    run.wait()  # exit status: 2 or death by the second SIGINT; either way nothing may be left
    assert_clean(run)


def test_sigterm_to_xdist_controller(interrupted):
    """SIGTERM (a CI job timeout) to the xdist controller alone must end every worker's targets, as SIGINT does."""
    run = interrupted("call", workers=2)
    run.wait_busy(2, "call")
    ret = run.stop(signal.SIGTERM)
    assert ret == 2, f"exit {ret}, expected 2 (interrupted)\n{run.text()}"
    assert_clean(run)


class KilledWorkerRun:
    """An xdist run with one target busy in a check (silent.py) and a correct one beside it."""

    def __init__(self, tmp_path: Path, drop_box: Path):
        """Start the run: silent-0's round trip (slow), echo's round trip and binary (quick), -n 2."""
        self.run_id = new_run_id()
        self.tag = "sockcheck-selftest-tag-" + self.run_id
        self.accepted = drop_box / "accepted"  # written by the target
        manifest = write_manifest(
            tmp_path / "targets.toml",
            target_toml("silent-0", script_command("silent.py", self.tag), env={"SELFTEST_ACCEPTED_FILE": str(self.accepted)}),
            target_toml("echo", script_command("echo.py", self.tag)))
        self.json_path = tmp_path / "conformance.json"
        self.output = tmp_path / "output.txt"
        # Only the silent target's round trip is slow (60 s with the scale); the echo target's cases are quick.
        cases = [f"{TCP_SUITE}::test_roundtrip[silent-0]", f"{TCP_SUITE}::test_roundtrip[echo]",
                 f"{TCP_SUITE}::test_binary[echo]"]
        argv = popen_command("--targets-file", str(manifest), "--conformance-json", str(self.json_path),
                             "-n", "2", "--timeout-scale", "30", suites=cases)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=tmp_path, env=run_env(self.run_id), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        """The run's output so far."""
        return self.output.read_text(errors="replace")

    def silent_target(self) -> psutil.Process | None:
        """The live silent.py target of this run, if started."""
        for proc in marked_processes([self.run_id], targets_only=True):
            try:
                if "silent.py" in " ".join(proc.cmdline()) and proc.status() != psutil.STATUS_ZOMBIE:
                    return proc
            except psutil.Error:
                pass
        return None

    def cleanup(self) -> None:
        """Last resort so that a failing self-test does not leave its own mess behind."""
        kill_run(self.proc, self.run_id, self.tag)


def kill_the_busy_worker(run: KilledWorkerRun) -> tuple[int, str, dict, tuple[int, float]]:
    """SIGKILL the worker whose check waits on the silent target; (exit, output, JSON, (target pid, created))."""
    wait_for(run.accepted.exists, START_DEADLINE, "the silent target's check to connect")
    target = wait_for(run.silent_target, START_DEADLINE, "the silent target")
    worker = psutil.Process(target.ppid())
    assert worker.ppid() == run.proc.pid, "the target's parent must be an xdist worker of the run"
    created = target.create_time()
    worker.kill()
    # The orphan goes to the nearest subreaper: the controller, not init.
    wait_for(lambda: target.ppid() == run.proc.pid, 10, "the orphaned target to be re-parented to the controller")
    try:
        ret = run.proc.wait(EXIT_DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the run did not end after its worker was killed:\n{run.text()}")
    return ret, run.text(), json.loads(run.json_path.read_text()), (target.pid, created)


def test_killed_worker_is_reported_and_its_targets_torn_down(tmp_path, drop_box):
    """A worker killed mid-check (OOM killer, SIGKILL) used to orphan its target for good: now the target is
    re-parented to the controller (a child subreaper), swept at the end of the run, and the case is reported."""
    run = KilledWorkerRun(tmp_path, drop_box)
    try:
        ret, text, doc, target = kill_the_busy_worker(run)
        assert ret == 1, f"exit {ret}, expected 1 (a crashed case fails the run)\n{text}"
        assert "crashed while running 'suites/tcp/test_echo.py::test_roundtrip[silent-0]'" in text, text
        assert doc["targets"]["silent-0"]["checks"][ROUNDTRIP]["outcome"] == "error", doc["targets"]["silent-0"]
        assert {c["outcome"] for c in doc["targets"]["echo"]["checks"].values()} == {"passed"}, doc["targets"]["echo"]
        assert not still_there({target}), f"the killed worker's target survived the run:\n{text}"
        left = wait_no_leftovers([run.run_id], [run.tag], timeout=3.0)
        assert not left, f"processes of the run survived it:\n{describe(left)}\n--- output\n{text}"
        assert not zombie_children(), describe(zombie_children())
    finally:
        run.cleanup()


def test_killed_worker_is_named_in_the_verdict(tmp_path, drop_box):
    """The conformance JSON and matrix must say that the worker crashed, not guess at an interrupt."""
    run = KilledWorkerRun(tmp_path, drop_box)
    try:
        _, _, doc, _ = kill_the_busy_worker(run)
        cell = doc["targets"]["silent-0"]["checks"][ROUNDTRIP]
        assert cell["outcome"] == "error" and "crashed" in cell["message"], cell
    finally:
        run.cleanup()
