"""Why the server reset a connection (sockcheck/judgments/resets.py): each of the kernel's reasons told
from synthetic segments, bytes and exit statuses, the words and the cause (and so the fix hint) each
check's finding carries; then the bundled faulty servers, one per cause, end to end."""

from __future__ import annotations

import signal

import pytest

from sockcheck.capture.ladder import Segment
from sockcheck.judgments import causes
from sockcheck.judgments.close import judge_orderly_close, judge_peer_reset, reset_stage
from sockcheck.judgments.half_close import judge_half_close
from sockcheck.fixtures.resets import mentions_reset
from sockcheck.judgments.resets import describe_reset, explain_reset, reset_seen
from sockcheck.net import reset_log
from sockcheck.net.stream import COMPLETE, RESET
from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.reset_fixes import RESET_FIXES
from selftest.running import BUNDLED_MANIFEST, ROOT

UNREAD_WHY = "(close() → RST, RFC 9293 §3.6.1 / RFC 2525 §2.17)"
SUITES = ROOT / "suites" / "tcp"
# Every TCP check explains a reset its finding met: the judgments of these with the capture they run, the others
# through fixtures/resets.py.
EXPLAINING = tuple(check for check, spec in CATALOGUE.items() if spec.transport == "tcp")


def seg(from_client: bool, flags: str, seq: int = 1, ack: int = 1, payload: bytes = b"") -> Segment:
    return Segment(0.0, from_client, flags, seq, ack, len(payload), None, payload)


HANDSHAKE = [seg(True, "S", 0, 0), seg(False, "SA", 0, 1), seg(True, "A", 1, 1)]


def client_sends(n: int, seq: int = 1) -> Segment:
    return seg(True, "PA", seq, 1, b"c" * n)


def echo(n: int, ack: int) -> Segment:
    return seg(False, "PA", 1, ack, b"c" * n)


# -- each cause from its evidence ----------------------------------------------------------------

def test_everything_echoed_and_an_abort_without_fin_is_so_linger_zero():
    """All 32 bytes came back, the client closed, the server's own socket aborted ([RA]) with no FIN."""
    wire = HANDSHAKE + [client_sends(32), echo(32, 33), seg(True, "FA", 33, 33), seg(False, "RA", 33, 34)]
    assert explain_reset(wire, sent=32, echoed=32, watched=0.2) == (
        causes.RST_LINGER, "SO_LINGER {on, 0} before close(): all 32 bytes the server had received came back (none "
                           "left unread) and no FIN came first; its process was still running 0.2s later")


def test_bytes_received_and_never_echoed_are_unread_input_at_close():
    """The issue's example: 44 bytes sent, 32 echoed, then [RA] acknowledging all 44: 12 were unread."""
    wire = HANDSHAKE + [client_sends(44), echo(32, 45), seg(False, "RA", 33, 45)]
    assert explain_reset(wire, sent=44, echoed=32, watched=0.2) == (
        causes.RST_UNREAD, f"the server closed the connection with 12 unread bytes in its receive buffer {UNREAD_WHY}: "
                           "the server had received 44 bytes and echoed 32, with no FIN first; its process was still running "
                           "0.2s later")


def test_unread_bytes_are_counted_from_what_the_rst_acknowledges():
    """Bytes the client sent after the abort never reached the buffer: the RST's ack bounds what was unread."""
    wire = HANDSHAKE + [client_sends(44), echo(32, 45), seg(False, "RA", 33, 45), client_sends(56, 45)]
    cause, why = explain_reset(wire, sent=100, echoed=32)
    assert cause == causes.RST_UNREAD and "with 12 unread bytes" in why and "received 44 bytes" in why
    assert "process" not in why  # not watched (an unmanaged target): nothing said about it
    one = HANDSHAKE + [client_sends(33), echo(32, 34), seg(False, "RA", 33, 34)]
    assert "with 1 unread byte in" in explain_reset(one, sent=33, echoed=32)[1]


