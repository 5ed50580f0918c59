"""The TCP checks' judgments (sockcheck/judgments/) as pure functions of plain values, tested on synthetic
data (no sockets, no targets): for each, the passing shape and every failing one, with the words the
verdict says and the cause it names (which picks the fix hint)."""

from __future__ import annotations

import pytest

from sockcheck.judgments.model import (EVENT_LOOP_EPOLL, EVENT_LOOP_SELECT, ONE_AT_A_TIME, POOL,
                                       PROCESS_PER_CONNECTION, THREAD_PER_CONNECTION, Observation, claim_disagrees,
                                       observed_model)
from sockcheck.capture.ladder import Segment
from sockcheck.judgments import causes
from sockcheck.judgments.close import (close_settled, describe_death, judge_orderly_close, judge_peer_reset,
                                       judge_warmup, reset_stage, reset_while_not_reading)
from sockcheck.judgments.concurrency import (accept_queue_overflowed, burst_cause, describe_next_served,
                                             describe_waves, judge_own_bytes, served_figures, shortfall_cause,
                                             stolen_bytes, waves)
from sockcheck.judgments.half_close import describe_push, judge_half_close
from sockcheck.judgments.limits import Tally, select_death
from sockcheck.judgments.nagle import data_segments, judge_nagle
from sockcheck.judgments.process import (fds_back, forks_for_a_client, judge_fd_cycle, judge_fd_growth, leaks_at_once,
                                         judge_fd_warmup, judge_shutdown, judge_zombies, reaped, serves_one_at_a_time,
                                         unechoed_connection)
from sockcheck.net.stream import COMPLETE, EOF_, RESET, STALLED, TIMEOUT
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, Violation, ordinal

PAYLOAD = bytes(range(1, 256)) * 257  # 65535 bytes, none of them NUL


def seg(from_client: bool, flags: str, seq: int = 1, ack: int = 1, payload: bytes = b"") -> Segment:
    """One captured segment, sequence numbers relative as the capture gives them."""
    return Segment(0.0, from_client, flags, seq, ack, len(payload), None, payload)


# A client sends 32 bytes, the server echoes them, the client closes first: the orderly end.
HANDSHAKE = [seg(True, "S", 0, 0), seg(False, "SA", 0, 1), seg(True, "A", 1, 1)]
EXCHANGE = [seg(True, "PA", 1, 1, b"x" * 32), seg(False, "PA", 1, 33, b"x" * 32), seg(True, "A", 33, 33)]
CLIENT_FIN = [seg(True, "FA", 33, 33), seg(False, "A", 33, 34)]
SERVER_FIN = seg(False, "FA", 33, 34)
LAST_ACK = seg(True, "A", 34, 34)


def expect_violation(finding, text: str, level: str | None = None, cause: str | None = "any") -> None:
    assert isinstance(finding, Violation), finding
    assert str(finding) == text
    assert finding.level == level
    if cause != "any":
        assert finding.cause == cause


def expect_inconclusive(finding, text: str, owner: str) -> None:
    assert type(finding) is Inconclusive, finding
    assert str(finding) == text
    assert finding.owner == owner


# tcp.half-close.*

def test_half_close_passes_all_bytes_then_eof():
    assert judge_half_close("half-close", PAYLOAD, PAYLOAD, EOF_, "65535 bytes then EOF within 2.0s") is None


@pytest.mark.parametrize(("received", "end", "got", "cause"), [
    (PAYLOAD[:40960], EOF_, "40960 of 65535 bytes (a correct prefix, the rest missing) then EOF", causes.CLOSED_EARLY),
    (PAYLOAD, RESET, "65535 identical bytes then RST: SO_LINGER {on, 0} before close(): all 65535 bytes the client "
                     "sent came back (none left unread), then an RST instead of EOF", causes.RST_LINGER),
    (PAYLOAD, TIMEOUT, "65535 identical bytes then nothing (timed out)", causes.NO_EOF),
    (PAYLOAD[:100] + b"\0" + PAYLOAD[101:], EOF_,
     "65535 bytes (expected 65535), first difference at offset 100 then EOF", causes.ALTERED),
    (PAYLOAD + b"more", EOF_, "65539 bytes (expected 65535), first difference at offset 65535 then EOF",
     causes.EXTRA_BYTES),
], ids=["cut-then-eof", "all-then-reset", "all-then-silence", "altered", "longer"])
def test_half_close_fails_each_other_ending(received, end, got, cause):
    finding = judge_half_close("half-close", PAYLOAD, received, end, "65535 bytes then EOF within 2.0s")
    expect_violation(finding, f"half-close: expected 65535 bytes then EOF within 2.0s; got {got}", cause=cause)


