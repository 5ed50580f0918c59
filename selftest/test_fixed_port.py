"""A server that ignores {port} and listens on a port of its own (selftest/targets/fixed_port.py):
found through the socket table among its own sockets and checked there, with one note naming the
port; and, without SO_REUSEADDR, one case's TIME_WAIT on that port does not fail the next case."""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from sockcheck.launch.launcher import LaunchError, OtherFamily, RunningTarget
from sockcheck.launch.manifest import TargetSpec
from sockcheck.launch.ports import PortAllocator
from sockcheck.net import socket_table
from sockcheck.net.socket_table import TcpSocket
from selftest.running import ROOT, SELFTEST_TARGETS, describe, wait_no_leftovers, zombie_children

# Below the allocator's 10000..32767, so no case is ever given it as {port}; each port belongs to one
# test, so that two self-test workers sharing a loopback (no network namespace) do not collide.
FIXED_PORT = 9000
FIXED_PORT_NO_REUSEADDR = 9001
FIXED_PORT_DIRECT = 9002
FIXED_PORT_TIME_WAIT = 9003
CHECKS = "echo or half-close or time-wait"
REBIND = "tcp.time-wait.rebind"
# The time-wait check first: it leaves TIME_WAIT on the server's port on purpose, so every later case
# on the same worker (-n 0) starts where that TIME_WAIT is.
SUITES = [ROOT / "suites" / "tcp" / name for name in ("test_time_wait.py", "test_echo.py", "test_half_close.py")]


def one_liner(name: str, port: int, *options: str, tag: str = "") -> str:
    """``--target`` text for fixed_port.py, as a student would type it (with {port}, which it ignores)."""
    script = SELFTEST_TARGETS / "fixed_port.py"
    return f"{name}={{python}} {script} {{port}} --listen-port {port} {' '.join(options)} {tag}"


def note_for(port: int) -> str:
    return f"listens on 127.0.0.1:{port}, not on the {{port}} it was given ("


def assert_nothing_left(sockcheck) -> None:
    left = wait_no_leftovers(sockcheck.run_ids, [sockcheck.tag], timeout=3.0)
    assert not left, "processes of the run survived it:\n" + describe(left)
    zombies = zombie_children()
    assert not zombies, "unreaped zombies:\n" + describe(zombies)


def test_hard_coded_port_is_found_and_checked_there(sockcheck):
    """A server on a hard-coded port used to wait 5 s in every case and fail each with 'not serving
    on 127.0.0.1:10000 after 5.0s; log: (no output)'."""
    run = sockcheck.run("--target", one_liner("me", FIXED_PORT, tag=sockcheck.tag), "-k", CHECKS, "-n", "0",
                        suites=SUITES, timeout=120)
    assert run.ret == 0, str(run)
    cells = run.doc["targets"]["me"]["checks"]
    checked = {check: cell for check, cell in cells.items() if cell["outcome"] != "skipped"}
    assert len(checked) >= 5, str(run)
    for check, cell in checked.items():
        assert cell["outcome"] == "passed", f"{check}: {cell}"
        assert note_for(FIXED_PORT) in cell["message"] and "checked there" in cell["message"], f"{check}: {cell}"
        assert cell["message"].count("listens on") == 1, f"{check}: one note, not several: {cell}"
    assert "not serving" not in run.stdout
    assert run.doc["targets"]["me"]["observed"]["port"] == f"127.0.0.1:{FIXED_PORT}, whatever {{port}} says"
    assert_nothing_left(sockcheck)


def test_no_reuseaddr_on_a_fixed_port_fails_only_the_rebind_check(sockcheck):
    """Without SO_REUSEADDR, the TIME_WAIT that tcp.time-wait.rebind leaves on the server's fixed port
    made the next case's bind() fail with EADDRINUSE: every later check failed to launch, though only
    the rebind check is about SO_REUSEADDR."""
    run = sockcheck.run("--target", one_liner("student", FIXED_PORT_NO_REUSEADDR, "--no-reuseaddr", tag=sockcheck.tag),
                        "-k", CHECKS, "-n", "0", suites=SUITES, timeout=120)
    cells = run.doc["targets"]["student"]["checks"]
    problems = {check: cell for check, cell in cells.items() if cell["outcome"] not in ("passed", "skipped")}
    assert set(problems) <= {REBIND}, f"findings beyond {REBIND}'s own: {problems}\n{run}"
    assert cells[REBIND]["outcome"] == "failed", str(run)
    assert f"an immediate restart on port {FIXED_PORT_NO_REUSEADDR}" in cells[REBIND]["message"]
    passed = [check for check, cell in cells.items() if cell["outcome"] == "passed"]
    assert len(passed) >= 5, str(run)
    for check in passed:
        assert note_for(FIXED_PORT_NO_REUSEADDR) in cells[check]["message"], cells[check]
    assert_nothing_left(sockcheck)


# -- the launcher and the socket table directly --------------------------------------------

def fixed_spec(port: int, *options: str) -> TargetSpec:
    return TargetSpec(name="fixed", transport="tcp", source="selftest", cwd=SELFTEST_TARGETS,
                      command=("{python}", "fixed_port.py", "{port}", "--listen-port", str(port), *options))


