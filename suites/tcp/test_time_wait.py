"""tcp.time-wait.rebind: a server restarts at once on its port, though old connections sit in TIME_WAIT."""

from __future__ import annotations

import errno
import socket

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import NO_TIME_WAIT
from sockcheck.net.stream import EOF_, exchange, read_until_eof
from sockcheck.launch.launcher import LaunchError
from sockcheck.polling import poll_until
from sockcheck.launch.proctree import format_snapshot, snapshot
from sockcheck.net.socket_table import format_states, read_tcp_states
from sockcheck.verdicts.findings import Inconclusive, describe_stream, violation

STOP_TIMEOUT = 3.0  # seconds for the whole target to end on SIGTERM, before --timeout-scale


def wait_for_time_wait(host: str, port: int, timeout: float) -> list:
    """Poll the server side's sockets on ``port`` until one is in TIME_WAIT; returns the last listing."""
    _, rows = poll_until(lambda: read_tcp_states(port, host=host, local_only=True),
                         lambda rows: any(r.state == "TIME_WAIT" for r in rows), timeout)
    return rows


def bind_without_reuseaddr(host: str, port: int) -> int:
    """errno of a plain bind() to host:port (0 when it succeeds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno
    return 0


@check("tcp.time-wait.rebind")
def test_rebind(target, tcp_client, payloads, prompt, deadline, evidence, note):
    """The side that closes a TCP connection first keeps it in TIME_WAIT for 2
    x MSL (60 s on Linux), to protect a new connection from stray segments of
    the old one.  When a server is stopped while clients are connected, the
    server closes first, so its port has TIME_WAIT connections.  A plain
    bind() to that port then fails with EADDRINUSE; on Linux a bind succeeds
    only if both the old socket and the new one set SO_REUSEADDR (and nothing
    is listening there), which is why every restartable server sets it.

    Rule: A server restarts at once on its port, though its old connections
    sit in TIME_WAIT.

    Pass: both arms hold, on the target's own port: (1) a probe bind without
    SO_REUSEADDR fails with EADDRINUSE and the kernel socket table shows
    TIME_WAIT on the port, proving the situation is real; (2) the target
    restarts at once on the same port and echoes.

    Setup: with a client connected and echoed, the whole target is stopped the
    way a service manager stops a unit: SIGTERM to its process group, its
    session and every process seen in its tree.  The client then reads to EOF
    and closes, completing the exchange of FINs.

    Attribution: a process that survives that stop, or a connection the server
    never closes, is tcp.process.shutdown's finding; a client that is not
    echoed first is tcp.echo.roundtrip's.  This check then says it cannot
    judge TIME_WAIT.
    """
    sock = tcp_client()
    payload = payloads.data(32)
    first = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
    if first.data != payload:
        raise Inconclusive("TIME_WAIT", "the connected client was not echoed first: "
                           f"{describe_stream(payload, first.data)} {first.describe_end()}".strip(), "tcp.echo.roundtrip")
    status, survivors = target.terminate_all(deadline(STOP_TIMEOUT))
    if status is None or survivors:
        evidence("processes after SIGTERM to the whole target", format_snapshot(snapshot(survivors)))
        what = "the server did not exit" if status is None else f"{len(survivors)} process(es) of the target survived"
        raise Inconclusive("TIME_WAIT", f"{what} within {deadline(STOP_TIMEOUT):.0f}s of SIGTERM to its whole "
                           "process group and session", "tcp.process.shutdown")
    # Every process is gone, so the kernel closed the server's side first; reading to EOF and closing
    # completes the exchange of FINs.
    end = read_until_eof(sock, prompt).end
    sock.close()
    rows = wait_for_time_wait(target.host, target.port, prompt)
    evidence(f"TCP sockets on port {target.port} (server side)", format_states(rows))
    waiting = [r for r in rows if r.state == "TIME_WAIT"]
    if not waiting:
        if end != EOF_:
            raise Inconclusive("TIME_WAIT", f"the client's connection got no FIN from the stopped server "
                               f"(reading ended: {end})", "tcp.process.shutdown")
        raise violation("TIME_WAIT rebind (control)", f"a TIME_WAIT socket on port {target.port} after the server closed first",
                        f"none: {format_states(rows)}", cause=NO_TIME_WAIT)
    err = bind_without_reuseaddr(target.host, target.port)
    if err != errno.EADDRINUSE:
        raise violation("TIME_WAIT rebind (control)", "a bind without SO_REUSEADDR to fail with EADDRINUSE",
                        os_error_name(err))
    note(f"control: {len(waiting)} TIME_WAIT socket(s) on port {target.port}, plain bind() got EADDRINUSE")
    try:
        target.restart()
    except LaunchError as exc:
        raise violation("TIME_WAIT rebind", f"an immediate restart on port {target.port} (needs SO_REUSEADDR)",
                        f"it failed: {exc}") from None
    again = payloads.data(32, "after-restart")
    result = exchange(tcp_client(), again, expect=len(again), idle_timeout=prompt)
    if result.data != again:
        raise violation("TIME_WAIT rebind", "the restarted server to echo", f"{len(result.data)} bytes {result.describe_end()}")


def os_error_name(err: int) -> str:
    return "success (no TIME_WAIT protection)" if err == 0 else f"{errno.errorcode.get(err, err)}"