def test_half_close_words_how_far_the_push_got():
    assert describe_push(COMPLETE, 4194304, 4194304, 0.3) == (
        "the server took all 4194304 bytes while the client did not read")
    assert describe_push(STALLED, 180000, 4194304, 0.6) == (
        "the server took 180000 of 4194304 bytes, then stopped reading")
    assert describe_push(TIMEOUT, 3000000, 4194304, 8.04) == "the server took 3000000 of 4194304 bytes in 8.0s"


# tcp.close.fin-not-rst

def test_close_settles_on_a_reset_or_on_the_servers_fin_acknowledged():
    assert not close_settled([])
    assert not close_settled(HANDSHAKE + EXCHANGE + CLIENT_FIN)  # the server has not closed yet
    assert not close_settled(HANDSHAKE + EXCHANGE + CLIENT_FIN + [SERVER_FIN])  # its FIN not yet acknowledged
    assert close_settled(HANDSHAKE + EXCHANGE + CLIENT_FIN + [SERVER_FIN, LAST_ACK])
    assert close_settled(HANDSHAKE + EXCHANGE + [seg(False, "RA", 33, 33)])


def test_orderly_close_passes_fin_and_no_reset():
    assert judge_orderly_close(HANDSHAKE + EXCHANGE + CLIENT_FIN + [SERVER_FIN, LAST_ACK], 2.0, sent=32,
                               echoed=32) is None


def test_orderly_close_fails_a_reset_from_either_side_even_after_a_fin():
    server_rst = HANDSHAKE + EXCHANGE + CLIENT_FIN + [seg(False, "RA", 33, 34)]
    expect_violation(judge_orderly_close(server_rst, 2.0, sent=32, echoed=32),
                     "close: expected FIN from the server and no RST; got RST from the server ([RA] seq=33 ack=34 "
                     "len=0): SO_LINGER {on, 0} before close(): all 32 bytes the server had received came back (none "
                     "left unread) and no FIN came first", cause=causes.RST_LINGER)
    client_rst = HANDSHAKE + EXCHANGE + CLIENT_FIN + [SERVER_FIN, seg(True, "R", 34, 0)]
    expect_violation(judge_orderly_close(client_rst, 2.0, sent=32, echoed=32),
                     "close: expected FIN from the server and no RST; got RST from the client ([R] seq=34 ack=0 "
                     "len=0): the client's kernel answered a segment of the server's that came after the client's "
                     "close", cause=causes.CLIENT_RST)
    late_echo = HANDSHAKE + [seg(True, "PA", 1, 1, b"x" * 32)] + CLIENT_FIN[:1] + [
        seg(False, "PA", 1, 34, b"x" * 32), seg(True, "R", 34, 0)]  # the echo came only after the client closed
    expect_violation(judge_orderly_close(late_echo, 2.0, sent=32, echoed=0),
                     "close: expected FIN from the server and no RST; got RST from the client ([R] seq=34 ack=0 "
                     "len=0): the client closed with 32 of the server's bytes unread or still to come, and its kernel "
                     "reset the connection (close() → RST)", cause=causes.CLIENT_RST)


def test_orderly_close_fails_a_server_that_never_sends_fin():
    expect_violation(judge_orderly_close(HANDSHAKE + EXCHANGE + CLIENT_FIN, 2.0, sent=32, echoed=32),
                     "close: expected FIN from the server within 2.0s of the client's close; got no FIN",
                     cause=causes.NO_FIN)


# tcp.close.peer-reset

def test_peer_reset_setup_needs_the_warmup_echoed():
    assert judge_warmup(PAYLOAD, PAYLOAD, COMPLETE) is None
    expect_inconclusive(judge_warmup(PAYLOAD, b"", RESET),
                        "cannot judge peer reset: the aborting client's 65535-byte warm-up came back as 0 of 65535 "
                        "bytes (a correct prefix, the rest missing) then RST (see tcp.echo.large)", "tcp.echo.large")


