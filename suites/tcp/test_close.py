"""tcp.close.*: how connections end, and that one peer's abort does not hurt the server."""

from __future__ import annotations

import time

import psutil

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.close import (close_settled, describe_death, judge_orderly_close, judge_peer_reset,
                                       judge_warmup, reset_stage, reset_while_not_reading)
from sockcheck.judgments.resets import SETTLE, server_reset
from sockcheck.net.socket_progress import ProgressReader, push_until_still
from sockcheck.net.stream import (RESET, exchange, narrow_connect, narrow_server_share, send_until_stalled,
                                  set_linger_reset)
from sockcheck.polling import poll_until

WARMUP = 64 * 1024
UNREAD = 1024 * 1024
SERVER_STILL = 0.1  # seconds the server's counters stand still before the client's reset
QUIET = 0.25  # seconds without progress, echo waiting, after which the server counts as no longer reading
WRITE_LIMIT = 8.0


@check("tcp.close.peer-reset")
def test_peer_reset(target, tcp_client, payloads, prompt, deadline, note):
    """The situation: the server's echo write to the client is blocked when
    the client's reset comes, so the reset surfaces as an error of that write
    (or of the next one).  The write fails with ECONNRESET or EPIPE, and
    raises SIGPIPE unless the server ignores it or writes with MSG_NOSIGNAL;
    its default action kills the whole server.

    Rule: A client that aborts its connection does not take the server down.

    Pass: the server is still running, and a new client is echoed promptly.

    Setup: the aborting client is narrow: a small receive window, send queue
    and MSS, set before connect, so the server's kernel holds only about 100
    KiB of echo toward it whatever the machine's buffer sizes.  It round-trips
    64 KiB (the server is serving it), then sends 1 MiB without reading, until
    the server has taken all of it or has stopped taking more for a quarter of
    a second while echo waits unread: either way the server has more echo for
    it than the kernel will take.  Once the server's own counters have stood
    still for 0.1 s (it waits, not between two writes), the client closes with
    SO_LINGER {1, 0}, which sends RST.  Where the target's processes are visible, the check waits
    until the server has closed the reset connection (or died) before the new
    client connects.  A refusal or a reset the new client meets is explained
    from the server's process (its exit status, or still running) and the
    bytes: a death, or a port nothing listens on any more.

    Attribution: when the 64 KiB warm-up does not come back, the check cannot
    set up its situation: that is tcp.echo.large's finding (inconclusive
    here); so is a reset by the server while the client is not reading
    (tcp.backpressure.slow-reader's).  A server that answers no connection at
    all is tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    with narrow_connect(target.address, prompt) as aborting:
        warmup = payloads.data(WARMUP, "warmup")
        echoed = exchange(aborting, warmup, expect=len(warmup), idle_timeout=prompt)
        unready = judge_warmup(warmup, echoed.data, echoed.end)
        if unready:
            raise unready
        unread = payloads.data(max(UNREAD, 8 * narrow_server_share()), "unread")
        push = send_until_stalled(aborting, unread, quiet=deadline(QUIET), patience=prompt, limit=deadline(WRITE_LIMIT))
        if push.end == RESET:
            raise reset_while_not_reading("peer reset", push.sent, "the client's reset")
        wait_until_server_still(aborting, prompt)
        set_linger_reset(aborting)
        holding = descriptors(target)
    stage = reset_stage(push.sent, push.end)
    # The server learns of the reset when it next runs; a new client must not be
    # echoed before the server has had to deal with it, or a server that dies of
    # it a moment later would pass.
    handled = reset_handled(target, holding, prompt)
    payload = payloads.data(32)
    try:
        result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    except ConnectionRefusedError:
        received, end, refused = b"", RESET, True
    except ConnectionResetError:
        # A server dying as the new client connects resets the connections it had not accepted yet;
        # its exit status, a moment later, says how it died (and so the cause).
        received, end, refused = b"", RESET, False
    else:
        received, end, refused = result.data, result.end, False
    waited = end == RESET and not received
    exited = not refused and (target.exited() is not None or (waited and ends_soon(target, prompt)))
    status, how = death(target, prompt) if refused or exited else (None, "")
    # How long the process was seen running after the reset or refusal, for the explanation of either.
    watched = prompt if target.spec.managed and status is None and (refused or waited) else None
    finding = judge_peer_reset(stage, payload, received, end, refused=refused, exited=exited, death=how,
                               within=prompt, status=status, watched=watched)
    if finding:
        raise finding
    note(f"survived a reset {stage[len('after a reset '):]}; " + handled)


def wait_until_server_still(sock, timeout: float) -> None:
    """Until the server's end of ``sock`` has neither read nor written for SERVER_STILL seconds (its own
    counters, socket_progress.py), or ``timeout``: the reset then finds it waiting (in poll(), or in a
    write blocked on the full connection), not between two writes of its echo.  A write that is under
    way as the reset lands reports ECONNRESET and raises no SIGPIPE; the next one raises it.  A server
    caught mid-write would be lucky, not correct, and its verdict would follow the scheduler."""
    with ProgressReader(sock) as reader:
        push_until_still(sock, b"", 0, reader.moved, quiet=SERVER_STILL, until=time.monotonic() + timeout)


def descriptors(target) -> int | None:
    """Open descriptors of the target's whole process tree, None when it is not ours to inspect."""
    if not target.spec.managed:
        return None
    total = 0
    for proc in target.processes():
        try:
            total += proc.num_fds()
        except psutil.Error:  # it exited meanwhile
            pass
    return total


