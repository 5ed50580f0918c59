"""Untrusted targets are contained: hostile servers attack the machine, the runner and the other targets,
and the run goes on with every other verdict unchanged and nothing outside the target's own folder
changed.  The hostile targets act only as a non-root user (they refuse as root), so these tests need
the sandbox's own uid: a root run."""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from pathlib import Path

import psutil
import pytest

from sockcheck.launch import builds, sandbox
from selftest.running import ROOT, c_command, target_toml, write_manifest

ROUNDTRIP = "tcp.echo.roundtrip"
MARK = "sockcheck-hostile-was-here"
HOSTILE_LIMITS = {"processes": 64, "memory": 256 << 20, "file_size": 8 << 20}

needs_sandbox_user = pytest.mark.skipif(sandbox.choose("on", sandbox.BUILD_UID).mode != sandbox.USER,
                                        reason="the sandbox's own uid needs root with the full uid range")


def control() -> str:
    return target_toml("c-epoll", c_command("epoll_echo"), model="epoll")


@pytest.fixture
def secret():
    """A root-only file (mode 0600 in /tmp, where anyone may look for it)."""
    fd, path = tempfile.mkstemp(prefix="sockcheck-secret-")
    os.write(fd, b"the runner's secret token\n")
    os.close(fd)
    yield path
    os.unlink(path)


def _mark_files() -> list[Path]:
    return [folder / MARK for folder in (ROOT, Path("/root"), Path("/etc"), Path.home()) if (folder / MARK).exists()]


@needs_sandbox_user
def test_hostile_targets_are_contained(sockcheck, secret):
    """Each hostile target attempted its attack (the log lines say so when they fail), was stopped by the
    sandbox, and the correct server in the same run kept its verdict."""
    env = {"HOSTILE_CHECKOUT": str(ROOT), "HOSTILE_CALLER_HOME": str(Path.home()), "HOSTILE_SECRET": secret}
    manifest = sockcheck.manifest(
        target_toml("writes", sockcheck.script("hostile_writes.py"), env=env),
        target_toml("reads", sockcheck.script("hostile_reads.py"), env=env),
        target_toml("signals", sockcheck.script("hostile_signals.py")),
        target_toml("fork-bomb", sockcheck.script("hostile_fork_bomb.py"), limits=HOSTILE_LIMITS),
        target_toml("allocates", sockcheck.script("hostile_allocates.py"), limits=HOSTILE_LIMITS),
        target_toml("fills-disk", sockcheck.script("hostile_fills_disk.py"), limits=HOSTILE_LIMITS),
        control())
    before = {path: path.read_bytes() for path in (Path("/etc/hosts"), Path("/etc/passwd"))}
    run = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip")
    # Writes, reads and signals failed, so those servers went on to echo.
    for name in ("writes", "reads", "signals", "fork-bomb"):
        assert run.outcome(name, ROUNDTRIP) == "passed", str(run)
    assert run.outcome("c-epoll", ROUNDTRIP) == "passed", str(run)
    allocates = run.cell("allocates", ROUNDTRIP)
    assert allocates["outcome"] == "failed" and "exceeded its memory limit of 268435456" in allocates["message"], str(run)
    fills = run.cell("fills-disk", ROUNDTRIP)
    assert fills["outcome"] == "failed" and "exceeded its file size limit of 8388608" in fills["message"], str(run)
    assert run.ret == 1, str(run)  # the two failures, nothing else
    assert _mark_files() == []
    assert "the runner's secret token" not in run.text
    assert {path: path.read_bytes() for path in before} == before
    # Every private home lives in the run's folder, which the end of the run removes.
    assert not sandbox.run_folder(sockcheck.run_ids[-1]).exists()
    assert not sockcheck.leftovers()


@needs_sandbox_user
def test_a_target_runs_as_the_sandbox_user(sockcheck):
    """The hostile targets refuse to act as root: with the sandbox off, one that would write outside its
    folder exits at once (status 4), which shows --sandbox off really runs targets as the caller."""
    manifest = sockcheck.manifest(target_toml("writes", sockcheck.script("hostile_writes.py")), control())
    on = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip")
    assert on.outcome("writes", ROUNDTRIP) == "passed", str(on)
    assert on.doc["run"]["sandbox"]["mode"] == sandbox.USER
    off = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip", "--sandbox", "off")
    cell = off.cell("writes", ROUNDTRIP)
    assert cell["outcome"] == "error" and "exited with status 4" in cell["message"], str(off)
    assert off.outcome("c-epoll", ROUNDTRIP) == "passed"
    assert off.doc["run"]["sandbox"]["mode"] == sandbox.OFF
    assert "sandbox: off" in off.stdout