def test_everything_received_echoed_is_linger_even_if_the_client_sent_more_later():
    wire = HANDSHAKE + [client_sends(32), echo(32, 33), seg(False, "RA", 33, 33), client_sends(10, 33)]
    assert explain_reset(wire, sent=42, echoed=32)[0] == causes.RST_LINGER


def test_an_abort_after_the_servers_own_fin_is_still_its_socket():
    """shutdown(SHUT_WR), then close() with SO_LINGER {1, 0}: FIN, then [RA] from the same socket."""
    wire = HANDSHAKE + [client_sends(32), echo(32, 33), seg(False, "FA", 33, 33), seg(False, "RA", 34, 33)]
    cause, why = explain_reset(wire, sent=32, echoed=32)
    assert cause == causes.RST_LINGER and why.endswith("and it aborted after its own FIN")


@pytest.mark.parametrize(("status", "cause", "how"), [
    (-signal.SIGPIPE, causes.SIGPIPE, "died of SIGPIPE (signal 13)"),
    (-signal.SIGSEGV, causes.CRASH, "died of SIGSEGV (signal 11)"),
    (3, causes.EXIT_ON_ERROR, "exited with status 3"),
])
def test_a_process_that_ended_names_its_death_whatever_the_packets(status, cause, how):
    linger_like = HANDSHAKE + [client_sends(32), echo(32, 33), seg(False, "RA", 33, 33)]
    unread_like = HANDSHAKE + [client_sends(44), echo(32, 45), seg(False, "RA", 33, 45)]
    for wire in (linger_like, unread_like, None):
        assert explain_reset(wire, sent=44, echoed=32, status=status, watched=None) == (
            cause, f"the process {how}, and the kernel reset its connections")


def test_a_bare_rst_after_the_servers_fin_answers_data_it_had_no_socket_for():
    """The server closed (FIN) with nothing unread; the client's later bytes got the kernel's [R]."""
    wire = HANDSHAKE + [client_sends(32), echo(32, 33), seg(False, "FA", 33, 33), seg(True, "A", 33, 34),
                        client_sends(10, 33), seg(False, "R", 34, 0)]
    assert explain_reset(wire, sent=42, echoed=32, watched=0.2) == (
        causes.RST_NO_SOCKET, "the port had no socket any more: the server had closed (its FIN, seq=33), and the "
                              "kernel's bare [R] answered the 10 bytes the client sent after it; its process was "
                              "still running 0.2s later")
    fin_only = HANDSHAKE + [client_sends(32), echo(32, 33), seg(False, "FA", 33, 33), seg(True, "FA", 33, 34),
                            seg(False, "R", 34, 0)]
    assert explain_reset(fin_only, sent=32, echoed=32)[1].endswith("answered the client's FIN")


def test_a_bare_rst_without_a_fin_is_still_the_kernel_without_a_socket():
    wire = HANDSHAKE + [client_sends(32), seg(False, "R", 1, 0)]
    cause, why = explain_reset(wire, sent=32, echoed=0)
    assert cause == causes.RST_NO_SOCKET
    assert why == ("the port had no socket any more: a bare [R] is the kernel's answer for a connection it no longer "
                   "has, here to the client's segment [PA] seq=1 ack=1 len=32")


def test_an_rst_answering_the_syn_is_a_port_nothing_listens_on():
    refused = [seg(True, "S", 0, 0), seg(False, "RA", 0, 1)]
    expected = (causes.RST_NO_SOCKET, "the port had no socket any more: nothing listened on it (the RST answered the "
                                      "SYN); its process was still running 2.0s later")
    assert explain_reset(refused, sent=0, echoed=0, watched=2.0) == expected
    assert explain_reset(None, sent=32, echoed=0, watched=2.0, refused=True) == expected


def test_echo_held_in_the_servers_buffers_leaves_unread_and_linger_untold():
    """A client that did not read (tcp.half-close.large) may lose echo the server had read: the same
    packets then fit both causes, and the explanation says so."""
    wire = HANDSHAKE + [client_sends(300000), echo(70000, 300002), seg(False, "RA", 70001, 300002)]
    assert explain_reset(wire, sent=300000, echoed=70000, echo_held=True) == (
        causes.RST_UNTOLD, "230000 of the 300000 bytes the server had received never came back: unread at close() "
                           "(close() → RST) or echo the server held that SO_LINGER {on, 0} discarded; the suite cannot tell "
                           "which from the packets alone")
    # Everything came back: nothing was held, nothing unread.
    full = HANDSHAKE + [client_sends(300000), echo(300000, 300002), seg(False, "RA", 300001, 300002)]
    assert explain_reset(full, sent=300000, echoed=300000, echo_held=True)[0] == causes.RST_LINGER