def test_running_target_moves_to_the_port_it_listens_on():
    """RunningTarget's port is where the target serves, so every client and the capture use it; the
    port given as {port} stays in asked_port."""
    given = PortAllocator().allocate("127.0.0.1", "tcp")
    running = RunningTarget(fixed_spec(FIXED_PORT_DIRECT), "127.0.0.1", given)
    running.start()
    try:
        assert (running.port, running.asked_port) == (FIXED_PORT_DIRECT, given)
        assert running.address == ("127.0.0.1", FIXED_PORT_DIRECT)
        assert running.elsewhere == (f"listens on 127.0.0.1:{FIXED_PORT_DIRECT}, not on the {{port}} it was "
                                     f"given ({given}); checked there")
        with socket.create_connection(running.address, timeout=2) as sock:
            sock.sendall(b"ping")
            assert sock.recv(16) == b"ping"
        # A second launch of the same server cannot bind the port: the first one's socket, on the port
        # it looks for, is not taken for the second's.
        other = RunningTarget(fixed_spec(FIXED_PORT_DIRECT, "--no-reuseaddr"), "127.0.0.1", given + 1)
        with pytest.raises(LaunchError, match=r"exited with status 1 before serving .*Address already in use"):
            other.start()
        other.close()
        assert other.found is None
    finally:
        running.close()
    running.release_port()


def test_a_server_on_its_own_given_port_gets_no_note():
    """A correct target is checked on the port it was given and says nothing about ports."""
    spec = TargetSpec(name="echo", transport="tcp", source="selftest", cwd=SELFTEST_TARGETS,
                      command=("{python}", "echo.py", "{port}"))
    given = PortAllocator().allocate("127.0.0.1", "tcp")
    running = RunningTarget(spec, "127.0.0.1", given)
    running.start()
    try:
        assert running.port == given and running.found is None and running.elsewhere is None
    finally:
        running.close()
    assert running.release_port() == 0


def time_wait_on(port: int) -> None:
    """Leave a TIME_WAIT socket on local ``port``: the server side closes first."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            accepted, _ = server.accept()
            accepted.close()
            assert client.recv(1) == b""


def plain_bind(port: int) -> int:
    """errno of a bind() without SO_REUSEADDR (0: it worked)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno
    return 0


def test_drop_orphaned_sockets_frees_the_port_for_a_plain_bind():
    """The TIME_WAIT a stopped server leaves on its port blocks a bind() without SO_REUSEADDR until it
    is dropped; a connection some process still holds on that port is not touched."""
    time_wait_on(FIXED_PORT_TIME_WAIT)
    assert plain_bind(FIXED_PORT_TIME_WAIT) == errno.EADDRINUSE
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", FIXED_PORT_TIME_WAIT))
        server.listen()
        with socket.create_connection(("127.0.0.1", FIXED_PORT_TIME_WAIT), timeout=2) as client:
            accepted, _ = server.accept()
            with accepted:
                try:
                    dropped = socket_table.drop_orphaned_sockets(FIXED_PORT_TIME_WAIT)
                except OSError as exc:
                    pytest.skip(f"SOCK_DESTROY is not allowed here: {exc}")
                assert dropped == 1
                states = {row.state for row in socket_table.read_tcp_states(FIXED_PORT_TIME_WAIT, local_only=True)}
                assert states == {"LISTEN", "ESTABLISHED"}, states
                client.sendall(b"still here")
                assert accepted.recv(16) == b"still here"
    time_wait_on(FIXED_PORT_TIME_WAIT)
    socket_table.drop_orphaned_sockets(FIXED_PORT_TIME_WAIT)
    assert plain_bind(FIXED_PORT_TIME_WAIT) == 0


def test_server_sockets_carry_their_inode():
    """own_server_sockets matches the table's inodes against /proc/PID/fd: both must name the same socket."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        mine = socket_table.socket_inodes([os.getpid()])
        rows = [record for record in socket_table.server_sockets("tcp") if record.row.local[1] == port]
        assert len(rows) == 1 and rows[0].inode in mine, rows


# -- a server of the other address family -------------------------------------------------

def test_an_ipv4_only_server_asked_for_ipv6_is_told_at_once():
    """A server started with {host} = ::1 that listens on IPv4 only will not serve IPv6 by waiting:
    the launch says so once its sockets have settled, well before ready_timeout (5 s)."""
    spec = TargetSpec(name="v4", transport="tcp", source="selftest", cwd=SELFTEST_TARGETS,
                      command=("{python}", "echo.py", "{port}"))  # binds 127.0.0.1, whatever {host} is
    running = RunningTarget(spec, "::1", PortAllocator().allocate("::1", "tcp"))
    began = time.monotonic()
    try:
        with pytest.raises(OtherFamily, match=r"^v4: listens only on 127\.0\.0\.1:\d+, which takes no traffic "
                                              r"for ::1$"):
            running.start()
        assert time.monotonic() - began < spec.ready_timeout / 2
    finally:
        running.close()


@pytest.mark.parametrize("local, v6only, host, other", [
    ("127.0.0.1", False, "::1", True), ("0.0.0.0", False, "::1", True),
    ("::", False, "::1", False), ("::1", False, "::1", False),
    ("::", False, "127.0.0.1", False), ("::", True, "127.0.0.1", True), ("::1", False, "127.0.0.1", True),
    ("0.0.0.0", False, "127.0.0.1", False),
])
def test_other_family(local, v6only, host, other):
    """A dual-stack :: takes IPv4 too; an IPv6-only one, ::1, or an IPv4 address takes the other family's
    traffic not at all (an IPv4-mapped address reads as the IPv4 one in the table)."""
    family = socket.AF_INET6 if ":" in local else socket.AF_INET
    row = TcpSocket((local, 9000), ("0.0.0.0", 0), "LISTEN", family, v6only)
    assert socket_table.other_family(row, host) is other
