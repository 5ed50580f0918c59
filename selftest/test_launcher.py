"""The launcher against hostile targets (selftest/targets/): launch errors, teardown, leftovers;
and direct unit tests of BoundedLog and RunningTarget.  (A target on a port of its own, or of the other address family:
selftest/test_fixed_port.py.)"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from sockcheck.launch import launcher, readiness
from sockcheck.launch import sandbox as sandbox_mod
from sockcheck.launch.launcher import CannotExecute, LaunchError, NeverServed, RunningTarget
from sockcheck.launch.target_log import LOG_HEAD_BYTES, LOG_TAIL_BYTES, BoundedLog
from sockcheck.launch.manifest import TargetSpec
from sockcheck.polling import poll_until
from sockcheck.launch.ports import PortAllocator
from selftest.running import (
    ROOT,
    RUN_VARIABLE,
    SELFTEST_TARGETS,
    TOKEN_VARIABLE,
    c_command,
    describe,
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
READY_TIMEOUT = 1.0
# Runs whose targets only need to start and echo use half the default timeouts: the
# SIGTERM grace before SIGKILL (2 s x scale) dominates their duration.
FAST = ("--timeout-scale", "0.5")


def control() -> str:
    """A correct bundled C server, in the same run as the hostile one."""
    return target_toml("c-epoll", c_command("epoll_echo"), model="epoll")


def assert_nothing_left(sockcheck) -> None:
    left = wait_no_leftovers(sockcheck.run_ids, [sockcheck.tag], timeout=3.0)
    assert not left, "processes of the run survived it:\n" + describe(left)
    zombies = zombie_children()
    assert not zombies, "unreaped zombies:\n" + describe(zombies)


def test_never_listens_is_a_launch_error(sockcheck):
    """A target that never listens could hang the run forever or fail without saying why."""
    manifest = sockcheck.manifest(
        target_toml("never", sockcheck.script("never_listens.py"), ready_timeout=READY_TIMEOUT), control())
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    assert run.ret == 1, str(run)
    cell = run.cell("never", ROUNDTRIP)
    assert cell["outcome"] == "error", str(run)
    assert "not serving" in cell["message"] and f"after {READY_TIMEOUT:.1f}s" in cell["message"]
    assert "sleeping instead of listening" in cell["message"]  # the log is quoted
    assert run.outcome("c-epoll", ROUNDTRIP) == "passed"
    assert "ERROR at setup of tcp.echo.roundtrip[never]" in run.stdout  # headed by check and target
    # The wait is the manifest's ready_timeout, not the default: timed on the case itself,
    # since the whole run's start-up and teardown grow with the machine's load.
    assert cell["duration"] < READY_TIMEOUT + 2, f"the case took {cell['duration']:.1f}s"
    assert_nothing_left(sockcheck)


def test_never_listens_is_waited_for_once(sockcheck):
    """A target that never listened made every one of its cases wait its whole ready_timeout and
    repeat the same error: minutes of identical waits for a suite of checks."""
    ready_timeout, checks = 4.0, ("tcp.echo.roundtrip", "tcp.echo.binary", "tcp.echo.large",
                                  "tcp.half-close.eof-after-echo")
    manifest = sockcheck.manifest(
        target_toml("never", sockcheck.script("never_listens.py"), ready_timeout=ready_timeout))
    suites = (ROOT / "suites" / "tcp" / "test_echo.py", ROOT / "suites" / "tcp" / "test_half_close.py")
    run = sockcheck.run("--targets-file", str(manifest), "-k", " or ".join(checks), "-n", "0", suites=suites)
    assert run.ret == 1, str(run)
    first, *later = [run.cell("never", check) for check in checks]
    assert first["outcome"] == "error" and "nor on any other port" in first["message"], first
    assert first["duration"] >= ready_timeout * 0.9, first
    for cell in later:
        assert cell["outcome"] == "error", cell
        assert cell["message"].startswith(first["message"]), cell
        assert "found by tcp.echo.roundtrip, its first case here; not launched again" in cell["message"], cell
        assert cell["duration"] < 1.0, cell
    # Four cases that each waited would take 16 s; loosely bounded, for a loaded machine.
    assert run.duration < ready_timeout * len(checks) - 2, f"the run took {run.duration:.1f}s\n{run}"
    assert_nothing_left(sockcheck)


def test_missing_binary_is_one_line_in_the_targets_terms(sockcheck):
    """A one-liner naming a binary that is not there failed every check with the sandbox's words,
    'setpriv: failed to execute ./x: No such file or directory'."""
    run = sockcheck.run("--target", "me=./no-such-server {port}", "-k", "roundtrip or binary")
    assert run.ret == 1, str(run)
    for check in ("tcp.echo.roundtrip", "tcp.echo.binary"):
        cell = run.cell("me", check)
        assert cell["outcome"] == "error", cell
        assert cell["message"] == (f"me: cannot execute ./no-such-server: No such file or directory "
                                   f"(in {sockcheck.pytester.path})"), cell
    assert "setpriv" not in run.stdout and "prlimit" not in run.stdout, str(run)


def test_exits_at_once_quotes_status_and_log(sockcheck):
    """A target that dies at start used to be reported without its exit status or the log line saying why,
    or, with a declared violation, as a caught violation (xfailed) although no check ever ran."""
    manifest = sockcheck.manifest(
        target_toml("dies", sockcheck.script("exits_at_once.py")),
        target_toml("dies-declared", sockcheck.script("exits_at_once.py"), violates={ROUNDTRIP: "says it is broken"}),
        control())
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    assert run.ret == 1, str(run)
    cell = run.cell("dies", ROUNDTRIP)
    assert cell["outcome"] == "error", str(run)
    assert "exited with status 3" in cell["message"] and "fatal: config missing" in cell["message"], cell
    assert "fatal: config missing" in run.stdout  # the matrix's problem lines quote it too
    assert run.outcome("dies-declared", ROUNDTRIP) == "error", str(run)
    assert run.outcome("c-epoll", ROUNDTRIP) == "passed"
    assert_nothing_left(sockcheck)


def test_stubborn_and_escaping_targets_are_killed(sockcheck):
    """A target ignoring SIGTERM, or one whose child escaped its process group with setsid(), used to outlive the run."""
    manifest = sockcheck.manifest(target_toml("stubborn", sockcheck.script("ignores_sigterm.py")),
                                  target_toml("escaper", sockcheck.script("forks_and_leaves.py")), control())
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, *FAST)
    assert run.ret == 0, str(run)
    for name in ("stubborn", "escaper", "c-epoll"):
        assert run.outcome(name, ROUNDTRIP) == "passed", f"{name}: {run}"
    assert_nothing_left(sockcheck)


def test_hostile_targets_do_not_break_the_run(sockcheck):
    """One bad target used to be able to abort an xdist run, hide other verdicts or leave processes behind."""
    manifest = sockcheck.manifest(
        target_toml("never", sockcheck.script("never_listens.py"), ready_timeout=READY_TIMEOUT),
        target_toml("dies", sockcheck.script("exits_at_once.py")),
        target_toml("stubborn", sockcheck.script("ignores_sigterm.py")),
        target_toml("escaper", sockcheck.script("forks_and_leaves.py")),
        control(),
        target_toml("c-iterative", c_command("iterative_echo"), model="iterative"),
    )
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP, "-n", "2", *FAST)
    assert run.ret == 1, str(run)
    assert run.outcome("never", ROUNDTRIP) == "error"
    assert run.outcome("dies", ROUNDTRIP) == "error"
    for name in ("stubborn", "escaper", "c-epoll", "c-iterative"):
        assert run.outcome(name, ROUNDTRIP) == "passed", f"{name}: {run}"
    assert re.search(r"\b4 passed, .*2 errors", run.stdout), str(run)
    assert_nothing_left(sockcheck)


def test_timeout_while_launching_closes_the_target(tmp_path):
    """When pytest-timeout fired while a target was starting, that target kept running through later test cases."""
    run_id = new_run_id()
    manifest = write_manifest(tmp_path / "m.toml", target_toml(
        "never", script_command("never_listens.py", run_id), ready_timeout=60))
    # --timeout-scale 0.05: each case's pytest-timeout is 1.5 s, its ready timeout 3 s.
    argv = popen_command("--targets-file", str(manifest), "-k", "tcp.echo.roundtrip or tcp.echo.binary",
                         "--timeout-scale", "0.05", "--conformance-json", str(tmp_path / "c.json"), "-p", "no:xdist")
    with open(tmp_path / "out.txt", "wb") as out:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=run_env(run_id), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    most = 0
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                family = psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                break
            most = max(most, sum(1 for p in family if _is_target_of(p, run_id)))
            time.sleep(0.05)
        assert proc.wait(30) == 1, (tmp_path / "out.txt").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not wait_no_leftovers([run_id], [run_id], timeout=3.0)
    assert most == 1, f"{most} launches of the target were alive at once: the timed-out one was not closed"


def _is_target_of(proc: psutil.Process, run_id: str) -> bool:
    try:
        env = proc.environ()
        return env.get(RUN_VARIABLE) == run_id and TOKEN_VARIABLE in env and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False


# -- BoundedLog ------------------------------------------------------------------------

def pattern(size: int) -> bytes:
    line = b"".join(b"line %07d of the flood\n" % i for i in range(size // 24 + 1))
    return line[:size]


@pytest.mark.parametrize("chunk", [1 << 20, 65536, 4093, 5 << 20], ids=["1MiB", "64KiB", "odd", "one-chunk"])
def test_bounded_log_keeps_head_and_tail(chunk):
    """A target flooding megabytes of output must keep only the first and last kilobytes, never all of it."""
    data = pattern(5 << 20)
    log = BoundedLog()
    for start in range(0, len(data), chunk):
        log.feed(data[start:start + chunk])
    assert log.total == len(data)
    omitted = len(data) - LOG_HEAD_BYTES - LOG_TAIL_BYTES
    assert log.text() == (data[:LOG_HEAD_BYTES].decode() + f"\n[... {omitted} bytes omitted ...]\n"
                          + data[-LOG_TAIL_BYTES:].decode())
    assert log._tail_size <= 2 * LOG_TAIL_BYTES  # memory stays bounded whatever the chunking


def test_bounded_log_small_output_is_verbatim():
    """A short log must come back whole, without an 'omitted' marker."""
    log = BoundedLog()
    data = pattern(LOG_HEAD_BYTES + LOG_TAIL_BYTES)
    for start in range(0, len(data), 1000):
        log.feed(data[start:start + 1000])
    assert log.text() == data.decode()
    assert "omitted" not in log.text()


def test_bounded_log_last_lines():
    """The launch error quotes the last non-blank lines; blank lines or the head must not crowd them out."""
    log = BoundedLog()
    assert log.last_lines() == "(no output)"
    log.feed(b"one\n\n   \ntwo\nthree\n")
    assert log.last_lines(2) == "two | three"
    log.feed(b"four\nfive\nsix\n")
    assert log.last_lines() == "two | three | four | five | six"
    log.feed(b"\xff partial line without newline")
    assert log.last_lines(1) == "\ufffd partial line without newline"


def test_bounded_log_drains_a_pipe_flood():
    """A target writing faster than anyone reads must never block on a full pipe."""
    read_end, write_end = os.pipe()
    log = BoundedLog()
    log.drain(read_end)
    data = pattern(3 << 20)

    def write() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(10)
    assert not writer.is_alive(), "the writer blocked: the log does not drain its pipe"
    log.join(10)
    assert log.total == len(data)
    assert log.text().endswith(data[-LOG_TAIL_BYTES:].decode())



def test_bounded_log_settle_takes_what_the_pipe_holds():
    """What a target wrote before a check saw its close must be in the log at once (it names the limit
    the target died of), whether or not the reader thread has run since; the order of chunks is kept."""
    read_end, write_end = os.pipe()
    log = BoundedLog()
    log.drain(read_end)
    for round in range(200):
        os.write(write_end, b"line %d\n" % round)
        log.settle()
        assert log.text().endswith(f"line {round}\n"), round
    os.close(write_end)
    log.join(10)
    assert log.text() == "".join(f"line {round}\n" for round in range(200))
    log.settle()  # after EOF: nothing to read, no error

# -- RunningTarget directly ---------------------------------------------------------------

def spec(script: str, **kw) -> TargetSpec:
    return TargetSpec(name=script.removesuffix(".py"), transport="tcp", source="selftest",
                      command=tuple(script_command(script)), cwd=SELFTEST_TARGETS, **kw)


def start(target_spec: TargetSpec) -> RunningTarget:
    running = RunningTarget(target_spec, "127.0.0.1", PortAllocator().allocate("127.0.0.1", "tcp"))
    running.start()
    return running


def token_holders(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TOKEN_VARIABLE) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            pass
    return found


def test_running_target_echo_and_close():
    """RunningTarget must start a tiny server, report where it listens, and leave no process after close()."""
    running = start(spec("echo.py"))
    try:
        assert running.ready_seconds is not None and running.ready_seconds < 5
        assert running.launches == 1 and running.exited() is None
        assert running.pid in {p.pid for p in running.processes()}
        with socket.create_connection(running.address, timeout=2) as sock:
            sock.sendall(b"ping")
            assert sock.recv(16) == b"ping"
    finally:
        running.close()
    assert running.exited() is not None
    assert running.processes() == [] and token_holders(running.token) == []
    assert "listening on 127.0.0.1" in running.log.text()


def test_running_target_unmanaged_address():
    """An unmanaged target (address = ...) must be probed, not launched, and close() must not touch it."""
    server = start(spec("echo.py"))
    try:
        remote = TargetSpec(name="remote", transport="tcp", source="selftest", address=server.address)
        running = RunningTarget(remote, *server.address)
        running.start()
        assert running.process is None and running.processes() == []
        running.close()
        assert server.exited() is None
    finally:
        server.close()


def test_running_target_never_listens(monkeypatch):
    """ready_timeout must bound the wait for a target that never listens, and the error carries its log.

    The first readiness probe waits until the target has logged its line, so
    the check does not depend on how fast its interpreter starts under load;
    the bound is measured from whichever comes later, that line or the
    deadline.
    """
    running = RunningTarget(spec("never_listens.py", ready_timeout=0.3), "127.0.0.1",
                            PortAllocator().allocate("127.0.0.1", "tcp"))
    logged_at: list[float] = []
    serving = RunningTarget._serving

    def serving_after_log(self, timeout):
        if not logged_at:
            assert poll_until(self.log.text, lambda text: "sleeping instead" in text, 30)[0]
            logged_at.append(time.monotonic())
        return serving(self, timeout)

    monkeypatch.setattr(RunningTarget, "_serving", serving_after_log)
    began = time.monotonic()
    with pytest.raises(NeverServed, match=r"not serving on 127\.0\.0\.1:\d+ after 0\.3s, nor on any other port; "
                                          r"log: .*sleeping instead"):
        running.start()
    assert time.monotonic() - max(began + 0.3, logged_at[0]) < 2.5
    running.close()
    assert token_holders(running.token) == []


def test_running_target_exits_at_once():
    """The launch error of a target that exits must carry its status and its last log line."""
    running = RunningTarget(spec("exits_at_once.py"), "127.0.0.1", PortAllocator().allocate("127.0.0.1", "tcp"))
    with pytest.raises(LaunchError, match=r"exited with status 3 before serving .*; log: fatal: config missing$"):
        running.start()
    running.close()


def command_spec(*command: str, cwd=SELFTEST_TARGETS) -> TargetSpec:
    return TargetSpec(name="me", transport="tcp", source="selftest", command=command, cwd=cwd)


SANDBOXES = [sandbox_mod.Sandbox(sandbox_mod.OFF, "not asked"), sandbox_mod.Sandbox(sandbox_mod.LIMITS, "selftest")]


@pytest.mark.parametrize("sandbox", SANDBOXES, ids=[s.mode for s in SANDBOXES])
def test_running_target_cannot_execute(tmp_path, sandbox):
    """A command that cannot be executed is one line about the command, whether it runs directly or
    through the sandbox's prlimit and setpriv; nothing is started."""
    (tmp_path / "plain.txt").write_text("not a program\n")
    (tmp_path / "old.py").write_text("#!/usr/bin/no-such-python2\nprint('hi')\n")
    (tmp_path / "old.py").chmod(0o755)
    (tmp_path / "folder").mkdir()
    cases = {
        ("./missing", "{port}"): f"me: cannot execute ./missing: No such file or directory (in {tmp_path})",
        ("no-such-server-on-path", "{port}"): "me: cannot execute no-such-server-on-path: No such file or directory "
                                             "(not found on PATH)",
        ("plain.txt", "{port}"): f"me: cannot execute plain.txt: No such file or directory (not found on PATH; "
                                 f"./plain.txt would name the one in {tmp_path})",
        ("./plain.txt", "{port}"): "me: cannot execute ./plain.txt: Permission denied (-rw-r--r--: not executable)",
        ("./folder", "{port}"): "me: cannot execute ./folder: Permission denied (a directory)",
        ("./old.py", "{port}"): "me: cannot execute ./old.py: bad interpreter /usr/bin/no-such-python2: "
                                "No such file or directory",
    }
    for command, message in cases.items():
        running = RunningTarget(command_spec(*command, cwd=tmp_path), "127.0.0.1", 10000, sandbox=sandbox)
        with pytest.raises(CannotExecute) as raised:
            running.start()
        assert str(raised.value) == message
        assert running.process is None and running.launches == 0
        running.close()


