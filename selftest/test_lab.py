"""The servers a socket-programming lab produces (selftest/lab/): textbook C echo servers, each with
one classic bug, run the way a student runs the suite, as a one-liner against the whole TCP
catalogue.  Each buggy server fails the run on the checks that own its bug and on no other, with
a terminal report a student can read; its fixed twin passes; a correct server on a hard-coded
port is found where it listens and checked there."""

from __future__ import annotations

import fcntl
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from selftest.running import ROOT, describe, target_toml, wait_no_leftovers, zombie_children

LAB = Path(__file__).resolve().parent / "lab"
LAB_BIN = LAB / "bin"
TCP_CATALOGUE = [ROOT / "suites" / "tcp"]
RUN_TIMEOUT = 200.0
MAX_TERMINAL_LINES = 200  # a student reads the report in a terminal, not in a pager
STEVENS_PORT = 9877  # SERV_PORT of fixed_port.c; outside the port allocator's ranges

ZOMBIES = "tcp.process.zombies"
FD_LEAK = "tcp.process.fd-leak"
FIN_NOT_RST = "tcp.close.fin-not-rst"
EOF_AFTER_ECHO = "tcp.half-close.eof-after-echo"
HALF_CLOSE_LARGE = "tcp.half-close.large"
PARALLEL = "tcp.concurrency.parallel"
BURST = "tcp.concurrency.burst-accept"
IDLE_PEER = "tcp.concurrency.idle-peer"


def build_lab() -> None:
    """Build selftest/lab once, under a lock: two self-test workers must not run make at once.  The
    binaries go to selftest/lab/bin, not to tmp_path: the sandbox's uid must be able to run them."""
    lock_path = Path(os.environ.get("TMPDIR", "/tmp")) / "sockcheck-selftest-lab-make.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "-C", str(LAB)], check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def lab() -> Path:
    build_lab()
    return LAB_BIN


def one_liner(name: str, binary: str) -> str:
    """``--target`` text as a student types it: the program and {port}, nothing declared."""
    return f"{name}={LAB_BIN / binary} {{port}}"


def outcomes_of(run, target: str) -> dict[str, str]:
    return {check: cell["outcome"] for check, cell in run.doc["targets"][target]["checks"].items()}


def with_outcome(run, target: str, *outcomes: str) -> set[str]:
    return {check for check, outcome in outcomes_of(run, target).items() if outcome in outcomes}


def assert_nothing_left(sockcheck) -> None:
    left = wait_no_leftovers(sockcheck.run_ids, [sockcheck.tag], timeout=3.0)
    assert not left, "processes of the run survived it:\n" + describe(left)
    zombies = zombie_children()
    assert not zombies, "unreaped zombies:\n" + describe(zombies)


@dataclass(frozen=True)
class Bug:
    """A lab server's bug (selftest/lab/NAME.c) and what the run says about it."""

    owners: frozenset[str]  # the checks whose rules the bug breaks: each must FAIL, and nothing else
    some: bool = False  # the bug is a race: at least one of the owners FAILs, never another check
    level: str | None = None  # the level each FAIL carries, where it is not the check's own


