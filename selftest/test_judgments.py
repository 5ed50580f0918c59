"""The UDP checks' judgments (sockcheck/judgments/udp.py) as pure functions of plain values, tested on
synthetic data (no sockets): what counts as a merged, split or cut datagram, a lost or altered one, whose
replies reached whom, and the verdict each check raises from that, with the cause it names."""

from __future__ import annotations

from sockcheck.judgments import causes
from sockcheck.judgments.udp import (Reached, as_concatenation, boundaries_finding, carries, judge_boundaries,
                                     judge_burst, judge_connected_client, judge_reply_to_sender, sizes,
                                     sort_replies, tally_burst)
from sockcheck.net.payloads import Payloads
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, Violation

ONE, MID, BIG = b"\x01", bytes(range(1, 201)) * 3 + b"\x07" * 100, bytes(range(2, 202)) * 7
SENT = [ONE, MID, BIG]


def test_a_merge_is_named_by_its_parts():
    assert as_concatenation(ONE + MID + BIG, SENT) == [ONE, MID, BIG]
    assert as_concatenation(MID + ONE, SENT) == [MID, ONE]
    assert as_concatenation(MID, SENT) is None  # one datagram is no merge
    assert as_concatenation(MID[:100], SENT) is None  # a cut one is not either


def test_boundaries_judge_each_reply_against_what_was_sent():
    assert judge_boundaries(SENT, [BIG, ONE, MID]) == ([], 0)  # order does not matter
    assert judge_boundaries(SENT, [ONE, ONE, MID, BIG]) == ([], 0)  # an echo twice is no boundary fault
    wrong, lost = judge_boundaries(SENT, [ONE + MID + BIG])
    assert len(wrong) == 1 and "merged" in wrong[0] and lost == 0  # merged, but nothing lost
    wrong, lost = judge_boundaries(SENT, [ONE, MID, BIG[:1024]])
    assert len(wrong) == 1 and lost == 1  # cut: the 1400-byte datagram never came back whole
    assert judge_boundaries(SENT, []) == ([], 3)


def test_burst_tally_counts_loss_duplicates_alterations_and_reshapes():
    sent = [bytes([i]) * 512 for i in range(1, 11)]
    tally = tally_burst(sent, [*sent[:7], sent[0], b"\xff" * 512, sent[8] + sent[9]])
    assert (tally.returned, tally.duplicates, tally.altered, tally.reshaped) == (7, 1, 1, [1024])
    assert tally.lost == 3 and tally.loss() == "3 of 10 lost (30.0%)"


def test_replies_are_attributed_to_their_sender_even_when_merged():
    mine, theirs = [b"a" * 64, b"b" * 64], [b"c" * 64, b"d" * 64]
    assert sort_replies([mine, theirs], [[mine[0] + mine[1]], [theirs[0], mine[1]]]) == [
        Reached(own=2, changed=0, cut=0, foreign=0, unknown=0), Reached(own=1, changed=0, cut=0, foreign=1, unknown=0)]


def test_boundaries_finding_names_the_wrong_replies_then_attributes_silence_and_loss():
    group = (1, 700, 1400)
    assert boundaries_finding([], 0, 360, 360, 120, group) is None
    assert boundaries_finding([], 180, 360, 180, 120, group) is None  # half back: still judged, and whole
    merged = boundaries_finding(["701 = 1+700 (merged)"] * 2 + ["1024 (part of a 1400-byte datagram)"], 0,
                                360, 359, 120, group)
    assert isinstance(merged, Violation) and str(merged) == (
        "datagram boundaries: expected each of 360 datagrams (1, 700 and 1400 bytes, back-to-back in 120 groups) "
        "back as one datagram of its own size and bytes; got 3 of 359 replies were not: "
        "2x 701 = 1+700 (merged); 1024 (part of a 1400-byte datagram)")
    assert merged.cause == causes.MERGED  # two merged against one cut
    cut = boundaries_finding(["1024 (part of a 1400-byte datagram)"], 0, 360, 360, 120, group)
    assert cut.cause == causes.TRUNCATED
    silent = boundaries_finding([], 360, 360, 0, 120, group)
    assert isinstance(silent, Inconclusive) and silent.owner == "udp.echo.roundtrip"
    lossy = boundaries_finding([], 181, 360, 179, 120, group)
    assert isinstance(lossy, Inconclusive) and lossy.owner == "udp.burst"
    assert str(lossy) == ("cannot judge datagram boundaries: 181 of 360 datagrams never came back, "
                          "with three queued at most (see udp.burst)")