def test_limits_are_validated(sockcheck):
    """A limit outside its bounds, of the wrong type or unknown stops the run with one line (exit 4)."""
    for limits, problem in (({"processes": 1}, "limits.processes': 1 is not within [8, 65536] processes"),
                            ({"memory": "1G"}, "limits.memory': expected an integer"),
                            ({"threads": 4}, "limits.threads': unknown limit")):
        manifest = sockcheck.manifest(target_toml("me", sockcheck.script("echo.py"), limits=limits))
        run = sockcheck.run_inprocess("--targets-file", str(manifest))
        assert run.ret == 4, str(run)
        assert problem in run.text, str(run)


def test_limits_wrap_the_command_in_place():
    """prlimit and setpriv both exec in place, so the target's pid is the one the launcher started."""
    box = sandbox.Sandbox(sandbox.USER, "test", 64123, 64123, "/usr/bin/python3")
    argv = box.command(["srv", "7"], sandbox.Limits(processes=64).with_open_files(4096))
    assert argv[:2] == ["prlimit", "--nproc=64"] and "--nofile=4096:4096" in argv
    assert argv[argv.index("setpriv"):][:6] == ["setpriv", "--reuid=64123", "--regid=64123", "--clear-groups",
                                                "--no-new-privs", "--bounding-set=-all"]
    assert argv[-2:] == ["srv", "7"]
    assert sandbox.Sandbox(sandbox.OFF, "test").command(["srv"], sandbox.Limits()) == ["srv"]


@needs_sandbox_user
def test_a_root_only_folder_is_named(sockcheck, tmp_path):
    """A relative command in a root-only folder cannot be read by the sandbox user: the launch error says
    which folder is closed and what to do, instead of only quoting 'Permission denied'."""
    (tmp_path / "srv").mkdir()
    for name in ("echo.py", "_serve.py"):
        (tmp_path / "srv" / name).write_bytes((ROOT / "selftest" / "targets" / name).read_bytes())
    manifest = sockcheck.manifest(target_toml("closed", ["{python}", "srv/echo.py", "{port}", "{host}", sockcheck.tag]))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip")
    cell = run.cell("closed", ROUNDTRIP)
    assert cell["outcome"] == "error", str(run)
    assert "cannot reach" in cell["message"] and "drwx------" in cell["message"] and "sandbox = false" in cell["message"]


@needs_sandbox_user
def test_a_killed_workers_homes_are_removed(sockcheck, tmp_path):
    """A worker killed mid-case (SIGKILL, the OOM killer) cannot remove its target's private home: the
    homes live in the run's folder, and the controller removes that at the end of the run.  (Without
    sockcheck-enter, that is: with it, a launch's home is its private /tmp, which ends with it.)"""
    run_id = "selftest-homes"
    home = sandbox.run_folder(run_id)
    try:
        box = dataclasses.replace(sandbox.choose("on", sandbox.BUILD_UID), enter="")
        assert sandbox.choose("on", sandbox.BUILD_UID).private_home("private", home) is None
        left = box.private_home("orphaned", home)
        (left / "written-by-the-target").write_text("x")
        assert left.parent == home and home.stat().st_mode & 0o777 == 0o755
        sandbox.remove_run_folder(run_id)
        assert not home.exists()
    finally:
        sandbox.remove_run_folder(run_id)


# -- a launch is contained as a whole: its cgroup, its mounts -----------------------------------

def _run_uid_processes(run_id: str) -> list[psutil.Process]:
    uid = sandbox.target_uid(run_id, 0)
    return [proc for proc in psutil.process_iter(["uids"]) if proc.info["uids"] and proc.info["uids"].real == uid]


