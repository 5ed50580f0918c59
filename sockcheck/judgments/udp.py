"""udp.*: which replies are whole datagrams, which were merged, cut, lost or altered, and whom they reached."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sockcheck.judgments.causes import ALTERED, MERGED, TRUNCATED, names_causes
from sockcheck.verdicts.catalogue import MUST
from sockcheck.verdicts.findings import Inconclusive, Violation, violation

# How describe_reply() words a merged reply and a cut one; boundaries_finding() names the cause from them.
MERGED_MARK = "(merged)"
PART_MARK = "(part of a"


def sizes(datagrams: list[bytes]) -> str:
    """``[1, 700, 1400]``, or ``no datagram``, for messages."""
    return "[" + ", ".join(str(len(d)) for d in datagrams) + "]" if datagrams else "no datagram"


def as_concatenation(datagram: bytes, sent: list[bytes]) -> list[bytes] | None:
    """The sent datagrams (two or more) whose concatenation is ``datagram``, or None.

    Depth-first over the prefixes that are a sent datagram, longest first: the
    payloads are pseudo-random, so only a one-byte datagram ever matches a
    prefix by chance, and backtracking settles that.
    """
    by_length = sorted(set(sent), key=len, reverse=True)

    def split(offset: int) -> list[bytes] | None:
        if offset == len(datagram):
            return []
        for piece in by_length:
            if piece and datagram.startswith(piece, offset):
                rest = split(offset + len(piece))
                if rest is not None:
                    return [piece, *rest]
        return None

    parts = split(0)
    return parts if parts is not None and len(parts) >= 2 else None


def describe_reply(datagram: bytes, sent: list[bytes]) -> str:
    """What a reply that is not one of the sent datagrams is made of, for the failure message."""
    parts = as_concatenation(datagram, sent)
    if parts is not None:
        return f"{len(datagram)} = " + "+".join(str(len(p)) for p in parts) + f" {MERGED_MARK}"
    whole = [s for s in sent if datagram in s and len(s) > len(datagram)]
    if whole:
        return f"{len(datagram)} {PART_MARK} {len(whole[0])}-byte datagram)"
    return f"{len(datagram)} (bytes that were never sent as one datagram)"


def judge_boundaries(sent: list[bytes], got: list[bytes]) -> tuple[list[str], int]:
    """(descriptions of the replies that are not exactly one sent datagram, datagrams never returned).

    A reply counts when its bytes equal a sent datagram's: the same size and
    contents, so neither a merge nor a split nor a truncation.  Order does not
    matter (UDP may reorder; so may a server with several workers), and a
    datagram echoed twice is not a boundary fault.  A datagram that came back
    inside a merge was not lost.
    """
    expected = set(sent)
    returned: Counter[bytes] = Counter()
    wrong = []
    for reply in got:
        if reply in expected:
            returned[reply] += 1
            continue
        wrong.append(describe_reply(reply, sent))
        returned.update(as_concatenation(reply, sent) or ())
    lost = sum((Counter(sent) - returned).values())
    return wrong, lost


@names_causes(MERGED, TRUNCATED)
def boundaries_finding(wrong: list[str], lost: int, sent: int, replies: int, groups: int,
                       group_sizes: tuple[int, ...]) -> Violation | Inconclusive | None:
    """The verdict of udp.datagram.boundaries from judge_boundaries()'s result.

    Any reply that is not one whole datagram fails.  With no reply at all,
    or fewer than half the datagrams back, nothing can be judged: that is
    udp.echo.roundtrip's or udp.burst's finding.
    """
    if wrong:
        shown = "; ".join(f"{n}x {d}" if n > 1 else d for d, n in Counter(wrong).most_common(4))
        said = ", ".join(str(s) for s in group_sizes[:-1]) + f" and {group_sizes[-1]}"
        # The cause the replies show most: merged datagrams, or ones cut by a small receive buffer.
        merged, cut = (sum(mark in d for d in wrong) for mark in (MERGED_MARK, PART_MARK))
        return violation("datagram boundaries",
                         f"each of {sent} datagrams ({said} bytes, back-to-back in {groups} groups) "
                         "back as one datagram of its own size and bytes",
                         f"{len(wrong)} of {replies} replies were not: {shown}",
                         cause=(MERGED if merged >= cut else TRUNCATED) if merged or cut else None)
    if not replies:
        return Inconclusive("datagram boundaries", "no datagram came back", "udp.echo.roundtrip")
    if lost > sent // 2:
        return Inconclusive("datagram boundaries",
                            f"{lost} of {sent} datagrams never came back, with three queued at most", "udp.burst")
    return None


@dataclass
class BurstTally:
    """What came back of the datagrams sent so far."""

    sent: int
    returned: int  # distinct sent datagrams that came back byte for byte
    duplicates: int  # extra copies of datagrams already returned
    altered: int  # replies of the sent size whose bytes match no datagram sent
    reshaped: list[int]  # sizes of replies that are not one datagram's size: merged, split or cut

    @property
    def lost(self) -> int:
        return self.sent - self.returned

    def loss(self) -> str:
        return f"{self.lost} of {self.sent} lost ({100 * self.lost / self.sent:.1f}%)"


def tally_burst(sent: list[bytes], got: list[bytes]) -> BurstTally:
    """Sort the replies: whole, duplicated, altered, or reshaped (another size than every datagram sent)."""
    expected = set(sent)
    counts = Counter(g for g in got if g in expected)
    others = [g for g in got if g not in expected]
    lengths = {len(s) for s in sent}
    return BurstTally(sent=len(sent), returned=len(counts), duplicates=sum(counts.values()) - len(counts),
                      altered=sum(len(g) in lengths for g in others),
                      reshaped=[len(g) for g in others if len(g) not in lengths])


@names_causes(ALTERED)
def judge_burst(tally: BurstTally, *, replies: int, size: int, count: int,
                allowed_loss: int) -> Violation | Inconclusive | None:
    """udp.burst's verdict: of ``count`` datagrams of ``size`` bytes (``tally.sent`` of them sent), at most
    ``allowed_loss`` lost, and every one that came back intact.

    Replies of another size (merged, split) make the loss uncountable:
    udp.datagram.boundaries' finding.  An altered or duplicated datagram
    is corruption, a must-level finding whatever the check's level.
    """
    if tally.reshaped:
        return Inconclusive("udp burst loss", f"replies that are not one {size}-byte datagram: "
                            f"{len(tally.reshaped)} of {replies} (sizes {sorted(set(tally.reshaped))[:5]}), "
                            "so what was lost cannot be counted", "udp.datagram.boundaries")
    if tally.altered or tally.duplicates:
        return violation("udp burst", "every returned datagram intact",
                         f"{tally.altered} altered and {tally.duplicates} duplicated of {replies} returned", level=MUST,
                         cause=ALTERED)
    if tally.lost > allowed_loss:
        return violation("udp burst", f"at most {allowed_loss} of {count} datagrams lost",
                         tally.loss() + (f" (stopped sending after {tally.sent})" if tally.sent < count else ""))
    return None


def sort_replies(sent: list[list[bytes]], got: list[list[bytes]]) -> list[tuple[int, int]]:
    """Per client: (how many of its own datagrams, how many of the others') reached it.

    A datagram reached a client when its bytes are in one of the client's
    replies, alone or merged with others: the payloads are pseudo-random 64
    bytes, so they are found inside a merged reply and never by chance.
    """
    counts = []
    for c, replies in enumerate(got):
        reached = [any(d in reply for reply in replies) for d in sent[c]]
        foreign = [any(d in reply for reply in replies)
                   for other, datagrams in enumerate(sent) if other != c for d in datagrams]
        counts.append((sum(reached), sum(foreign)))
    return counts


def judge_reply_to_sender(sent: list[list[bytes]], got: list[list[bytes]]) -> Violation | None:
    """Each client received every one of its own datagrams and none of another client's."""
    for c, (own, foreign) in enumerate(sort_replies(sent, got)):
        if foreign or own != len(sent[c]):
            return violation("reply to sender", f"client {c + 1} to receive its own {len(sent[c])} datagrams only",
                             f"{own} of its own and {foreign} of the other client's")
    return None
