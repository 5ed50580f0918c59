"""The checks' judgments as pure functions of plain values, tested on synthetic data (no sockets):
what counts as a merged, split or cut datagram, a lost or altered one, and whose replies reached whom."""

from __future__ import annotations

from suites.udp.test_burst import tally_burst
from suites.udp.test_datagram import as_concatenation, judge_boundaries
from suites.udp.test_peers import sort_replies

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