def test_a_reset_while_the_client_does_not_read_is_the_slow_reader_checks_finding():
    expect_inconclusive(reset_while_not_reading("peer reset", 812000, "the client's reset"),
                        "cannot judge peer reset: the server reset the connection after taking 812000 bytes from a "
                        "client that was not reading, before the client's reset (see tcp.backpressure.slow-reader)",
                        "tcp.backpressure.slow-reader")


def test_peer_reset_stage_says_whether_the_server_took_everything():
    assert reset_stage(1048576, COMPLETE) == "after a reset by a client that had sent 1048576 bytes unread (all taken)"
    assert reset_stage(573444, STALLED) == ("after a reset by a client that had sent 573444 bytes unread "
                                            "(the server had stopped taking more)")


def test_a_dead_server_is_named_by_its_signal_or_status():
    assert describe_death(-13, 2.0) == "the server died of SIGPIPE"
    assert describe_death(-9, 2.0) == "the server died of SIGKILL"
    assert describe_death(-99, 2.0) == "the server died of signal 99"
    assert describe_death(1, 2.0) == "the server exited with status 1"
    assert describe_death(0, 2.0) == "the server exited with status 0"
    assert describe_death(None, 2.0) == ("the server is no longer listening, but its process was still running "
                                         "2.0s later")


STAGE = reset_stage(1048576, COMPLETE)


def test_peer_reset_passes_a_running_server_that_echoes_a_new_client():
    assert judge_peer_reset(STAGE, b"n" * 32, b"n" * 32, COMPLETE, refused=False, exited=False, death="",
                            within=2.0) is None


def test_peer_reset_fails_a_refused_connect_first():
    finding = judge_peer_reset(STAGE, b"n" * 32, b"", RESET, refused=True, exited=True,
                               death="the server died of SIGPIPE", within=2.0, status=-13)
    expect_violation(finding, f"peer reset: expected the server to keep serving {STAGE}; got connection refused: "
                              "the process died of SIGPIPE (signal 13), and the kernel reset its connections",
                     cause=causes.SIGPIPE)


def test_a_refused_connect_to_a_running_server_is_a_port_without_a_socket():
    finding = judge_peer_reset(STAGE, b"n" * 32, b"", RESET, refused=True, exited=False, death="", within=2.0,
                               watched=2.0)
    expect_violation(finding, f"peer reset: expected the server to keep serving {STAGE}; got connection refused: "
                              "the port had no socket any more: nothing listened on it (the RST answered the SYN); "
                              "its process was still running 2.0s later", cause=causes.RST_NO_SOCKET)
    unmanaged = judge_peer_reset(STAGE, b"n" * 32, b"", RESET, refused=True, exited=False, death="", within=2.0)
    assert str(unmanaged).endswith("(the RST answered the SYN)")  # its process is not ours to watch


def test_peer_reset_fails_a_server_that_exited():
    finding = judge_peer_reset(STAGE, b"n" * 32, b"n" * 32, COMPLETE, refused=False, exited=True,
                               death="the server exited with status 1", within=2.0)
    expect_violation(finding, f"peer reset: expected the server still running {STAGE}; "
                              "got the server exited with status 1", cause=None)
    with_status = judge_peer_reset(STAGE, b"n" * 32, b"n" * 32, COMPLETE, refused=False, exited=True,
                                   death="the server exited with status 1", within=2.0, status=1)
    assert with_status.cause == causes.EXIT_ON_ERROR  # exit() on the error instead of closing that client


@pytest.mark.parametrize(("received", "end", "got"), [
    (b"", TIMEOUT, "0 bytes then nothing (timed out)"),
    (b"n" * 10, RESET, "10 bytes then RST: the suite cannot tell why from the bytes alone (no capture of the "
                       "packets)"),
    (b"m" * 32, COMPLETE, "32 bytes"),
])
def test_peer_reset_fails_a_new_client_not_echoed(received, end, got):
    finding = judge_peer_reset(STAGE, b"n" * 32, received, end, refused=False, exited=False, death="", within=2.0)
    expect_violation(finding, f"peer reset: expected a new client echoed within 2.0s {STAGE}; got {got}")


