"""Hostile targets (selftest/targets/) in a run beside a correct one: each is reported as an error or
a failure with a one-line reason, the correct target's verdicts do not change, the run ends within
its bound, and nothing is left behind (no process, no zombie, no memory or disk grown by a flood).
Also unmanaged targets (address = ...): process checks skip, a refused connection is a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sockcheck.launch.ports import PortAllocator
from selftest.running import (
    SELFTEST_TARGETS,
    ROOT,
    c_command,
    children_max_rss,
    describe,
    disk_used,
    new_run_id,
    popen_command,
    run_env,
    target_toml,
    wait_no_leftovers,
    write_manifest,
    zombie_children,
)

CONTROL = "c-epoll"
ROUNDTRIP = "tcp.echo.roundtrip"
FLOOD_MIB = 1024  # "at least 1 GB attempted"
MEMORY_CAP = 300 << 20  # a pytest process plus its log caps; a flood kept in memory would be 1 GiB
DISK_CAP = 256 << 20  # the log lives in memory: a flood spilled to disk would be 1 GiB
FAST = ("--timeout-scale", "0.5")  # halves the SIGTERM grace of teardown, which dominates these runs


@dataclass(frozen=True)
class Hostile:
    """One hostile target, the check it is run with, and what its verdict must say."""

    name: str
    script: str
    checks: str  # the -k expression
    outcome: str  # "error" (launch or harness) or "failed" (a violation the check found)
    says: tuple[str, ...]  # substrings of the one-line message
    bound: float  # seconds the whole run may take
    keys: dict = field(default_factory=dict)  # extra manifest keys
    args: tuple[str, ...] = FAST


HOSTILE = [
    Hostile("crashes-at-start", "exits_at_once.py", ROUNDTRIP, "error",
            ("exited with status 3 before serving", "fatal: config missing"), 20),
    Hostile("exits-after-first-client", "exits_after_first_client.py", "tcp.close.peer-reset", "failed",
            ("peer reset:", "the target had exited with status 0"), 20),
    Hostile("never-listens", "never_listens.py", ROUNDTRIP, "error",
            ("not serving on 127.0.0.1:", "after 1.0s", "sleeping instead of listening"), 20,
            {"ready_timeout": 2.0}),
    Hostile("floods-output", "floods_output.py", ROUNDTRIP, "error",
            ("exited with status 1 before serving", f"flood done: {FLOOD_MIB << 20} bytes"), 60,
            {"ready_timeout": 120.0, "env": {"SELFTEST_FLOOD_MIB": str(FLOOD_MIB)}}),
    Hostile("ignores-sigterm", "ignores_sigterm.py", "tcp.process.shutdown", "failed",
            ("shutdown:", "the server still running"), 30),
    Hostile("escapes-ignoring-sigterm", "escapes_ignoring_sigterm.py", "tcp.process.shutdown", "failed",
            ("shutdown:", "orphaned child(ren) still run"), 30),
    Hostile("sleeps-in-check", "silent.py", ROUNDTRIP, "failed",
            ("echo", "then nothing (timed out)"), 20),
    Hostile("never-reads", "never_reads.py", "tcp.echo.large", "failed",
            ("large echo:", "then nothing (timed out)"), 20),
]


def control() -> str:
    """The correct bundled C epoll server, run beside each hostile target (as in the bundled manifest)."""
    return target_toml(CONTROL, c_command("epoll_echo"), model="epoll",
                       capabilities=["concurrent", "c10k", "graceful-shutdown", "ipv6"])


@pytest.fixture(scope="session")
def control_alone(tmp_path_factory, c_targets) -> dict[str, str]:
    """{check: outcome} of the control target in a run of its own, over every check the hostile runs select
    (one run per self-test worker, not one per hostile target)."""
    folder = tmp_path_factory.mktemp("control")
    manifest = write_manifest(folder / "targets.toml", control())
    json_path = folder / "conformance.json"
    every_check = " or ".join(sorted({h.checks for h in HOSTILE}))
    argv = popen_command("--targets-file", str(manifest), "-k", every_check, "-n", "0",
                         "--conformance-json", str(json_path), *FAST, suites=(ROOT / "suites",))
    done = subprocess.run(argv, cwd=folder, env=run_env(new_run_id()), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the control alone must pass:\n{done.stdout}\n{done.stderr}"
    doc = json.loads(json_path.read_text())
    return {c: cell["outcome"] for c, cell in doc["targets"][CONTROL]["checks"].items()}


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_hostile_target(sockcheck, control_alone, hostile: Hostile):
    """A hostile target used to be able to hang the run, hide the verdicts of the target beside it,
    flood memory or disk with its output, or leave processes behind."""
    manifest = sockcheck.manifest(target_toml(hostile.name, sockcheck.script(hostile.script), **hostile.keys),
                                  control())
    disk_before = disk_used(sockcheck.tmp_path)
    run = sockcheck.run("--targets-file", str(manifest), "-k", hostile.checks, "-n", "0", *hostile.args,
                        suites=(ROOT / "suites",), timeout=hostile.bound + 60)
    assert run.ret == 1, str(run)
    cells = run.doc["targets"][hostile.name]["checks"]
    assert cells, f"no verdict for {hostile.name}\n{run}"
    for check, cell in cells.items():
        assert cell["outcome"] == hostile.outcome, f"{check}: {cell}\n{run}"
        message = cell["message"]
        assert message and "\n" not in message and len(message) < 2000, f"not a one-line reason: {message!r}"
        for part in hostile.says:
            assert part in message, f"{check}: {part!r} not in {message!r}"
    control_cells = {c: cell["outcome"] for c, cell in run.doc["targets"][CONTROL]["checks"].items()}
    alone = {c: outcome for c, outcome in control_alone.items() if c in control_cells}
    assert control_cells and control_cells == alone, "the control's verdicts changed beside the hostile target"
    assert run.duration < hostile.bound, f"the run took {run.duration:.1f}s, bound {hostile.bound}s\n{run}"
    left = wait_no_leftovers(sockcheck.run_ids, [sockcheck.tag], timeout=3.0)
    assert not left, "processes of the run survived it:\n" + describe(left)
    zombies = zombie_children()
    assert not zombies, "unreaped zombies:\n" + describe(zombies)
    # A 1 GiB flood must neither be kept in memory nor spilled to disk, nor printed whole.
    assert children_max_rss() < MEMORY_CAP, f"a process of the run peaked at {children_max_rss() >> 20} MiB"
    grown = disk_used(sockcheck.tmp_path) - disk_before
    assert grown < DISK_CAP, f"the disk filled by {grown >> 20} MiB during the run"
    assert len(run.stdout) + len(run.stderr) < 1 << 20, "the run printed more than 1 MiB"


def test_flood_target_writes_what_it_says():
    """The flood target must really attempt the flood (a test of the test): 64 MiB through a pipe, counted."""
    total, tail = 0, b""
    with subprocess.Popen([sys.executable, str(SELFTEST_TARGETS / "floods_output.py"), "1"],
                          env={"SELFTEST_FLOOD_MIB": "64"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        while chunk := proc.stdout.read(1 << 20):
            total += len(chunk)
            tail = (tail + chunk)[-200:]
        assert proc.wait(30) == 1
    assert total > 64 << 20 and b"flood done: 67108864 bytes" in tail


# -- unmanaged targets -----------------------------------------------------------------------

@pytest.fixture
def echo_server():
    """A correct echo server started here, to be named by address (it shares this worker's namespace)."""
    from sockcheck.launch.launcher import RunningTarget
    from sockcheck.launch.manifest import TargetSpec

    spec = TargetSpec(name="echo", transport="tcp", source="selftest", cwd=SELFTEST_TARGETS,
                      command=("{python}", str(SELFTEST_TARGETS / "echo.py"), "{port}", "{host}"))
    running = RunningTarget(spec, "127.0.0.1", PortAllocator().allocate("127.0.0.1", "tcp"))
    running.start()
    yield running
    running.close()


def test_unmanaged_target_skips_process_checks(sockcheck, echo_server):
    """Checks that read the server's processes cannot run on a server the suite did not start:
    they must skip and say why, while the wire-level checks still run against it."""
    run = sockcheck.run("--target", f"remote=address:127.0.0.1:{echo_server.port}", "-n", "0",
                        "--target", f"local={' '.join(c_command('epoll_echo'))}",
                        "-k", f"{ROUNDTRIP} or tcp.process.shutdown or tcp.process.fd-leak", suites=(ROOT / "suites",))
    assert run.ret == 0, str(run)
    assert run.outcome("remote", ROUNDTRIP) == "passed"
    # The managed target beside it stays in the worker's namespace: an unmanaged one moves nothing.
    assert run.outcome("local", ROUNDTRIP) == "passed"
    assert run.doc["run"]["isolation"] == "netns", run.doc["run"]["isolation"]
    assert "unmanaged remote checked from the machine's network" in run.stdout, run.stdout
    for check in ("tcp.process.shutdown", "tcp.process.fd-leak"):
        cell = run.cell("remote", check)
        assert cell["outcome"] == "skipped", cell
        assert "unmanaged" in cell["message"] and "remote" in cell["message"], cell
    assert echo_server.exited() is None, "the run must not touch a server it did not start"


def test_unmanaged_connection_refused_is_a_clear_error(sockcheck):
    """A named server that is not running used to surface as a confusing failure of the first check."""
    port = PortAllocator().allocate("127.0.0.1", "tcp")  # free: nothing listens there
    manifest = sockcheck.manifest(target_toml("gone", None, address=f"127.0.0.1:{port}"))
    # ready_timeout is for managed targets only; the scale shortens the default 5 s of probing to 1 s.
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, "-n", "0", "--timeout-scale", "0.2")
    assert run.ret == 1, str(run)
    cell = run.cell("gone", ROUNDTRIP)
    assert cell["outcome"] == "error", cell
    assert "not reachable" in cell["message"] and "connection refused" in cell["message"], cell
    assert f"127.0.0.1:{port}" in cell["message"] and "\n" not in cell["message"], cell
    assert "after 1.0s" in cell["message"], cell
    assert run.duration < 20, f"run took {run.duration:.1f}s"


