"""Why a server reset a connection: the kernel's few reasons for an RST, told apart from the evidence.

A check that saw an RST from the server (on the wire, or as ECONNRESET at
the client) hands :func:`explain_reset` what it has: the connection's
captured segments (None without a capture), how many bytes the client sent
and how many came back, and how the server's process stood after the RST.
It returns the cause (causes.py, which picks the fix hint) and one line
saying why, with the evidence.  The kernel resets a connection when:

* the process ended (SIGPIPE, a crash, an exit): the kernel closed its
  sockets as it died.  The exit status says so, whatever the packets show.
* no socket holds the connection or the port: the server had closed and a
  segment came after, or nothing listened.  Linux answers such a segment
  from no socket (tcp_v4_send_reset): a segment carrying ACK gets a bare
  ``[R]`` with its acknowledgment number as sequence number and no ACK
  flag; a SYN gets ``[RA] seq=0``, with no SYN-ACK before it.
* the connection's own socket aborts (tcp_send_active_reset, always with
  ACK, acknowledging everything received): close() with unread input
  (RFC 9293 §3.6.1, RFC 2525 §2.17), or close() after SO_LINGER {1, 0}.
  An echo server sends back what it read, so bytes the server had received
  (the RST's acknowledgment number) that never came back were still unread
  when it closed; when every one came back, nothing was unread, and the
  abort was asked for: SO_LINGER {1, 0}.

That reading holds while the client reads all along: echo the server wrote
reaches it at once.  A client that lets echo wait in the server's buffers
(``echo_held``) may lose echo the server had read and queued when the
connection is aborted: unread input and SO_LINGER {1, 0} then look the
same, and the explanation says the suite cannot tell.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from sockcheck.judgments.causes import (CRASH, EXIT_ON_ERROR, RST_LINGER, RST_NO_SOCKET, RST_UNREAD, RST_UNTOLD,
                                        SIGPIPE, names_causes)
from sockcheck.launch.launcher import describe_exit

if TYPE_CHECKING:
    from sockcheck.capture.ladder import Segment

SETTLE = 0.2  # seconds a dying server may take, after its kernel reset a connection, to show its exit status


def server_reset(segments: list[Segment]) -> Segment | None:
    """The server's first RST among ``segments``, None when it sent none."""
    return next((s for s in segments if not s.from_client and "R" in s.flags), None)


def reset_seen(segments: list[Segment]) -> bool:
    """The capture holds the server's RST (a condition for Capture.wait_for)."""
    return server_reset(segments) is not None


def describe_reset(segments: list[Segment] | None) -> str:
    """`` ([AR] seq=33 ack=34 len=0)``: the server's RST as captured, or nothing without one."""
    rst = server_reset(segments or [])
    return f" ({rst.describe()})" if rst else ""


@names_causes(SIGPIPE, EXIT_ON_ERROR, CRASH)
def death_cause(status: int | None) -> str | None:
    """The cause a server's end names: SIGPIPE's default action, an exit() on the error, another signal."""
    if status is None:
        return None
    if status == -signal.SIGPIPE:
        return SIGPIPE
    return CRASH if status < 0 else EXIT_ON_ERROR


def _bytes(n: int) -> str:
    return f"{n} byte{'' if n == 1 else 's'}"


def _answered(segments: list[Segment], rst: Segment, since: Segment | None) -> str:
    """What of the client's the bare RST answered: its bytes after ``since`` (the server's FIN), else the
    client segment just before the RST."""
    at = segments.index(rst)
    start = segments.index(since) + 1 if since is not None else 0
    after = [s for s in segments[start:at] if s.from_client]
    sent = sum(s.length for s in after)
    if since is not None and sent:
        return f"the {_bytes(sent)} the client sent after it"
    if after and "F" in after[-1].flags:
        return "the client's FIN"
    return f"the client's segment {after[-1].describe()}" if after else "a segment of the client's"