def reset_handled(target, holding: int | None, timeout: float) -> str:
    """Wait until the server has closed the reset connection's descriptor (or exited); say which.

    ``holding`` is the tree's descriptor count while the connection was
    open (counted then, not before it: runtimes open descriptors on first
    use).  Once it drops, the server has met the reset: a blocked write
    returned, or a poll reported it.  A server that never closes it leaks
    it (tcp.process.fd-leak's finding); the check goes on after
    ``timeout`` either way.
    """
    if holding is None:
        return "the reset connection's descriptor is not visible (unmanaged target)"
    done, count = poll_until(lambda: None if target.exited() is not None else descriptors(target),
                             lambda n: n is None or n < holding, timeout)
    if count is None:
        return "the server exited"
    if done:
        return "the server closed the reset connection"
    return f"the server still held the reset connection's descriptor {timeout:.1f}s after the reset"


def ends_soon(target, timeout: float) -> bool:
    """Whether the (managed) server's process ends within ``timeout``."""
    return target.spec.managed and poll_until(target.exited, lambda s: s is not None, timeout)[0]


def death(target, timeout: float) -> tuple[int | None, str]:
    """How the server ended: its exit status (None: not known), in words.  A dying process closes its
    descriptors (the listening socket among them: connections are refused) before it becomes a zombie,
    so its exit status may take a moment to show."""
    if not target.spec.managed:
        return None, "the server is no longer listening"
    _, status = poll_until(target.exited, lambda s: s is not None, timeout)
    return status, describe_death(status, timeout)


def after_reset(target, timeout: float) -> tuple[int | None, float | None]:
    """How the server's process stood once its kernel had reset a connection: (exit status, None) when it
    ended within ``timeout``; (None, ``timeout``) when it still ran; (None, None) when it is not ours to
    see.  A dying process resets its connections before its exit status shows, hence the wait."""
    if not target.spec.managed:
        return None, None
    ended, status = poll_until(target.exited, lambda s: s is not None, timeout)
    return (status, None) if ended else (None, timeout)


@check("tcp.close.fin-not-rst")
def test_fin_not_rst(target, wire, tcp_client, payloads, prompt, deadline):
    """close() sends FIN when everything received has been read.  It sends RST
    instead when unread bytes are still in the receive buffer (the peer's data
    would be lost, so TCP aborts), or when SO_LINGER is set with a zero
    timeout (often done to avoid TIME_WAIT).  A RST can destroy data still in
    flight toward the peer.

    Rule: A server ends a connection with FIN (an orderly close), not RST (an
    abort).

    Pass: the capture shows a FIN from the server and no RST in either
    direction.

    Setup: with a capture running, the client sends 32 bytes, reads the echo
    and closes; the capture is read once the client has acknowledged the
    server's FIN, a RST has been seen, or the prompt timeout has passed.  A
    RST from the server is explained: the bytes sent and echoed, the RST's
    acknowledgment number and flags, the FIN before it and whether the
    process was still running (watched for a moment after the RST) tell
    unread input at close() from SO_LINGER {1, 0}, a death and a socket
    already gone.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    An echo that does not come back whole is tcp.echo.roundtrip's finding;
    here it is only evidence for why the server reset.
    """
    sock = tcp_client()
    payload = payloads.data(32)
    echoed = exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
    sock.close()
    wire.wait_for(close_settled, prompt)
    segments = wire.segments()
    status, watched = after_reset(target, deadline(SETTLE)) if server_reset(segments) else (None, None)
    finding = judge_orderly_close(segments, prompt, sent=echoed.sent, echoed=len(echoed.data), status=status,
                                  watched=watched)
    if finding:
        raise finding