def test_without_the_rst_on_the_wire_only_the_bytes_speak():
    """No capture (or one that missed the RST: an unmanaged target elsewhere)."""
    assert explain_reset(None, sent=32, echoed=32)[0] == causes.RST_LINGER
    assert explain_reset(HANDSHAKE, sent=32, echoed=32)[0] == causes.RST_LINGER
    assert explain_reset(None, sent=32, echoed=10) == (
        causes.RST_UNTOLD, "the suite cannot tell why from the bytes alone (no capture of the packets)")
    # tcp.half-close.large: a reset after the client's FIN, no EOF first, echo held: the two candidates named.
    assert explain_reset(None, sent=300000, echoed=70000, echo_held=True) == (
        causes.RST_UNTOLD, "230000 of the 300000 bytes the client sent never came back: unread at close() (close() → "
                           "RST) or echo the server held that SO_LINGER {on, 0} discarded; the suite cannot tell which "
                           "from the bytes alone")


def test_the_rst_is_found_and_described_from_the_servers_side():
    client_rst = HANDSHAKE + [seg(True, "R", 1, 0)]
    assert not reset_seen(client_rst) and describe_reset(client_rst) == "" and describe_reset(None) == ""
    wire = client_rst + [seg(False, "RA", 1, 1)]
    assert reset_seen(wire) and describe_reset(wire) == " ([RA] seq=1 ack=1 len=0)"


# -- the checks' findings carry it --------------------------------------------------------------

def test_fin_not_rst_says_why_the_server_reset():
    wire = HANDSHAKE + [client_sends(44), echo(32, 45), seg(True, "FA", 45, 33), seg(False, "RA", 33, 46)]
    finding = judge_orderly_close(wire, 2.0, sent=44, echoed=32, watched=0.2)
    assert str(finding) == (
        "close: expected FIN from the server and no RST; got RST from the server ([RA] seq=33 ack=46 len=0): the "
        f"server closed the connection with 12 unread bytes in its receive buffer {UNREAD_WHY}: the server had received "
        "44 bytes and echoed 32, with no FIN first; its process was still running 0.2s later")
    assert finding.cause == causes.RST_UNREAD
    assert judge_orderly_close(wire, 2.0, sent=44, echoed=32, status=-6).cause == causes.CRASH


def test_half_close_says_why_the_echo_ended_in_a_reset():
    payload = bytes(range(256)) * 256
    wire = HANDSHAKE + [client_sends(65536), seg(True, "FA", 65537, 1), echo(65536, 65538),
                        seg(False, "RA", 65537, 65538)]
    finding = judge_half_close("half-close", payload, payload, RESET, "65536 bytes then EOF within 2.0s",
                               segments=wire, watched=0.2)
    assert str(finding) == (
        "half-close: expected 65536 bytes then EOF within 2.0s; got 65536 identical bytes then RST ([RA] seq=65537 "
        "ack=65538 len=0): SO_LINGER {on, 0} before close(): all 65536 bytes the server had received came back "
        "(none left unread) and no FIN came first; its process was still running 0.2s later")
    assert finding.cause == causes.RST_LINGER
    cut = judge_half_close("half-close", payload, payload[:512], RESET, "x", segments=wire[:-2] + [
        echo(512, 65538), seg(False, "RA", 513, 65538)])
    assert cut.cause == causes.RST_UNREAD and "with 65024 unread bytes" in str(cut)
    # Bytes that came back wrong (here a changed first byte in 512) are the finding's cause; the reset is still
    # explained.
    altered = judge_half_close("half-close", payload, b"x" + payload[1:512], RESET, "x", segments=wire)
    assert altered.cause == causes.DROPPED and "SO_LINGER" not in str(altered) and "unread" in str(altered)