def test_wrapper_exec_failure_in_the_log():
    """What prlimit and setpriv say when their exec fails (a folder the sandbox user cannot enter) is
    read back as the target's own failure; a target that merely prints such a line is not."""
    said = "setpriv: failed to execute ./srv: Permission denied\n"
    assert readiness.wrapper_exec_failure(126, said) == ("./srv", "Permission denied")
    assert readiness.wrapper_exec_failure(127, "prlimit: failed to execute bin/x y: No such file or directory\n") \
        == ("bin/x y", "No such file or directory")
    assert readiness.wrapper_exec_failure(1, said) is None  # the wrappers exit 126 or 127
    assert readiness.wrapper_exec_failure(126, "starting\n" + said) is None  # something ran first


@pytest.mark.parametrize("status, words", [
    (3, "exited with status 3"), (0, "exited with status 0"), (-11, "died of SIGSEGV (signal 11)"),
    (-6, "died of SIGABRT (signal 6)"), (-13, "died of SIGPIPE (signal 13)"), (-9, "died of SIGKILL (signal 9)"),
    (-200, "died of signal 200"),
])
def test_describe_exit(status, words):
    assert launcher.describe_exit(status) == words


@pytest.mark.parametrize("sandbox", SANDBOXES, ids=[s.mode for s in SANDBOXES])
def test_running_target_death_by_a_signal_is_named(sandbox):
    """A server that crashed at start was 'exited with status -11'."""
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    running = RunningTarget(command_spec(sys.executable, "-c", crash, "{port}"), "127.0.0.1",
                            PortAllocator().allocate("127.0.0.1", "tcp"), sandbox=sandbox)
    with pytest.raises(LaunchError, match=r": died of SIGSEGV \(signal 11\) before serving on 127\.0\.0\.1:\d+; "):
        running.start()
    running.close()