# -- what the harness itself leaves behind ------------------------------------------------------

def test_capture_closes_its_packet_socket():
    """Each wire-checked case used to leave its AF_PACKET socket open in the worker, with its 64 MiB receive
    buffer fed a copy of every later loopback packet (found by bench/soak's descriptor probe)."""
    from sockcheck.capture.wire import Capture, CaptureUnavailable

    def sockets() -> set[str]:
        """This process's open sockets, as /proc/self/fd links."""
        out = set()
        for name in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:"):
                out.add(target)
        return out

    before = sockets()
    capture = Capture(PortAllocator().allocate("127.0.0.1", "tcp"))
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.skip(str(exc))
    capture.stop()
    leaked = sockets() - before
    assert not leaked, f"{len(leaked)} socket(s) left open by a stopped capture: {sorted(leaked)}"


def test_auto_gives_six_workers_per_core(sockcheck):
    """`-n auto` is documented to start six workers per core (checks mostly wait); it silently fell to one.
    A run of few targets gets two workers per target: starting more costs more than they overlap."""
    one = sockcheck.run("--targets-file", str(sockcheck.manifest(control())), "-k", ROUNDTRIP, "-n", "auto")
    assert one.ret == 0, str(one)
    assert one.doc["run"]["workers"] == 2, one.doc["run"]
    many = [target_toml(f"c-epoll-{i}", c_command("epoll_echo"), model="epoll") for i in range(8)]
    run = sockcheck.run("--targets-file", str(sockcheck.manifest(*many, name="many.toml")), "-k", ROUNDTRIP,
                        "-n", "auto")
    assert run.ret == 0, str(run)
    assert run.doc["run"]["workers"] == min(6 * (os.cpu_count() or 1), 32, 2 * 8), run.doc["run"]