# tcp.nagle.small-writes

TINY = bytes(range(1, 201)) * 5  # 1000 one-byte writes


def client_data(*lengths: int) -> list[Segment]:
    """Client segments carrying TINY in pieces of these lengths, with the server's ACKs between them."""
    segments, offset = list(HANDSHAKE), 0
    for length in lengths:
        segments.append(seg(True, "PA", 1 + offset, 1, TINY[offset:offset + length]))
        offset += length
        segments.append(seg(False, "A", 1, 1 + offset))
    return segments


def test_nagle_counts_only_the_clients_data_segments():
    assert data_segments(client_data(1, 999)) == 2
    assert data_segments(HANDSHAKE) == 0


def test_nagle_passes_coalesced_writes_echoed_intact():
    assert judge_nagle(TINY, TINY, COMPLETE, client_data(1, 400, 599), 2.0) is None


def test_nagle_fails_coalesced_writes_that_come_back_altered():
    altered = TINY[:500] + b"\0" + TINY[501:]
    expect_violation(judge_nagle(TINY, altered, COMPLETE, client_data(1, 999), 2.0),
                     "nagle: expected the 1000 bytes of coalesced tiny writes echoed intact; "
                     "got 1000 bytes (expected 1000), first difference at offset 500")


def test_nagle_blames_a_server_that_ended_the_connection_before_the_client_sent_everything():
    expect_violation(judge_nagle(TINY, TINY[:1], RESET, client_data(1, 300), 2.0),
                     "nagle: expected the 1000 bytes of tiny writes echoed intact; "
                     "got 1 of 1000 bytes (a correct prefix, the rest missing) then RST")


@pytest.mark.parametrize(("received", "end"), [(TINY[:301], TIMEOUT), (TINY, EOF_)],
                         ids=["server-still-there", "echo-complete"])
def test_nagle_short_capture_is_the_harnesss_error_not_the_servers(received, end):
    finding = judge_nagle(TINY, received, end, client_data(1, 300), 2.0)
    assert type(finding) is AssertionError
    assert str(finding) == "nagle: the capture showed 301 of the 1000 bytes within 2s: cannot count the segments"


def test_nagle_without_coalescing_has_nothing_to_test():
    finding = judge_nagle(TINY, TINY, COMPLETE, client_data(*[1] * 1000), 2.0)
    assert type(finding) is AssertionError
    assert str(finding) == "nagle: the kernel sent 1000 segments for 1000 writes: no coalescing to test"


# tcp.process.*

def test_an_unechoed_connection_is_the_first_or_the_concurrency_checks_finding():
    expect_inconclusive(unechoed_connection("zombies (round 1)", 0, 32, "0 of 16 bytes then EOF"),
                        "cannot judge zombies (round 1): connection #1 of 32, opened while 0 were held open, was not "
                        "echoed (0 of 16 bytes then EOF) (see tcp.echo.roundtrip)", "tcp.echo.roundtrip")
    later = unechoed_connection("shutdown", 2, 3, "TimeoutError: timed out")
    assert later.owner == "tcp.concurrency.parallel"
    assert "connection #3 of 3, opened while 2 were held open" in str(later)


def test_zombies_pass_when_every_child_is_reaped():
    assert reaped(0, 0, 0) and reaped(2, 0, 2)  # a pre-forked pool stays
    assert judge_zombies(0, 0, 0, clients=32, round_number=1, within=2.0) is None


@pytest.mark.parametrize(("live", "zombies", "got"), [
    (0, 31, "31 zombie(s) and 0 live child(ren) after round 2 (baseline 0)"),
    (3, 0, "0 zombie(s) and 3 live child(ren) after round 2 (baseline 0)"),
    (1, 1, "1 zombie(s) and 1 live child(ren) after round 2 (baseline 0)"),
], ids=["zombies", "children-left-running", "both"])
def test_zombies_fail_a_zombie_or_a_child_left(live, zombies, got):
    assert not reaped(live, zombies, 0)
    expect_violation(judge_zombies(live, zombies, 0, clients=32, round_number=2, within=2.0),
                     f"zombies: expected no zombie children 2.0s after 32 clients disconnected together; got {got}")