@needs_sandbox_user
def test_a_detached_process_dies_with_its_launch(sockcheck):
    """hostile_detaches.py leaves a killer that no tracking by tree, session or environment sees, which
    SIGKILLs every process of its uid once its server is gone.  The launch's cgroup ends it at teardown,
    so the correct server that runs next as the same uid (one worker) passes every case."""
    manifest = sockcheck.manifest(target_toml("detaches", sockcheck.script("hostile_detaches.py")), control())
    run = sockcheck.run("--targets-file", str(manifest), "-k", "tcp.echo and not ipv6", "-n", "0")
    for check in ("tcp.echo.roundtrip", "tcp.echo.binary", "tcp.echo.large"):
        assert run.outcome("detaches", check) == "passed", str(run)
        assert run.outcome("c-epoll", check) == "passed", str(run)
    assert not _run_uid_processes(run.run_id)
    assert not [path for path in Path("/sys/fs/cgroup").glob(f"*/sockcheck/{run.run_id}")], "the run's cgroups"


@needs_sandbox_user
def test_a_launch_has_its_own_tmp_and_sees_nothing_of_the_machine(sockcheck, drop_box):
    """hostile_leaves_files.py fills /tmp, /var/tmp and /dev/shm, looks for pid 1 in /proc and connects
    to a unix socket of the machine that anyone may use: it sees neither, and nothing of its files is
    left after the run."""
    path = str(drop_box / "machine.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as machine:
        machine.bind(path)
        os.chmod(path, 0o777)
        machine.listen(1)
        manifest = sockcheck.manifest(target_toml("leaves", sockcheck.script("hostile_leaves_files.py"),
                                                  env={"HOSTILE_SOCKET": f"socket={path}", "HOSTILE_MARK": sockcheck.tag}))
        run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    assert run.outcome("leaves", ROUNDTRIP) == "passed", str(run)
    left = [str(folder / name) for folder in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
            for name in os.listdir(folder) if name.startswith(sockcheck.tag)]
    assert not left


@needs_sandbox_user
def test_a_launchs_memory_is_capped_in_all(sockcheck):
    """Two children touching 200 MiB each stay under the address space limit of each process, not under
    the launch's 256 MiB in all: the kernel ends one, and the verdict names the limit."""
    manifest = sockcheck.manifest(target_toml("allocates-all", sockcheck.script("hostile_allocates_all.py"),
                                              env={"HOSTILE_CHILD_MIB": "200"},
                                              limits={"total_memory": 256 << 20}))
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    cell = run.cell("allocates-all", ROUNDTRIP)
    assert cell["outcome"] == "error", str(run)
    assert f"exceeded its memory limit of {256 << 20} bytes in all" in cell["message"], cell


def test_kept_folders_are_those_a_launch_names_below_a_private_tmpfs(tmp_path):
    """A launch still sees the folders its command line and its manifest's env name below /tmp and the
    other private folders (a script, a PYTHONPATH entry, a file to write); nothing else is mounted back."""
    script = tmp_path / "srv.py"
    script.write_text("")
    library = tmp_path / "lib"
    library.mkdir()
    kept = sandbox.kept_folders(["/usr/bin/python3", str(script), "9000", "/tmp"],
                                {"PYTHONPATH": f"{library}:/usr/lib/python3", "OUT": str(tmp_path / "new" / "x")})
    assert kept == [str(tmp_path), str(library)]


@needs_sandbox_user
def test_a_users_build_as_root_writes_a_private_copy(sockcheck, tmp_path):
    """docs/ci.md's layout, run as root: the manifest in ci/, `make -C ..` building ../build/myserver in
    a checkout the build uid cannot write (here root's, mode 0700).  The build and the target work in a
    private copy of the project; the checkout is not written, and the copy is gone after the run."""
    project = tmp_path / "checkout"
    (project / "src").mkdir(parents=True)
    (project / "src" / "server.c").write_text((ROOT / "selftest" / "lab" / "fork_reap.c").read_text())
    (project / "Makefile").write_text("build/myserver: src/server.c\n\tmkdir -p build\n"
                                      "\tcc -O2 -o build/myserver src/server.c\n")
    (project / "ci").mkdir()
    manifest = write_manifest(project / "ci" / "sockcheck.toml",
                              target_toml("myserver", ["../build/myserver", "{port}"], build=["make", "-C", ".."]))
    run = sockcheck.run("--targets-file", str(manifest), "-k", ROUNDTRIP)
    assert run.outcome("myserver", ROUNDTRIP) == "passed", str(run)
    assert not (project / "build").exists(), "the build wrote into the user's checkout"
    assert not builds.builds_folder(run.run_id).exists()