def test_allocator_never_hands_out_an_avoided_port():
    """A port a target chose for itself is never given as {port}: the target would serve there and
    hide that it ignores {port}."""
    allocator = PortAllocator()
    first = allocator.allocate("127.0.0.1", "tcp")
    allocator.avoid(first + 1)
    assert first + 1 not in {allocator.allocate("127.0.0.1", "tcp") for _ in range(5)}


def test_running_target_escaped_child_and_ignored_sigterm(monkeypatch):
    """close() must find a setsid() child by its token and SIGKILL what ignores SIGTERM."""
    monkeypatch.setattr(launcher, "TERM_GRACE", 0.3)
    escaper = start(spec("forks_and_leaves.py"))
    stubborn = start(spec("ignores_sigterm.py"))
    try:
        assert len(escaper.processes()) == 2  # the server and its escaped child
        child = next(p for p in escaper.processes() if p.pid != escaper.pid)
        wait_for(lambda: os.getsid(child.pid) == child.pid, 5, "the child to lead a session of its own")
    finally:
        escaper.close()
        stubborn.close()
    assert token_holders(escaper.token) == [] and token_holders(stubborn.token) == []
    assert not zombie_children()


def test_close_keeps_the_exit_status():
    """close() reaped the main process through psutil, so exited() said 0 for a target that exited with 7."""
    running = start(spec("slow_exit.py"))
    running.close()
    assert running.exited() == 7