@names_causes(death_cause, RST_UNREAD, RST_LINGER, RST_NO_SOCKET, RST_UNTOLD)  # _aborted's among them
def explain_reset(segments: list[Segment] | None, *, sent: int, echoed: int, status: int | None = None,
                  watched: float | None = None, echo_held: bool = False, refused: bool = False,
                  taken: int | None = None, aborts_anyway: bool | None = None) -> tuple[str, str]:
    """(cause, why) of the server's RST on one connection.

    ``segments``: the connection's capture (None without one; one without
    the server's RST counts as none); ``sent``/``echoed``: bytes the client
    sent and bytes that came back; ``status``: the process's exit status
    once it had ended (negative: the signal), None while it ran or when it
    is not ours to see; ``watched``: seconds it was seen still running
    after the RST (None: its process is not visible); ``echo_held``: the
    client let echo wait in the server's buffers; ``refused``: the RST
    answered the client's SYN (connection refused); ``taken``: bytes the
    server's kernel acknowledged, as the client's socket counted them
    (TCP_INFO; reset_log), which stand for the RST's acknowledgment number
    when there is no capture; ``aborts_anyway``: whether the server reset a
    second connection that left it nothing unread (serving.py's probe; None:
    not asked), which settles what held echo leaves untold.
    """
    if status is not None:
        return death_cause(status), f"the process {describe_exit(status)}, and the kernel reset its connections"
    running = "" if watched is None else f"; its process was still running {watched:.1f}s later"
    segments = segments or []
    rst = server_reset(segments)
    if refused or (rst is not None and not any(not s.from_client and "S" in s.flags
                                               for s in segments[:segments.index(rst)])):
        return RST_NO_SOCKET, ("the port had no socket any more: nothing listened on it (the RST answered the SYN)"
                               + running)
    if rst is None:  # no capture (or it missed the RST): the bytes alone
        if taken is None:  # the client's own counts: what it sent stands for what the server received
            if echoed < sent and not echo_held:
                return RST_UNTOLD, "the suite cannot tell why from the bytes alone (no capture of the packets)"
            return _aborted(sent, echoed, echo_held, "", running, whose="the client sent", alone="the bytes",
                            aborts_anyway=aborts_anyway)
        taken = min(sent, taken)
        if sent == 0:
            return RST_UNTOLD, ("the server reset the connection before the client had sent a byte: with nothing "
                                "unread, an abortive close (SO_LINGER {on, 0}) or a connection its listener never "
                                f"accepted; the suite cannot tell which without a capture{running}")
        if echoed >= taken and sent > taken:
            # Acknowledgments the RST overtook: bytes in flight may have reached the server, unread.
            in_flight = (f"the server echoed all {_bytes(taken)} its kernel had acknowledged (the client's TCP_INFO), "
                         f"but {sent - taken} more were in flight at the RST" if taken else
                         f"the {_bytes(sent)} the client sent were all in flight at the RST, none acknowledged (the "
                         f"client's TCP_INFO)")
            if aborts_anyway is None:
                return RST_UNTOLD, (f"{in_flight}: unread at close() (close() → RST) or SO_LINGER {{on, 0}}; the "
                                    f"suite cannot tell which from the bytes alone{running}")
            return _settled(aborts_anyway, in_flight, running)
        return _aborted(taken, echoed, echo_held, "", running,
                        whose="the server's kernel had acknowledged", counted=" (the client's TCP_INFO)",
                        alone="the bytes", aborts_anyway=aborts_anyway)
    fins = [s for s in segments[:segments.index(rst)] if not s.from_client and "F" in s.flags]
    fin = fins[0] if fins else None
    if "A" not in rst.flags:
        if fin is not None:
            return RST_NO_SOCKET, (f"the port had no socket any more: the server had closed (its FIN, seq={fin.seq}), "
                                   f"and the kernel's bare [R] answered {_answered(segments, rst, fin)}{running}")
        return RST_NO_SOCKET, (f"the port had no socket any more: a bare [R] is the kernel's answer for a connection "
                               f"it no longer has, here to {_answered(segments, rst, None)}{running}")
    received = min(sent, max(rst.ack - 1, 0))  # the RST acknowledges every byte the server's kernel received
    return _aborted(received, echoed, echo_held, "no FIN came first" if fin is None else "it aborted after its own FIN",
                    running, aborts_anyway=aborts_anyway)


@names_causes(RST_UNREAD, RST_LINGER, RST_UNTOLD)
def _aborted(received: int, echoed: int, echo_held: bool, fin: str, tail: str, *,
             whose: str = "the server had received", counted: str = "", alone: str = "the packets",
             aborts_anyway: bool | None = None) -> tuple[str, str]:
    """The connection's own socket aborted after the server's kernel had ``received`` bytes and ``echoed`` came
    back: unread input, SO_LINGER {1, 0}, or (echo held) the suite cannot tell which.  ``fin`` says what came
    before the RST ("" when the packets were not seen), ``tail`` ends the line; ``whose`` names what
    ``received`` counts and ``counted`` who counted it, ``alone`` what the suite judged from."""
    unread = received - echoed
    if unread <= 0:
        before = f" and {fin}" if fin else ", then an RST instead of EOF"
        return RST_LINGER, (f"SO_LINGER {{on, 0}} before close(): all {_bytes(received)} {whose}{counted} came back "
                            f"(none left unread){before}{tail}")
    if echo_held and aborts_anyway is not None:
        return _settled(aborts_anyway, f"{unread} of the {_bytes(received)} {whose}{counted} never came back", tail)
    if echo_held:
        return RST_UNTOLD, (f"{unread} of the {_bytes(received)} {whose}{counted} never came back: unread at "
                            f"close() (close() → RST) or echo the server held that SO_LINGER {{on, 0}} discarded; "
                            f"the suite cannot tell which from {alone} alone{tail}")
    first = ", with no FIN first" if fin == "no FIN came first" else ""
    return RST_UNREAD, (f"the server closed the connection with {unread} unread byte{'' if unread == 1 else 's'} in "
                        f"its receive buffer (close() → RST, RFC 9293 §3.6.1 / RFC 2525 §2.17): {whose} "
                        f"{_bytes(received)}{counted} and echoed {echoed}{first}{tail}")


@names_causes(RST_LINGER, RST_UNREAD)
def _settled(aborts_anyway: bool, seen: str, tail: str) -> tuple[str, str]:
    """What the bytes left untold (``seen``), settled by a second connection that left the server nothing
    unread: reset too (it aborts every close: SO_LINGER {1, 0}) or closed with EOF (the first had input
    unread)."""
    if aborts_anyway:
        return RST_LINGER, (f"SO_LINGER {{on, 0}} before close(): {seen}, and a second connection that left the "
                            f"server nothing unread was reset too{tail}")
    return RST_UNREAD, (f"the server closed the connection with input unread (close() → RST, RFC 9293 §3.6.1 / "
                        f"RFC 2525 §2.17): {seen}, while a second connection that left it nothing unread got EOF{tail}")
