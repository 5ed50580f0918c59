"""tcp.urgent.*: TCP urgent data (MSG_OOB): the URG flag, the urgent pointer, and what servers do with it."""

from __future__ import annotations

import errno
import select
import socket
import time

from sockcheck.fixtures.checkmark import check
from sockcheck.judgments.causes import CLIENT_URG, OOB_POLICY, URGENT_DROPPED, stream_cause
from sockcheck.net import reset_log
from sockcheck.net.stream import EOF_, RESET, exchange
from sockcheck.verdicts.findings import violation

BEFORE, URGENT, AFTER = b"abc", b"!", b"def"
URGENT_OFFSET = len(BEFORE)  # the urgent byte's offset in the client's stream


def expected_inband(oob: str) -> bytes:
    return BEFORE + URGENT + AFTER if oob == "inline" else BEFORE + AFTER


def send_with_urgent(sock: socket.socket, first: bool = False) -> str | None:
    """abc, then one byte with MSG_OOB, then def: three writes, three segments (TCP_NODELAY), or two with ``first``.

    With ``first``, "abc!" is one MSG_OOB write (its last byte is the urgent
    one), so the urgent byte leaves in the connection's first data segment
    whatever the server does with the connection meanwhile: a server that
    closes at once would otherwise answer "abc" with a reset before "!" is
    sent.  Returns None, or how the connection failed while sending (a server
    that drops the connection on urgent data makes the last send fail).
    """
    try:
        if first:
            sock.send(BEFORE + URGENT, socket.MSG_OOB)
        else:
            sock.send(BEFORE)
            sock.send(URGENT, socket.MSG_OOB)
        sock.send(AFTER)
    except (ConnectionResetError, BrokenPipeError) as exc:
        reset_log.record(sock, sent=None, echoed=0)
        return f"the connection was reset while sending ({exc.strerror})"
    return None


def collect(sock: socket.socket, oob: str, timeout: float) -> tuple[bytes, bytes, str]:
    """Read in-band bytes and any urgent byte until both are complete, EOF, reset or ``timeout``.

    Returns (in-band bytes, urgent bytes, how it ended).
    """
    want_inband = expected_inband(oob)
    want_urgent = URGENT if oob == "urgent" else b""
    inband, urgent = bytearray(), bytearray()
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLPRI)
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    try:
        while len(inband) < len(want_inband) or len(urgent) < len(want_urgent):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(inband), bytes(urgent), "timeout"
            for _, events in poller.poll(remaining * 1000):
                if events & select.POLLPRI:
                    try:
                        urgent += sock.recv(1, socket.MSG_OOB)
                    except OSError as exc:  # EINVAL: mark already read; EAGAIN: not yet here
                        if exc.errno not in (errno.EINVAL, errno.EAGAIN):
                            raise
                if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        reset_log.record(sock, sent=len(BEFORE + URGENT + AFTER), echoed=len(inband))
                        return bytes(inband), bytes(urgent), "RST"
                    if not data:
                        return bytes(inband), bytes(urgent), "EOF"
                    inband += data
        return bytes(inband), bytes(urgent), "complete"
    finally:
        sock.settimeout(timeout)


@check("tcp.urgent.stream-intact")
def test_stream_intact(target, tcp_client, payloads, prompt):
    """send(..., MSG_OOB) marks one byte urgent.  Without SO_OOBINLINE Linux
    takes that single byte out of the stream: a plain server never sees it
    (oob = "discard").  With SO_OOBINLINE it stays in place ("inline").  A
    server may instead read it with recv(MSG_OOB) when select() reports an
    exceptional condition, and send it back urgent ("urgent").

    Rule: Urgent data neither kills the connection nor corrupts the in-band
    stream.

    Pass: the connection survives (a further round trip works) and the in-band
    echo is "abcdef" (discard), "abc!def" (inline), or "abcdef" plus "!"
    received back as urgent data (urgent), as the target's manifest declares.

    Setup: on one connection with TCP_NODELAY the client sends "abc", "!" with
    MSG_OOB, then "def", reads in-band and urgent data, then round-trips 16
    more bytes.

    Attribution: a server that answers no connection at all is
    tcp.echo.roundtrip's finding; this check then says it cannot judge.
    """
    sock = tcp_client(nodelay=True)
    failed = send_with_urgent(sock)
    if failed:
        raise violation(f"urgent data (oob={target.spec.oob})", "the connection to survive urgent data", failed,
                        cause=URGENT_DROPPED)
    inband, urgent, end = collect(sock, target.spec.oob, prompt)
    want = expected_inband(target.spec.oob)
    want_urgent = URGENT if target.spec.oob == "urgent" else b""
    if inband != want or urgent != want_urgent:
        got_urgent = f", urgent {urgent!r}" if urgent or want_urgent else ""
        # The cause: the connection dropped, the urgent byte where another oob policy puts it, or the
        # in-band stream itself broken.
        if end in (EOF_, RESET):
            cause = URGENT_DROPPED
        elif inband in (expected_inband("discard"), expected_inband("inline")):
            cause = OOB_POLICY
        else:
            cause = stream_cause(want, inband, end)
        raise violation(f"urgent data (oob={target.spec.oob})",
                        f"in-band {want!r}" + (f" and urgent {want_urgent!r}" if want_urgent else ""),
                        f"in-band {inband!r}{got_urgent}" + ("" if end == "complete" else f" then {end}"),
                        cause=cause)
    after = payloads.data(16)
    result = exchange(sock, after, expect=len(after), idle_timeout=prompt)
    if result.data != after:
        raise violation("urgent data", "the connection to keep echoing afterwards",
                        f"{len(result.data)} bytes {result.describe_end()}".strip(), cause=URGENT_DROPPED)