def test_close_all_targets_is_the_safety_net():
    """Targets still running when a run is interrupted must be closed by close_all_targets()."""
    running = start(spec("echo.py"))
    assert running in launcher._LIVE
    assert launcher.close_all_targets() >= 1
    assert running not in launcher._LIVE and running.exited() is not None
    assert token_holders(running.token) == []


def test_substitute_placeholders():
    """{python}, {port} and {host} must be substituted inside arguments too, not only whole ones."""
    argv = launcher.substitute(("{python}", "--listen={host}:{port}", "x"), "::1", 7007)
    assert argv == [sys.executable, "--listen=::1:7007", "x"]


# -- readiness --------------------------------------------------------------------------

def test_wait_until_serving_asks_until_the_answer_is_yes():
    """The wait must end at the first yes, not sleep on to a fixed interval's end."""
    answers = iter([False, False, True])
    assert readiness.wait_until_serving(lambda timeout: next(answers), None, 5.0) == readiness.READY


def test_wait_until_serving_gives_up_at_its_deadline():
    """A target that never serves must cost its ready_timeout, not more."""
    began = time.monotonic()
    assert readiness.wait_until_serving(lambda timeout: False, None, 0.2) == readiness.TIMED_OUT
    assert 0.2 <= time.monotonic() - began < 1.0


def test_wait_until_serving_notices_an_exit_at_once():
    """A target that exits must end the wait when it exits, not at the deadline."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    began = time.monotonic()
    try:
        assert readiness.wait_until_serving(lambda timeout: False, process, 30.0) == readiness.EXITED
    finally:
        process.wait()
    assert time.monotonic() - began < 10


def test_a_zombie_is_a_row_of_the_process_tree():
    """The zombie check's evidence used to drop the zombies: a zombie has no command line, and psutil's
    ZombieProcess is a NoSuchProcess."""
    import psutil

    from sockcheck.launch.proctree import format_snapshot, snapshot

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        proc = psutil.Process(pid)
        wait_for(lambda: proc.status() == psutil.STATUS_ZOMBIE, 5.0, "the child to become a zombie")
        text = format_snapshot(snapshot([proc]))
        assert f"pid {pid} ppid {os.getpid()} zombie" in text and "<defunct>" in text
    finally:
        os.waitpid(pid, 0)