def test_fd_cycles_pass_each_echo():
    assert judge_fd_cycle(4, b"e" * 32, b"e" * 32, COMPLETE) is None


@pytest.mark.parametrize("end", ["ConnectionRefusedError", EOF_, RESET, TIMEOUT])
def test_an_fd_cycle_turned_away_is_not_a_leak(end):
    expect_inconclusive(judge_fd_cycle(4, b"e" * 32, b"", end),
                        f"cannot judge fd leak: cycle 5 was turned away ({end}) after 4 cycles were served "
                        "(see tcp.limits.select-fd)", "tcp.limits.select-fd")


@pytest.mark.parametrize(("received", "end", "got"), [
    (b"e" * 3, EOF_, "3 bytes then EOF"),
    (b"f" * 32, COMPLETE, "32 bytes"),
], ids=["cut", "other-bytes"])
def test_an_fd_cycle_not_echoed_fails(received, end, got):
    expect_violation(judge_fd_cycle(4, b"e" * 32, received, end), f"fd leak: expected cycle 5 echoed; got {got}")


def test_fd_counts_need_the_warmup_echoed():
    assert judge_fd_warmup(b"w" * 32, b"w" * 32) is None
    expect_inconclusive(judge_fd_warmup(b"w" * 32, b""),
                        "cannot judge fd leak: the warm-up connection was not echoed (0 of 32 bytes (a correct "
                        "prefix, the rest missing)) (see tcp.echo.roundtrip)", "tcp.echo.roundtrip")


def test_fds_are_back_within_two_of_the_baseline():
    assert fds_back(6, 6) and fds_back(8, 6) and fds_back(5, 6)
    assert not fds_back(9, 6)


def test_fd_growth_passes_a_bounded_cache():
    assert judge_fd_growth(6, 20, 22, cycles=300) is None
    assert judge_fd_growth(6, 81, None, cycles=300) is None  # 75 more: a second batch must tell


def test_fd_growth_of_one_in_four_connections_or_more_is_a_leak_at_once():
    assert not leaks_at_once(6, 81, 300) and leaks_at_once(6, 82, 300)
    expect_violation(judge_fd_growth(6, 106, None, cycles=300, eof_missing=2),
                     "fd leak: expected at most 8 open fds (baseline 6 + 2) after 300 cycles; got 106 after 300 (100 "
                     "more: more than one in 4 connections, which no cache keeps); a half-closed connection got no EOF")


@pytest.mark.parametrize(("eof_missing", "extra"), [(0, ""), (1, "; a half-closed connection got no EOF")])
def test_fd_growth_fails_a_leak_that_grows_with_every_batch(eof_missing, extra):
    expect_violation(judge_fd_growth(6, 106, 206, cycles=300, eof_missing=eof_missing),
                     "fd leak: expected at most 8 open fds (baseline 6 + 2) after 300 cycles, or no growth in 300 "
                     f"more; got 106 after 300 (100 more), 206 after 600{extra}")


def test_shutdown_passes_a_tree_gone():
    assert judge_shutdown(0, True, [], within=3.0, graceful=True) is None
    assert judge_shutdown(-15, True, [], within=3.0, graceful=False) is None  # no claim, any status


def test_shutdown_fails_a_server_still_running():
    expect_violation(judge_shutdown(None, False, [41, 42], within=3.0, graceful=False),
                     "shutdown: expected the whole process tree gone within 3s of SIGTERM; "
                     "got the server still running (2 process(es))", cause=causes.IGNORES_SIGTERM)


def test_shutdown_fails_orphaned_children():
    expect_violation(judge_shutdown(0, False, [43, 44, 45], within=3.0, graceful=False),
                     "shutdown: expected the whole process tree gone within 3s of SIGTERM; "
                     "got the server exited with status 0 but 3 orphaned child(ren) still run (pid 43, 44, 45)",
                     cause=causes.ORPHANS)


@pytest.mark.parametrize("status", [1, -15])
def test_shutdown_fails_a_claimed_graceful_exit_that_is_not(status):
    expect_violation(judge_shutdown(status, True, [], within=3.0, graceful=True),
                     f"shutdown: expected exit status 0 (the target claims graceful-shutdown); got status {status}",
                     cause=causes.EXIT_STATUS)