# -- what of the runner a target sees, and what of a target a person sees ---------------------------

def test_no_variable_of_the_runner_reaches_a_target(sockcheck, monkeypatch):
    """The runner's environment holds secrets in CI: a target gets PATH, LANG, HOME, TMPDIR, the launch's
    variables and its manifest's env, nothing else (hostile_env.py refuses to serve if it sees more);
    its build step sees none of them either (the build fails if it does)."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "runner-token")
    build = ["sh", "-c", 'test -z "$AWS_SECRET_ACCESS_KEY$GITHUB_TOKEN" && test "$HOSTILE_OWN" = 1']
    manifest = sockcheck.manifest(target_toml("env", sockcheck.script("hostile_env.py"), env={"HOSTILE_OWN": "1"},
                                              build=build), control())
    for sandbox_mode in ("on", "off"):
        run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, "--sandbox", sandbox_mode, *FAST)
        assert run.outcome("env", ROUNDTRIP) == "passed", str(run)
        assert "runner-secret" not in run.stdout + run.stderr


def test_a_targets_escape_sequences_reach_no_terminal(sockcheck):
    """A target's output is shown with its control characters escaped: it cannot clear the screen,
    retitle the terminal, colour a fake summary line or overwrite a line with a carriage return."""
    manifest = sockcheck.manifest(target_toml("terminal", sockcheck.script("hostile_terminal.py")))
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, *FAST)
    assert run.outcome("terminal", ROUNDTRIP) == "error", str(run)
    shown = run.stdout + run.stderr
    assert "\\x1b[2J" in shown and "\\x0dOVERWRITTEN" in shown, shown
    for control_character in ("\x1b", "\x07", "\r", "\x9b"):
        assert control_character not in shown, repr(control_character)
    assert "\x1b" not in json.dumps(run.doc, ensure_ascii=False)
