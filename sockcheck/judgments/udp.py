"""udp.*: which replies are whole datagrams, which were merged, cut, lost or altered, and whom they reached."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sockcheck.judgments.causes import ALTERED, MERGED, NO_REPLY, OTHER_SOCKET, TRUNCATED, names_causes
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


# A run of this many bytes of a datagram names it in a reply, wherever the server cut or changed the rest:
# the peer checks' payloads are seeded pseudo-random (values 1..255), so two 64-byte datagrams share such
# a run by chance less than once in 10**15 pairs.  A shorter reply names its datagram when it is a part
# of it at least SHORTEST_PART bytes long (by chance: about once in 10**8).
IDENTIFYING_RUN = 8
SHORTEST_PART = 4
# Who owns a reply that reached its sender changed: a cut one is udp.datagram.max-size's (a server that
# cuts a datagram of 32 or 64 bytes also cuts the lone 65,507-byte one that check sends), any other
# change udp.echo.roundtrip's.
CUT_OWNER = "udp.datagram.max-size"
ALTERED_OWNER = "udp.echo.roundtrip"


def carries(reply: bytes, datagram: bytes) -> bool:
    """Whether ``reply`` holds ``datagram`` or a recognisable part of it: the whole of it (alone or
    merged), a run of IDENTIFYING_RUN of its bytes (cut, or changed around the run), or, for a reply
    shorter than that, the reply is a part of it of SHORTEST_PART bytes or more."""
    if not datagram:
        return False
    if datagram in reply:
        return True
    if len(reply) < IDENTIFYING_RUN:
        return len(reply) >= SHORTEST_PART and reply in datagram
    if len(datagram) < IDENTIFYING_RUN:
        return False
    return any(datagram[i:i + IDENTIFYING_RUN] in reply for i in range(len(datagram) - IDENTIFYING_RUN + 1))


def how_changed(datagram: bytes, reply: bytes) -> tuple[str, str]:
    """How a ``reply`` that is not ``datagram`` differs from it, for messages, and the check that owns that."""
    if 0 < len(reply) < len(datagram) and datagram.startswith(reply):
        return f"cut to {len(reply)} of its {len(datagram)} bytes", CUT_OWNER
    if carries(reply, datagram):
        return f"altered ({len(reply)} bytes for {len(datagram)})", ALTERED_OWNER
    return f"{len(reply)} bytes that carry none of the {len(datagram)} sent", ALTERED_OWNER


@dataclass(frozen=True)
class Reached:
    """What reached one client: its own datagrams, whole or changed, the others', and replies of nobody's."""

    own: int  # its own datagrams that came back whole (alone or merged with others)
    changed: int  # its own datagrams that came back only cut or altered, recognisably theirs
    cut: int  # of those, the ones cut to a prefix
    foreign: int  # the other clients' datagrams whose bytes reached it, whole or in part
    unknown: int  # replies that carry no datagram sent

    def said(self) -> str:
        changed = f" ({self.changed} cut or altered)" if self.changed else ""
        return f"{self.own + self.changed} of its own{changed} and {self.foreign} of the other client's"


def sort_replies(sent: list[list[bytes]], got: list[list[bytes]]) -> list[Reached]:
    """Per client, what of its own datagrams and of the others' reached it (see :func:`carries`).

    A datagram reached a client when one of the client's replies carries it,
    alone, merged with others, cut or altered: a server that truncates or
    changes the bytes is still seen replying to the right peer or the wrong
    one.
    """
    everyone = [d for datagrams in sent for d in datagrams]
    reached = []
    for c, replies in enumerate(got):
        whole = [any(d in reply for reply in replies) for d in sent[c]]
        parts = [[reply for reply in replies if carries(reply, d)] for d in sent[c]]
        changed = [not w and bool(p) for w, p in zip(whole, parts)]
        cut = [ch and any(how_changed(d, r)[1] == CUT_OWNER for r in p)
               for d, ch, p in zip(sent[c], changed, parts)]
        foreign = sum(any(carries(reply, d) for reply in replies)
                      for other, datagrams in enumerate(sent) if other != c for d in datagrams)
        reached.append(Reached(own=sum(whole), changed=sum(changed), cut=sum(cut), foreign=foreign,
                               unknown=sum(not any(carries(reply, d) for d in everyone) for reply in replies)))
    return reached


def judge_reply_to_sender(sent: list[list[bytes]], got: list[list[bytes]],
                          lone_echo: bool | None = None) -> Violation | Inconclusive | None:
    """udp.peers.reply-to-sender's verdict: each client received a reply to every one of its own
    datagrams and none of another client's bytes.

    Replies are matched to their datagrams even when cut or altered.  Only
    where they went is judged: a client that got another client's bytes
    fails, and so does a datagram never answered at all while the server
    answers others (or, when nothing came back to either client,
    ``lone_echo``: a lone client's datagram was answered).  Replies that all
    reached their sender but cut or altered, or replies that carry no
    datagram sent, cannot be judged: the echo's fault (CUT_OWNER,
    ALTERED_OWNER).
    """
    reached = sort_replies(sent, got)
    for c, client in enumerate(reached):
        if client.foreign:
            return violation("reply to sender", f"client {c + 1} to receive its own {len(sent[c])} datagrams only",
                             client.said())
    replies = sum(map(len, got))
    unknown = sum(client.unknown for client in reached)
    if unknown:
        return Inconclusive("reply to sender", f"{unknown} of {replies} replies carry no part of a datagram sent, "
                            "so whose they are cannot be told", ALTERED_OWNER)
    answered = sum(client.own + client.changed for client in reached)
    for c, client in enumerate(reached):
        if client.own + client.changed < len(sent[c]) and (answered or lone_echo):
            alone = "" if answered else ", while a lone client's datagram is answered"
            return violation("reply to sender", f"client {c + 1} to receive its own {len(sent[c])} datagrams only",
                             client.said() + alone)
    if not answered:
        return Inconclusive("reply to sender", "no datagram came back to either client"
                            + (", nor to a lone client" if lone_echo is False else ""), ALTERED_OWNER)
    changed, cut = sum(client.changed for client in reached), sum(client.cut for client in reached)
    if changed:
        return Inconclusive("reply to sender", f"every datagram's reply reached its own client, but {changed} of "
                            f"{sum(map(len, sent))} came back " + ("cut" if cut == changed else "cut or altered"),
                            CUT_OWNER if cut == changed else ALTERED_OWNER)
    return None


@names_causes(NO_REPLY, OTHER_SOCKET)
def judge_connected_client(sent: bytes, got: list[bytes], within: float, server: str,
                           unconnected: str | None) -> Violation | Inconclusive | None:
    """udp.peers.connected-client's verdict from the replies ``got`` to ``sent`` on a connect()ed socket.

    The kernel lets through only replies from the server's address, so any
    reply at all there came from the right place: cut or altered, the bytes
    are the echo's fault (see how_changed).  No reply fails when the echo
    otherwise works: ``unconnected`` is where an unconnected socket's
    datagram was answered from (``server``, or another port), None when it
    was not answered either.
    """
    if got == [sent]:
        return None
    if got:
        what, owner = how_changed(sent, got[0])
        return Inconclusive("connected client", f"the reply reached the connect()ed socket, but {what}", owner)
    if unconnected is None:
        return Inconclusive("connected client", "no reply, and none to an unconnected socket either", ALTERED_OWNER)
    return violation("connected client", f"the {len(sent)} bytes back on a connect()ed socket within {within:.1f}s",
                     f"no reply on it, while an unconnected socket's datagram was answered from {unconnected}",
                     cause=NO_REPLY if unconnected == server else OTHER_SOCKET)