def test_peer_reset_names_the_death_or_the_missing_listener():
    stage = reset_stage(1048576, COMPLETE)
    died = judge_peer_reset(stage, b"n" * 32, b"", RESET, refused=False, exited=True,
                            death="the server died of SIGPIPE", within=2.0, status=-signal.SIGPIPE)
    assert str(died).endswith("got the new client's connection reset: the process died of SIGPIPE (signal 13), and "
                              "the kernel reset its connections")
    assert died.cause == causes.SIGPIPE


@pytest.mark.parametrize("check", EXPLAINING)
def test_every_check_that_explains_a_reset_has_a_hint_for_each_cause(check):
    named = explain_reset.causes
    assert named == {causes.RST_UNREAD, causes.RST_LINGER, causes.RST_NO_SOCKET, causes.RST_UNTOLD, causes.SIGPIPE,
                     causes.CRASH, causes.EXIT_ON_ERROR}
    hints = CATALOGUE[check].hints()
    assert named <= hints.keys()
    assert hints[causes.RST_LINGER] == RESET_FIXES[causes.RST_LINGER]


# -- end to end: one bundled faulty server per cause ----------------------------------------------

# target -> check -> (what its finding must say, the cause whose hint it must carry)
FAULTY = {
    "f-linger-zero": {
        "tcp.close.fin-not-rst": ("got RST from the server ([AR] seq=33 ack=34 len=0): SO_LINGER {on, 0} before "
                                  "close(): all 32 bytes the server had received came back", causes.RST_LINGER),
        "tcp.half-close.eof-after-echo": ("then RST ([AR] seq=65537 ack=65538 len=0): SO_LINGER {on, 0} before close()",
                                          causes.RST_LINGER),
        # echo held, so the bytes cannot tell: a second connection that left nothing unread does
        "tcp.half-close.large": ("then RST: SO_LINGER {on, 0} before close(): ", causes.RST_LINGER),
    },
    "f-close-unread": {
        "tcp.half-close.eof-after-echo": ("then RST ([AR] seq=", causes.RST_UNREAD),
    },
    "f-closes-listener": {
        "tcp.close.peer-reset": ("got connection refused: the port had no socket any more: nothing listened on it (the "
                                 "RST answered the SYN); its process was still running", causes.RST_NO_SOCKET),
    },
    "f-sigpipe-kills": {
        "tcp.close.peer-reset": ("the process died of SIGPIPE (signal 13), and the kernel reset its connections",
                                 causes.SIGPIPE),
    },
}


@pytest.mark.timeout(150)
def test_each_bundled_faulty_server_gets_its_own_reset_explained(sockcheck):
    """The whole way: the check captures and watches, the judgment explains, and the conformance JSON
    carries the explanation in the message and the cause's hint."""
    targets = [arg for name in FAULTY for arg in ("--only-target", name)]
    run = sockcheck.run("--targets-file", str(BUNDLED_MANIFEST), *targets, "-n", "2",
                        "-k", "fin_not_rst or eof_after_echo or peer_reset or test_large",
                        suites=(SUITES / "test_close.py", SUITES / "test_half_close.py"), timeout=120)
    assert run.ret == 0, str(run)  # every finding below is a declared violation, caught
    for target, findings in FAULTY.items():
        for check, (says, cause) in findings.items():
            cell = run.cell(target, check)
            assert cell["outcome"] == "xfailed", (target, check, cell)
            assert says in cell["message"], (target, check, cell["message"])
            assert cell["hint"] == CATALOGUE[check].hint(cause), (target, check, cell)
    assert "a second connection that left the server nothing unread was reset too" in run.cell(
        "f-linger-zero", "tcp.half-close.large")["message"]
    held = run.cell("f-close-unread", "tcp.half-close.large")  # reset before the client's FIN
    assert held["outcome"] == "inconclusive", held
    assert ("the server closed the connection with input unread (close() → RST, RFC 9293 §3.6.1 / RFC 2525 §2.17)"
            in held["message"]) and "a second connection that left it nothing unread got EOF" in held["message"], held
    unread = run.cell("f-close-unread", "tcp.half-close.eof-after-echo")["message"]
    assert "the server closed the connection with " in unread
    assert f"unread bytes in its receive buffer {UNREAD_WHY}" in unread


