"""tcp.close.*: how connections end, and that one peer's abort does not hurt the server."""

from __future__ import annotations

from fixtures.checkmark import check
from fixtures.clients import exchange, send_without_reading, set_linger_reset
from fixtures.verdict import violation

UNREAD = 1024 * 1024


@check("tcp.close.peer-reset")
def test_peer_reset(target, tcp_client, payloads, prompt):
    """A client that aborts its connection must not take the server down.

    The client first round-trips 64 KiB (so the server is serving it), then
    sends 1 MiB without reading the echo, then closes with SO_LINGER {1, 0},
    which sends RST: the server's next read or write on that connection fails
    with ECONNRESET or EPIPE (and SIGPIPE, unless ignored).  Pass: afterwards
    a new client is echoed promptly and the server is still running.
    """
    aborting = tcp_client()
    warmup = payloads.data(64 * 1024, "warmup")
    if exchange(aborting, warmup, expect=len(warmup), idle_timeout=prompt).data != warmup:
        raise violation("peer reset", "the first client's 64 KiB echoed before it aborts", "a different echo")
    sent = send_without_reading(aborting, payloads.data(UNREAD, "unread"), prompt)
    set_linger_reset(aborting)
    aborting.close()
    payload = payloads.data(32)
    try:
        result = exchange(tcp_client(), payload, expect=len(payload), idle_timeout=prompt)
    except ConnectionRefusedError:
        status = target.exited()
        raise violation("peer reset", "the server to keep serving after a client reset",
                        f"connection refused (server exited with status {status})") from None
    if result.data != payload:
        raise violation("peer reset", f"a new client echoed within {prompt:.1f}s after a reset of one that sent {sent} bytes",
                        f"{len(result.data)} bytes {result.describe_end()}".strip())
    if target.exited() is not None:
        raise violation("peer reset", "the server still running", f"it exited with status {target.exited()}")


@check("tcp.close.fin-not-rst")
def test_fin_not_rst(target, wire, tcp_client, payloads, prompt):
    """A server ends a connection with FIN (an orderly close), not RST (an abort).

    close() sends FIN when everything received has been read.  It sends RST
    instead when unread bytes are still in the receive buffer (the peer's
    data would be lost, so TCP aborts), or when SO_LINGER is set with a zero
    timeout (often done to avoid TIME_WAIT).  A RST can destroy data still in
    flight toward the peer.  The client sends 32 bytes, reads the echo and
    closes.  Pass: the capture shows a FIN from the server and no RST in
    either direction.
    """
    sock = tcp_client()
    payload = payloads.data(32)
    exchange(sock, payload, expect=len(payload), idle_timeout=prompt)
    sock.close()

    def closed(segments) -> bool:
        if any("R" in s.flags for s in segments):
            return True
        fins = [s for s in segments if not s.from_client and "F" in s.flags]
        # Done once the client has acknowledged the server's FIN.
        return bool(fins) and any(s.from_client and s.ack >= fins[-1].seq + 1 and "A" in s.flags for s in segments)

    wire.wait_for(closed, prompt)
    segments = wire.segments()
    resets = [s for s in segments if "R" in s.flags]
    if resets:
        who = "client" if resets[0].from_client else "server"
        raise violation("close", "FIN from the server and no RST", f"RST from the {who} ({resets[0].describe()})")
    if not any(not s.from_client and "F" in s.flags for s in segments):
        raise violation("close", f"FIN from the server within {prompt:.1f}s of the client's close", "no FIN")