BUGS = {
    # Every finished child stays <defunct>.
    "fork_noreap": Bug(frozenset({ZOMBIES})),
    # Children that exit together raise one SIGCHLD: the handler reaps one of them.
    "fork_waitpid_once": Bug(frozenset({ZOMBIES})),
    # A departed client stays in the read set, unclosed: no FIN after the client's FIN, ever, and one
    # descriptor per client.  One omission, four rules: each check states one of them.
    "select_keeps_closed": Bug(frozenset({FIN_NOT_RST, EOF_AFTER_ECHO, HALF_CLOSE_LARGE, FD_LEAK})),
    # &clnt_sock: a burst of accepts overwrites it before the threads read it.  Clients connected and
    # never served have lost their data: the capacity checks judge that at the must level.
    "thread_fd_race": Bug(frozenset({PARALLEL, BURST}), some=True, level="must"),
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", list(BUGS))
def test_a_lab_bug_fails_the_checks_that_own_it(sockcheck, lab, name):
    bug = BUGS[name]
    run = sockcheck.run("--target", one_liner(name, name), "-n", "2", suites=TCP_CATALOGUE,
                        timeout=RUN_TIMEOUT)
    assert run.ret == 1, str(run)
    failed = with_outcome(run, name, "failed")
    if bug.some:
        assert failed and failed <= bug.owners, f"expected FAIL among {sorted(bug.owners)}, got {sorted(failed)}\n{run}"
    else:
        assert failed == bug.owners, f"expected FAIL of {sorted(bug.owners)}, got {sorted(failed)}\n{run}"
    if bug.level:
        for check in failed:
            assert run.cell(name, check)["level"] == bug.level, f"{check}: {run.cell(name, check)}"
    assert not with_outcome(run, name, "error", "xpassed"), str(run)
    assert len(run.stdout.splitlines()) <= MAX_TERMINAL_LINES, str(run)
    assert_nothing_left(sockcheck)


@pytest.mark.timeout(240)
def test_five_clients_then_exit_is_named(sockcheck, lab):
    """The textbooks' first server accepts five clients in a for loop and returns: the sixth client
    is refused.  The run fails, and the concurrency check says that the server ended with clients
    connected, at the must level, with the fix for it (it is iterative too: tcp.concurrency.idle-peer)."""
    run = sockcheck.run("--target", one_liner("five", "iterative_five"), "-n", "2", suites=TCP_CATALOGUE,
                        timeout=RUN_TIMEOUT)
    assert run.ret == 1, str(run)
    assert not with_outcome(run, "five", "error", "xpassed"), str(run)
    assert len(run.stdout.splitlines()) <= MAX_TERMINAL_LINES, str(run)
    assert_nothing_left(sockcheck)
    cells = run.doc["targets"]["five"]["checks"]
    named = {check: cell for check, cell in cells.items()
             if cell["outcome"] == "failed" and "with clients still connected" in cell["message"]}
    assert named and set(named) <= {"tcp.concurrency.parallel", "tcp.concurrency.burst-accept"}, str(run)
    assert all(cell["level"] == "must" and "loop on accept()" in cell["hint"] for cell in named.values()), named


# The fixed twins, one run.  iterative_forever still serves one client at a time, which
# tcp.concurrency.idle-peer rejects: its manifest entry says so, as c-iterative's does.
# Each one-liner twin with the checks its buggy twin failed that it passes (thread_fd_copy keeps the
# textbook's listen(fd, 5): a burst is served late, a capacity figure below its threshold, never lost).
ONE_LINE_TWINS = {"fork_reap": (ZOMBIES,), "fork_waitpid_loop": (ZOMBIES,),
                  "select_clears_closed": (FIN_NOT_RST, EOF_AFTER_ECHO, HALF_CLOSE_LARGE, FD_LEAK),
                  "thread_fd_copy": ()}
ITERATIVE_TWIN = "iterative_forever"


@pytest.mark.timeout(240)
def test_the_fixed_twins_pass(sockcheck, lab):
    manifest = sockcheck.manifest(target_toml(
        ITERATIVE_TWIN, [str(LAB_BIN / ITERATIVE_TWIN), "{port}"], model="iterative",
        violates={IDLE_PEER: "iterative: one client at a time, so a second client waits while the first is idle"}))
    targets = [arg for name in ONE_LINE_TWINS for arg in ("--target", one_liner(name, name))]
    run = sockcheck.run(*targets, "--targets-file", str(manifest), "-n", "2", suites=TCP_CATALOGUE,
                        timeout=RUN_TIMEOUT)
    assert run.ret == 0, str(run)
    assert set(run.doc["targets"]) == {*ONE_LINE_TWINS, ITERATIVE_TWIN}, str(run)
    for name, owners in ONE_LINE_TWINS.items():
        assert not with_outcome(run, name, "failed", "error", "xpassed"), f"{name}\n{run}"
        for check in owners:
            assert run.outcome(name, check) == "passed", f"{name} {check}: {run.cell(name, check)}"
    # Judged, not passed with a note for want of children: the server forks.
    assert "no zombie left" in run.cell("fork_reap", ZOMBIES)["message"], str(run)
    assert run.outcome(ITERATIVE_TWIN, IDLE_PEER) == "xfailed", str(run)
    assert_nothing_left(sockcheck)


@pytest.mark.timeout(240)
def test_a_hard_coded_port_is_found_and_checked_there(sockcheck, lab):
    """Stevens' tcpserv04 on SERV_PORT 9877, whatever {port} says: every check runs there, and the
    run names the port.  It binds INADDR_ANY, so the note names 0.0.0.0."""
    run = sockcheck.run("--target", one_liner("stevens", "fixed_port"), "-n", "2", suites=TCP_CATALOGUE,
                        timeout=RUN_TIMEOUT)
    assert run.ret == 0, str(run)
    entry = run.doc["targets"]["stevens"]
    assert entry["observed"]["port"] == f"0.0.0.0:{STEVENS_PORT}, whatever {{port}} says", entry["observed"]
    checked = {check: cell for check, cell in entry["checks"].items() if cell["outcome"] != "skipped"}
    assert len(checked) >= 20, str(run)
    note = f"listens on 0.0.0.0:{STEVENS_PORT}, not on the {{port}} it was given ("
    for check, cell in checked.items():
        assert cell["outcome"] == "passed", f"{check}: {cell}"
        assert note in cell["message"] and "checked there" in cell["message"], f"{check}: {cell}"
        assert cell["message"].count("listens on") == 1, f"{check}: one note, not several: {cell}"
    assert_nothing_left(sockcheck)