# tcp.concurrency.*

def test_waves_split_where_arrivals_pause():
    """Handshakes that waited for SYN retransmission come in waves a second or more apart."""
    times = [0.01] * 6 + [1.02] * 60 + [3.05] * 134
    assert waves(times) == 3
    assert describe_waves(times) == "6 within 0.01s, 66 by 1.02s, 200 by 3.05s"
    assert waves([0.1, 0.5, 0.9]) == 1 and describe_waves([0.1, 0.5, 0.9]) == "3 within 0.90s"
    assert describe_waves([]) == "none" and waves([]) == 0


def test_served_figures_count_the_served_and_the_waiting():
    expected = [b"a" * 8, b"b" * 8, b"c" * 8]
    assert served_figures(expected, expected, 3, 2.0) == "3 of 3 served at once"
    received = [b"a" * 8, b"b" * 4, b""]
    assert served_figures(received, expected, 4, 2.0) == ("2 of 4 served at once (1 of them only partly: they "
                                                         "stalled); 1 connected but got no byte back within 2.0s")


def test_stolen_bytes_names_whose_they_were():
    expected = [bytes([i]) * 32 for i in range(3)]
    assert stolen_bytes([expected[0], expected[2], b""], expected) == (
        "client #2 got 32 bytes that are not its own: bytes of client #3")
    assert stolen_bytes([expected[0], b"\xff" * 8, b""], expected) == "client #2 got 8 bytes that are not its own"
    assert stolen_bytes([e[:10] for e in expected], expected) is None


def test_another_clients_bytes_are_a_must_level_finding():
    expected = [bytes([i]) * 32 for i in range(1, 4)]
    assert judge_own_bytes("parallel clients", 64, [e[:5] for e in expected], expected) is None
    expect_violation(judge_own_bytes("burst accept", 200, [expected[1], b"", b""], expected),
                     "burst accept: expected each of 200 clients to get exactly its own bytes; "
                     "got client #1 got 32 bytes that are not its own: bytes of client #2", level=MUST,
                     cause=causes.CROSSED)
    # Bytes of nobody's: what the server did to the client's own (a newline added), not a crossed descriptor.
    added = judge_own_bytes("parallel clients", 64, [expected[0] + b"\n", b"", b""], expected)
    assert added.level == MUST and added.cause == causes.EXTRA_BYTES


def test_an_overflowed_accept_queue_is_the_burst_checks_finding():
    expected = [b"a" * 8, b"b" * 8]
    connected = "2 of 64 connected (1 handshake still pending after 2.0s)"
    assert accept_queue_overflowed(expected, expected, "64 of 64 connected", None, 2.0) is None  # all connected
    assert accept_queue_overflowed([b"a" * 8, b""], expected, connected, "1 handshake still pending", 2.0) is None
    expect_inconclusive(accept_queue_overflowed(expected, expected, connected, "1 handshake still pending", 2.0),
                        "cannot judge parallel clients: 2 of 64 connected (1 handshake still pending after 2.0s), one "
                        "handshake at a time, within 2.0s, and all of those were served: the server's accept queue "
                        "overflowed (see tcp.concurrency.burst-accept)", "tcp.concurrency.burst-accept")


# tcp.limits.*

def test_select_fd_progress_and_ordinals():
    tally = Tally(1100, echoed=960, closed=2)
    tally.count("echoed")
    assert tally.progress(963) == "connection #964 of 1100, after 961 echoed and held, 2 closed by the server"
    assert tally.progress(1100) == "all 1100 connections: 961 echoed and held, 2 closed by the server"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 41, 111, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "41st", "111th", "112th"]


def test_a_select_server_that_died_is_named_by_its_fortify_abort_or_its_signal():
    assert select_death(-6, "*** bit out of range 0 - FD_SETSIZE on fd_set ***: terminated\n") == (
        "the server died of signal 6: glibc's FORTIFY check aborted it ('*** bit out of range 0 - FD_SETSIZE on "
        "fd_set ***': FD_SET on an fd >= 1024)")
    assert select_death(-11, "") == (
        "the server died of signal 11 (memory corruption: FD_SET on an fd >= 1024 writes past the fd_set)")
    assert select_death(1, "") == "the server died (status 1)"