# -- any other check: the resets its clients met (sockcheck/net/reset_log.py, fixtures/resets.py) ------------

def test_a_reset_socket_still_counts_what_the_server_took_and_echoed():
    """TCP_INFO outlives the RST: the server's kernel took 5000 bytes and echoed 100 of them, whatever the
    client's last call read (Linux drops what the client had not read when the RST comes)."""
    import socket
    import struct

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
        with client, server:
            client.sendall(b"x" * 5000)
            received = b""
            while len(received) < 5000:
                received += server.recv(5000 - len(received))
            server.sendall(received[:100])
            assert client.recv(100) == b"x" * 100
            server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            server.close()
            with pytest.raises(ConnectionResetError):
                while client.recv(100):
                    pass
            reset_log.clear()
            reset_log.record(client, sent=0, echoed=0)
            [met] = reset_log.met()
    assert (met.taken, met.echoed, met.counted, met.echo_held) == (5000, 100, True, False)
    assert met.port == client.getsockname()[1] if client.fileno() >= 0 else met.port
    reset_log.clear()
    assert reset_log.met() == []


@pytest.mark.parametrize(("aborts_anyway", "cause", "says"), [
    (True, causes.RST_LINGER, "SO_LINGER {on, 0} before close(): 4900 of the 5000 bytes the server's kernel had "
                              "acknowledged (the client's TCP_INFO) never came back, and a second connection that "
                              "left the server nothing unread was reset too"),
    (False, causes.RST_UNREAD, f"the server closed the connection with input unread {UNREAD_WHY}: 4900 of the 5000 "
                               "bytes the server's kernel had acknowledged (the client's TCP_INFO) never came back, "
                               "while a second connection that left it nothing unread got EOF"),
    (None, causes.RST_UNTOLD, "4900 of the 5000 bytes the server's kernel had acknowledged (the client's TCP_INFO) "
                              "never came back: unread at close() (close() → RST) or echo the server held that "
                              "SO_LINGER {on, 0} discarded; the suite cannot tell which from the bytes alone"),
])
def test_held_echo_is_settled_by_a_second_connection_that_leaves_nothing_unread(aborts_anyway, cause, says):
    assert explain_reset(None, sent=5000, echoed=100, taken=5000, echo_held=True,
                         aborts_anyway=aborts_anyway) == (cause, says)


def test_bytes_in_flight_at_the_rst_leave_nothing_unread_unproven():
    """The RST overtook the server's acknowledgment of the last bytes (a delayed ACK): all it acknowledged
    was echoed, yet what was in flight may have been unread at close()."""
    cause, why = explain_reset(None, sent=7, echoed=3, taken=3)
    assert cause == causes.RST_UNTOLD
    assert why.startswith("the server echoed all 3 bytes its kernel had acknowledged (the client's TCP_INFO), but 4 "
                          "more were in flight at the RST: unread at close()"), why
    assert explain_reset(None, sent=7, echoed=3, taken=3, aborts_anyway=False)[0] == causes.RST_UNREAD
    assert explain_reset(None, sent=7, echoed=3, taken=3, aborts_anyway=True)[0] == causes.RST_LINGER
    assert explain_reset(None, sent=3, echoed=3, taken=3)[0] == causes.RST_LINGER  # nothing in flight
    assert explain_reset(None, sent=0, echoed=0, taken=0) == (
        causes.RST_UNTOLD, "the server reset the connection before the client had sent a byte: with nothing unread, an "
                           "abortive close (SO_LINGER {on, 0}) or a connection its listener never accepted; the suite "
                           "cannot tell which without a capture")
    assert explain_reset(None, sent=7, echoed=0, taken=0)[1].startswith(
        "the 7 bytes the client sent were all in flight at the RST, none acknowledged (the client's TCP_INFO): unread")