def urgent_bytes(segments, from_client: bool) -> list[tuple[int, int | None]]:
    """(stream offset the urgent pointer designates, byte there) for each URG segment of one side.

    Linux follows RFC 793's reading: the pointer is the offset, from the
    segment's sequence number, of the byte *after* the urgent byte.
    """
    stream: dict[int, int] = {}
    for seg in segments:
        if seg.from_client == from_client:
            for i, byte in enumerate(seg.payload):
                stream[seg.seq - 1 + i] = byte
    marks = []
    for seg in segments:
        if seg.from_client == from_client and seg.urgent is not None:
            offset = seg.seq - 1 + seg.urgent - 1
            marks.append((offset, stream.get(offset)))
    return marks


@check("tcp.urgent.wire-pointer")
def test_wire_pointer(target, wire, tcp_client, prompt, note):
    """On the wire, urgent data is a flag (URG) and a pointer in the TCP
    header, not a separate channel.  RFC 793 says the urgent pointer points to
    the byte *following* the urgent data; RFC 1122 corrected it to point *at*
    the last urgent byte, but Linux (like BSD) keeps the RFC 793 meaning
    unless net.ipv4.tcp_stdurg is set: for one urgent byte the pointer is one
    past it.

    Rule: A segment carrying urgent data has URG set and an urgent pointer one
    past the urgent byte.

    Pass: a client segment carries URG with a pointer designating the "!" (one
    past it); for targets with oob = "urgent", a server segment carries URG
    with a pointer designating the echoed "!".

    Setup: with a capture running, the client sends "abc!" in one write with
    MSG_OOB (so the urgent byte leaves in the first data segment, whatever the
    server then does with the connection), then "def", and reads what comes
    back.

    Attribution: what the server does with the connection afterwards is
    tcp.urgent.stream-intact's finding.  A server that answers no connection
    at all is tcp.echo.roundtrip's finding; this check then says it cannot
    judge.
    """
    sock = tcp_client(nodelay=True)
    # What the server does with the connection afterwards is the other check's business.
    send_with_urgent(sock, first=True)
    try:
        inband = collect(sock, target.spec.oob, prompt)[0]
    except ConnectionResetError:
        inband = b""
    wire.wait_for(lambda segs: any(s.urgent is not None for s in segs if s.from_client), prompt)
    segments = wire.segments()
    client_marks = urgent_bytes(segments, from_client=True)
    if not any(offset == URGENT_OFFSET and byte == URGENT[0] for offset, byte in client_marks):
        raise violation("urgent pointer (client)", f"a URG segment whose pointer is one past the urgent byte (stream offset {URGENT_OFFSET})",
                        f"URG marks at {client_marks or 'none'}", cause=CLIENT_URG)
    note(f"client URG pointer designates offset {URGENT_OFFSET} ('!'), one past it on the wire")
    if target.spec.oob == "urgent":
        wire.wait_for(lambda segs: any(s.urgent is not None for s in segs if not s.from_client), prompt)
        server_marks = urgent_bytes(wire.segments(), from_client=False)
        if not any(byte == URGENT[0] for _, byte in server_marks):
            raise violation("urgent pointer (server)", "the server's echo of '!' in a URG segment pointing one past it",
                            f"server URG marks {server_marks or 'none'}; in-band echo {inband!r}")
