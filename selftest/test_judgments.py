"""The UDP checks' judgments (sockcheck/judgments/udp.py) as pure functions of plain values, tested on
synthetic data (no sockets): what counts as a merged, split or cut datagram, a lost or altered one, whose
replies reached whom, and the verdict each check raises from that, with the cause it names."""

from __future__ import annotations

from sockcheck.judgments import causes
from sockcheck.judgments.udp import (as_concatenation, boundaries_finding, judge_boundaries, judge_burst,
                                     judge_reply_to_sender, sizes, sort_replies, tally_burst)
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
    assert sort_replies([mine, theirs], [[mine[0] + mine[1]], [theirs[0], mine[1]]]) == [(2, 0), (1, 1)]


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


def test_sizes_are_said_as_a_list():
    assert sizes([b"x", b"y" * 700]) == "[1, 700]" and sizes([]) == "no datagram"


def test_what_came_back_of_one_datagram_names_its_cause():
    sent = bytes(range(1, 65)) * 1000
    assert causes.datagram_cause(sent, [sent]) is None
    assert causes.datagram_cause(sent, []) == causes.NO_REPLY
    assert causes.datagram_cause(sent, [sent[:1024]]) == causes.TRUNCATED
    assert causes.datagram_cause(sent, [sent + sent]) == causes.MERGED
    assert causes.datagram_cause(sent, [sent[::-1]]) == causes.ALTERED