def test_the_kernels_counts_tell_unread_input_from_a_linger_abort():
    assert explain_reset(None, sent=5000, echoed=100, taken=5000, watched=0.2) == (
        causes.RST_UNREAD, f"the server closed the connection with 4900 unread bytes in its receive buffer {UNREAD_WHY}: "
                           "the server's kernel had acknowledged 5000 bytes (the client's TCP_INFO) and echoed 100; its "
                           "process was still running 0.2s later")
    assert explain_reset(None, sent=5000, echoed=5000, taken=5000)[0] == causes.RST_LINGER
    assert explain_reset(None, sent=5000, echoed=100, taken=5000, echo_held=True)[0] == causes.RST_UNTOLD


@pytest.mark.parametrize(("text", "speaks"), [
    ("echo: expected 32 bytes; got 0 of 32 bytes then RST", True),
    ("connection #2: reset after 3 of 16 bytes", True),
    ("got ConnectionResetError: [Errno 104] Connection reset by peer", True),
    ("the server resets the connection before answering", True),
    ("the server reset the connection after taking 74888 bytes", True),
    ("the connection was reset while sending (Connection reset by peer)", True),
    ("cannot judge x: got 3 bytes then EOF (see tcp.close.peer-reset)", False),
    ("cannot judge peer reset: the warm-up came back as 3 bytes then nothing (timed out)", False),
    ("expected a new client echoed after a reset by a client that had sent 5 bytes; got 0 bytes then EOF", False),
])
def test_a_finding_speaks_of_a_reset_in_its_own_words_not_in_a_checks_name(text, speaks):
    assert mentions_reset(text) is speaks


# target -> check -> (what its finding must say, the cause whose hint it must carry), through fixtures/resets.py
MET = {
    "f-close-unread": {
        "tcp.echo.large": ("then RST: the server closed the connection with ", causes.RST_UNREAD),
        "tcp.stream.coalesced": ("then RST: the server closed the connection with 688 unread bytes", causes.RST_UNREAD),
        # the check's own cause (the connection ended at the urgent byte) keeps its hint; the reset comes
        # while the client reads or, on a busy machine, while it still sends
        "tcp.urgent.stream-intact": (": the server closed the connection with ", causes.URGENT_DROPPED),
    },
    "f-dies-on-urgent": {
        "tcp.urgent.stream-intact": (": the server closed the connection with ", causes.URGENT_DROPPED),
    },
}
# Its child closes the client's socket, with the client's bytes unread (RST) or, on a busy machine, before
# they came (FIN): every other check asks a fresh launch whether it answers at all, and says how it ended.
TURNS_AWAY = "f-fork-closes-wrong-fd"


@pytest.mark.timeout(150)
def test_every_other_check_that_met_a_reset_says_why(sockcheck):
    """Checks whose judgments know nothing of resets: the fixture explains from the client's kernel counts."""
    targets = [arg for name in (*MET, TURNS_AWAY) for arg in ("--only-target", name)]
    run = sockcheck.run("--targets-file", str(BUNDLED_MANIFEST), *targets, "-n", "2",
                        "-k", "test_large or test_roundtrip or test_coalesced or test_stream_intact",
                        suites=(SUITES / "test_echo.py", SUITES / "test_stream.py", SUITES / "test_urgent.py"),
                        timeout=120)
    assert run.ret == 0, str(run)
    for target, findings in MET.items():
        for check, (says, cause) in findings.items():
            cell = run.cell(target, check)
            assert cell["outcome"] == "xfailed", (target, check, cell)
            assert says in cell["message"], (target, check, cell["message"])
            assert UNREAD_WHY in cell["message"], (target, check, cell["message"])
            assert cell["hint"] == CATALOGUE[check].hint(cause), (target, check, cell)
    # The probe of a fresh launch does not explain its reset: tcp.echo.roundtrip's finding does, and the
    # inconclusive checks it stops read the same, folded into one line.
    probe = run.cell(TURNS_AWAY, "tcp.echo.large")
    assert probe["outcome"] == "inconclusive", probe
    assert "gave nothing back); its log: " in probe["message"], probe