def test_burst_verdict_counts_loss_against_the_threshold_and_corruption_as_must():
    sent = [bytes([i]) * 512 for i in range(1, 101)]
    assert judge_burst(tally_burst(sent, sent[:95]), replies=95, size=512, count=100, allowed_loss=5) is None
    lossy = judge_burst(tally_burst(sent, sent[:94]), replies=94, size=512, count=100, allowed_loss=5)
    assert isinstance(lossy, Violation) and lossy.level is None
    assert str(lossy) == "udp burst: expected at most 5 of 100 datagrams lost; got 6 of 100 lost (6.0%)"
    stopped = judge_burst(tally_burst(sent[:50], sent[:40]), replies=40, size=512, count=100, allowed_loss=5)
    assert str(stopped).endswith("got 10 of 50 lost (20.0%) (stopped sending after 50)")
    altered = judge_burst(tally_burst(sent, [*sent[:99], b"\xff" * 512]), replies=100, size=512, count=100,
                          allowed_loss=5)
    assert isinstance(altered, Violation) and altered.level == MUST and altered.cause == causes.ALTERED
    assert lossy.cause is None  # loss: the check's default hint
    assert str(altered) == ("udp burst: expected every returned datagram intact; "
                            "got 1 altered and 0 duplicated of 100 returned")
    twice = judge_burst(tally_burst(sent, [*sent, sent[0]]), replies=101, size=512, count=100, allowed_loss=5)
    assert "0 altered and 1 duplicated of 101 returned" in str(twice) and twice.level == MUST
    merged = judge_burst(tally_burst(sent, [sent[0] + sent[1], *sent[2:]]), replies=99, size=512, count=100,
                         allowed_loss=5)
    assert isinstance(merged, Inconclusive) and merged.owner == "udp.datagram.boundaries"
    assert "replies that are not one 512-byte datagram: 1 of 99 (sizes [1024])" in str(merged)


def test_reply_to_sender_fails_on_a_foreign_or_a_missing_datagram():
    mine, theirs = [b"a" * 64, b"b" * 64], [b"c" * 64, b"d" * 64]
    assert judge_reply_to_sender([mine, theirs], [[mine[1], mine[0]], [theirs[0] + theirs[1]]]) is None
    crossed = judge_reply_to_sender([mine, theirs], [[mine[0], theirs[0]], [mine[1], theirs[1]]])
    assert str(crossed) == ("reply to sender: expected client 1 to receive its own 2 datagrams only; "
                            "got 1 of its own and 1 of the other client's")
    missing = judge_reply_to_sender([mine, theirs], [[*mine], [theirs[0]]])
    assert str(missing) == ("reply to sender: expected client 2 to receive its own 2 datagrams only; "
                            "got 1 of its own and 0 of the other client's")


# Two clients' 64-byte datagrams, seeded as the check seeds them: a 30-byte part names its datagram.
PEERS = Payloads(7, "udp.peers.reply-to-sender", "selftest")
OURS = [[PEERS.data(64, f"client{c}-{i}") for i in range(8)] for c in range(2)]


def altered(datagram: bytes) -> bytes:
    """The datagram with one byte changed and a newline added, as a server that edits what it echoes."""
    return datagram[:20] + bytes([datagram[20] ^ 1]) + datagram[21:] + b"\n"


def test_a_cut_or_altered_reply_still_names_its_datagram():
    datagram, other = OURS[0][0], OURS[1][0]
    assert carries(datagram[:30], datagram) and carries(datagram[:4], datagram)
    assert carries(altered(datagram), datagram) and carries(b"echo: " + datagram[10:50] + b"\n", datagram)
    assert not carries(datagram[:30], other) and not carries(other[:30], datagram)
    assert not carries(datagram[:3], datagram)  # too short to tell whose it is
    assert not any(carries(d[:30], e) for c in OURS for d in c for e in OURS[0] + OURS[1] if e is not d)


