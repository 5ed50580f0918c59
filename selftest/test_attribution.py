"""A check fails only for its own rule: regression tests of set-ups that used to blame the wrong rule,
miss a defect, or never see a server, each with a small target reproducing what a real server does."""

from __future__ import annotations

from pathlib import Path

from sockcheck.launch.isolation import hosts_file
from selftest.running import ROOT, c_command, target_toml

TCP = ROOT / "suites" / "tcp"
FAULTY_BIN = ROOT / "targets" / "faulty" / "bin"
FAST = ("--timeout-scale", "0.5")


def suite(*names: str) -> tuple[Path, ...]:
    return tuple(TCP / f"test_{name}.py" for name in names)


def test_v4_mapped_and_wildcard_listeners_are_ready_at_once(sockcheck):
    """A JVM bound to 127.0.0.1 listens on [::ffff:127.0.0.1], Go and Node on [::]: both used to get
    'not serving on 127.0.0.1:PORT after 10.0s' on every check; their TIME_WAIT was not seen either."""
    manifest = sockcheck.manifest(
        target_toml("mapped", sockcheck.script("dual_stack.py"), ready_timeout=10.0),
        target_toml("wildcard", [*sockcheck.script("dual_stack.py")[:3], "any", sockcheck.tag], ready_timeout=10.0))
    run = sockcheck.run("--targets-file", str(manifest), *FAST, "-k", "roundtrip or rebind",
                        suites=suite("echo", "time_wait"))
    assert run.ret == 0, str(run)
    for name in ("mapped", "wildcard"):
        for check in ("tcp.echo.roundtrip", "tcp.time-wait.rebind"):
            assert run.outcome(name, check) == "passed", str(run)
            assert run.cell(name, check)["duration"] < 5.0, str(run)
    assert "TIME_WAIT socket(s)" in run.cell("mapped", "tcp.time-wait.rebind")["message"]


def test_children_surviving_sigterm_fail_shutdown_not_time_wait(sockcheck):
    """socat, ncat, tcpserver and busybox nc leave the connected child running after SIGTERM to the main
    process; tcp.time-wait.rebind used to report 'expected a TIME_WAIT socket; got none' for them."""
    manifest = sockcheck.manifest(target_toml("orphans", [str(FAULTY_BIN / "sigterm_orphans"), "{port}", "{host}"],
                                              model="process", capabilities=["concurrent"]))
    run = sockcheck.run("--targets-file", str(manifest), *FAST, "-k", "rebind or shutdown",
                        suites=suite("time_wait", "process"))
    assert run.outcome("orphans", "tcp.time-wait.rebind") == "passed", str(run)
    assert run.outcome("orphans", "tcp.process.shutdown") == "failed", str(run)
    assert "orphaned child(ren) still run" in run.cell("orphans", "tcp.process.shutdown")["message"]
    assert not sockcheck.leftovers()


def test_tiny_backlog_fork_server_passes_zombies(sockcheck):
    """busybox nc (backlog 2) used to fail tcp.process.zombies: 32 clients connected at once, some waited
    on the kernel's SYN retransmission, and 'some were not' echoed within the prompt."""
    manifest = sockcheck.manifest(target_toml("tiny-backlog", sockcheck.script("fork_tiny_backlog.py"),
                                              model="process", capabilities=["concurrent"]))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "zombies", suites=suite("process"))
    assert run.ret == 0, str(run)
    assert run.outcome("tiny-backlog", "tcp.process.zombies") == "passed", str(run)


def test_orphans_without_the_launch_environment_fail_shutdown(sockcheck):
    """openbsd-inetd does not pass the suite's variable on: its forked children kept serving after
    SIGTERM and tcp.process.shutdown passed in 0.0 s.  Teardown must still end them."""
    manifest = sockcheck.manifest(target_toml("scrubbed", sockcheck.script("scrubs_env_orphans.py"),
                                              model="process", capabilities=["concurrent"]))
    run = sockcheck.run("--targets-file", str(manifest), *FAST, "-k", "shutdown", suites=suite("process"))
    assert run.outcome("scrubbed", "tcp.process.shutdown") == "failed", str(run)
    assert "orphaned child(ren) still run" in run.cell("scrubbed", "tcp.process.shutdown")["message"]
    assert not sockcheck.leftovers()


def test_descriptors_opened_on_first_use_are_not_a_leak(sockcheck):
    """A Go server has 7 descriptors when it starts listening and 12 after its first exchange, for good:
    tcp.process.fd-leak used to take the 7 as its baseline and report a leak."""
    manifest = sockcheck.manifest(target_toml("lazy", sockcheck.script("lazy_fds.py"), model="thread",
                                              capabilities=["concurrent"]))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "fd-leak", suites=suite("process"))
    assert run.ret == 0, str(run)
    assert run.outcome("lazy", "tcp.process.fd-leak") == "passed", str(run)


def test_a_server_that_turns_everyone_away_is_one_finding(sockcheck):
    """A server that reset every connection (it could not look up a name it needed) used to fail 15
    checks as if each rule were broken; now tcp.echo.roundtrip fails and the others say they cannot
    judge, naming it."""
    manifest = sockcheck.manifest(target_toml("rst", sockcheck.script("resets_everyone.py")))
    run = sockcheck.run("--targets-file", str(manifest), *FAST, "-k", "echo or half_close",
                        suites=suite("echo", "half_close"))
    assert run.ret == 1, str(run)
    assert run.outcome("rst", "tcp.echo.roundtrip") == "failed", str(run)
    for check in ("tcp.echo.binary", "tcp.echo.large", "tcp.half-close.eof-after-echo"):
        cell = run.cell("rst", check)
        assert cell["outcome"] == "inconclusive", str(run)
        assert "resets the connection before answering" in cell["message"] and "tcp.echo.roundtrip" in cell["message"]
        assert "resetting every client" in cell["message"]  # the log is quoted
    # Shown once, with the checks it kept from judging, not once per check.
    folded = [line for line in run.stdout.splitlines() if line.startswith("rst · ") and "checks → inconclusive" in line]
    assert len(folded) == 1 and "tcp.echo.binary" in folded[0] and "tcp.half-close.eof-after-echo" in folded[0], run.stdout


def test_host_name_resolves_in_the_worker_namespace(sockcheck):
    """A server that looks up the host name found no resolver in the worker's empty namespace and reset
    every connection there.  The namespace resolves the name to loopback from a private /etc/hosts;
    the machine's own /etc/hosts is never touched."""
    before = Path("/etc/hosts").read_bytes()
    manifest = sockcheck.manifest(target_toml("lookup", sockcheck.script("resolves_hostname.py")),
                                  target_toml("c-epoll", c_command("epoll_echo"), model="epoll"))
    run = sockcheck.run("--targets-file", str(manifest), "-k", "roundtrip")
    assert run.ret == 0, str(run)
    assert run.outcome("lookup", "tcp.echo.roundtrip") == "passed", str(run)
    assert Path("/etc/hosts").read_bytes() == before


def test_hosts_file_names_the_host_on_loopback():
    text = hosts_file("box.example.org")
    lines = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert ["127.0.0.1", "localhost", "box.example.org", "box"] in lines
    assert any(line[0] == "::1" and "localhost" in line for line in lines)