# -- the observed model, and clients never served ------------------------------------------

@pytest.mark.parametrize(("seen", "model"), [
    (Observation(served=1, processes=0, threads=0, epoll=False), ONE_AT_A_TIME),
    (Observation(served=64, processes=64, threads=64, epoll=False), PROCESS_PER_CONNECTION),
    (Observation(served=64, processes=40, threads=40, epoll=False), PROCESS_PER_CONNECTION),  # some already left
    (Observation(served=64, processes=0, threads=64, epoll=False), THREAD_PER_CONNECTION),
    (Observation(served=64, processes=0, threads=0, epoll=True, base_threads=20), EVENT_LOOP_EPOLL),  # a JVM
    (Observation(served=64, processes=0, threads=0, epoll=False), EVENT_LOOP_SELECT),
    (Observation(served=64, processes=0, threads=0, epoll=False, base_threads=8), POOL),
    (Observation(served=64, processes=0, threads=4, epoll=False), POOL),
])
def test_the_model_is_read_off_the_tree_while_clients_are_served(seen, model):
    assert observed_model(seen) == model


def test_a_model_claim_is_checked_against_what_was_seen():
    assert claim_disagrees("thread", PROCESS_PER_CONNECTION)
    assert claim_disagrees("select", EVENT_LOOP_EPOLL)  # Python's DefaultSelector is epoll
    assert not claim_disagrees("asyncio", EVENT_LOOP_EPOLL)
    assert not claim_disagrees("process", PROCESS_PER_CONNECTION)
    assert not claim_disagrees("other", ONE_AT_A_TIME)  # "other" claims nothing


def test_clients_never_served_are_lost_and_late_ones_are_a_figure():
    lost, stuck = describe_next_served(served=3, waiting=61, waited_before=2.0, firsts=[], within=2.0)
    assert stuck and "61 connected client(s) got no byte back while 3 other(s) were served" in lost
    assert shortfall_cause(3, stuck) == causes.NEVER_SERVED  # the fd handed by pointer, not by value
    late, stuck = describe_next_served(served=1, waiting=63, waited_before=2.0, firsts=[0.01], within=2.0)
    assert not stuck and "the 2nd waited 2.0s" in late and "serves at most one client at once" in late
    assert shortfall_cause(1, stuck) == causes.ONE_AT_A_TIME and shortfall_cause(40, False) == causes.LIMIT
    assert burst_cause(40, False, retransmitted=True) == causes.BACKLOG
    assert burst_cause(40, True, retransmitted=True) == causes.NEVER_SERVED
    # Clients cut short, part of their bytes and then nothing: a read that does not drain the socket.
    assert shortfall_cause(64, False, partly=3) == causes.STALLED
    assert burst_cause(64, False, retransmitted=True, partly=3) == causes.STALLED


def test_one_client_at_a_time_and_forking_are_observed():
    assert serves_one_at_a_time(1, b"", "timeout")
    assert not serves_one_at_a_time(1, b"", "EOF")  # closed on it: not waiting its turn
    assert not serves_one_at_a_time(2, b"", "timeout")  # only the second client tells
    assert forks_for_a_client(baseline_live=0, live=1, zombies=0)
    assert forks_for_a_client(baseline_live=2, live=2, zombies=1)  # a child already gone, unreaped
    assert not forks_for_a_client(baseline_live=1, live=1, zombies=0)


def test_a_server_that_ends_with_clients_connected_loses_them():
    from sockcheck.judgments.causes import SERVER_EXITED
    from sockcheck.judgments.concurrency import burst_cause, gone_with_clients, shortfall_cause

    assert gone_with_clients(None) == ""
    assert "the server exited with status 0 on its own, with clients still connected" in \
        gone_with_clients("exited with status 0")
    assert shortfall_cause(1, stuck=False, exited=True) == SERVER_EXITED
    assert burst_cause(5, stuck=False, retransmitted=True, exited=True) == SERVER_EXITED
    assert shortfall_cause(1, stuck=False) != SERVER_EXITED