def test_replies_cut_at_the_right_sender_are_the_truncation_checks_finding():
    """A 30-byte receive buffer: each client got its own datagrams, cut.  This used to fail with 'got 0 of
    its own and 0 of the other client's'."""
    cut = judge_reply_to_sender(OURS, [[d[:30] for d in OURS[0]], [d[:30] for d in OURS[1]]])
    assert isinstance(cut, Inconclusive) and cut.owner == "udp.datagram.max-size"
    assert str(cut) == ("cannot judge reply to sender: every datagram's reply reached its own client, but 16 of 16 "
                        "came back cut (see udp.datagram.max-size)")
    changed = judge_reply_to_sender(OURS, [[altered(d) for d in OURS[0]], [d[:30] for d in OURS[1]]])
    assert isinstance(changed, Inconclusive) and changed.owner == "udp.echo.roundtrip"
    assert "16 of 16 came back cut or altered" in str(changed)
    garbled = judge_reply_to_sender(OURS, [[bytes(64)] * 8, [bytes(64)] * 8])
    assert isinstance(garbled, Inconclusive) and garbled.owner == "udp.echo.roundtrip"
    assert "16 of 16 replies carry no part of a datagram sent" in str(garbled)


def test_cut_replies_at_the_wrong_peer_or_missing_still_fail():
    crossed = judge_reply_to_sender(OURS, [[d[:30] for d in OURS[0] + OURS[1]], []])
    assert isinstance(crossed, Violation) and str(crossed) == (
        "reply to sender: expected client 1 to receive its own 8 datagrams only; "
        "got 8 of its own (8 cut or altered) and 8 of the other client's")
    missing = judge_reply_to_sender(OURS, [[d[:30] for d in OURS[0]], []])
    assert isinstance(missing, Violation) and str(missing).endswith("got 0 of its own and 0 of the other client's")


def test_reply_to_sender_in_silence_asks_whether_a_lone_client_is_answered():
    silent = judge_reply_to_sender(OURS, [[], []], lone_echo=False)
    assert isinstance(silent, Inconclusive) and silent.owner == "udp.echo.roundtrip"
    assert str(silent) == ("cannot judge reply to sender: no datagram came back to either client, nor to a lone "
                           "client (see udp.echo.roundtrip)")
    elsewhere = judge_reply_to_sender(OURS, [[], []], lone_echo=True)
    assert isinstance(elsewhere, Violation) and str(elsewhere).endswith(
        "got 0 of its own and 0 of the other client's, while a lone client's datagram is answered")


def test_connected_client_judges_where_the_reply_went_not_its_bytes():
    sent, server = OURS[0][0][:32], "127.0.0.1:7"
    assert judge_connected_client(sent, [sent], 2.0, server, None) is None
    cut = judge_connected_client(sent, [sent[:30]], 2.0, server, None)
    assert isinstance(cut, Inconclusive) and cut.owner == "udp.datagram.max-size"
    assert str(cut) == ("cannot judge connected client: the reply reached the connect()ed socket, but cut to 30 of "
                        "its 32 bytes (see udp.datagram.max-size)")
    changed = judge_connected_client(sent, [altered(sent)], 2.0, server, None)
    assert isinstance(changed, Inconclusive) and changed.owner == "udp.echo.roundtrip"
    assert "but altered (33 bytes for 32)" in str(changed)
    silent = judge_connected_client(sent, [], 2.0, server, None)
    assert isinstance(silent, Inconclusive) and silent.owner == "udp.echo.roundtrip"
    other_port = judge_connected_client(sent, [], 2.0, server, "127.0.0.1:40000")
    assert isinstance(other_port, Violation) and other_port.cause == causes.OTHER_SOCKET
    assert str(other_port) == ("connected client: expected the 32 bytes back on a connect()ed socket within 2.0s; "
                               "got no reply on it, while an unconnected socket's datagram was answered from "
                               "127.0.0.1:40000")
    assert judge_connected_client(sent, [], 2.0, server, server).cause == causes.NO_REPLY


def test_sizes_are_said_as_a_list():
    assert sizes([b"x", b"y" * 700]) == "[1, 700]" and sizes([]) == "no datagram"


def test_what_came_back_of_one_datagram_names_its_cause():
    sent = bytes(range(1, 65)) * 1000
    assert causes.datagram_cause(sent, [sent]) is None
    assert causes.datagram_cause(sent, []) == causes.NO_REPLY
    assert causes.datagram_cause(sent, [sent[:1024]]) == causes.TRUNCATED
    assert causes.datagram_cause(sent, [sent + sent]) == causes.MERGED
    assert causes.datagram_cause(sent, [sent[::-1]]) == causes.ALTERED
