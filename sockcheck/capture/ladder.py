"""A capture as a packet ladder: TCP segments between client and server, as text and as SVG.

Sequence and acknowledgment numbers are relative to each side's initial
sequence number, as a reader of a ladder expects.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path

from sockcheck.capture.pcap import RawSegment, extract


@dataclass(frozen=True)
class Segment:
    """One TCP segment as the ladder shows it; seq/ack relative to each side's initial sequence number."""

    time: float
    from_client: bool
    flags: str
    seq: int
    ack: int
    length: int
    urgent: int | None
    payload: bytes

    @property
    def arrow(self) -> str:
        return "-->" if self.from_client else "<--"

    def describe(self) -> str:
        urg = f" urg={self.urgent}" if self.urgent is not None else ""
        return f"[{self.flags}] seq={self.seq} ack={self.ack} len={self.length}{urg}"


def to_segments(packets: list, server_port: int) -> list[Segment]:
    """Captured (or pcap-read) packets as ladder segments."""
    from scapy.layers.inet import TCP

    return relative_segments([extract(p) for p in packets if TCP in p], server_port)


@dataclass(frozen=True)
class ServerCall:
    """One system call (or signal) of the server, on the ladder's time axis beside the packets."""

    time: float  # seconds since the ladder's start
    text: str


def joined(raw: list[RawSegment], server_port: int,
           calls: list[tuple[float, str]]) -> tuple[list[Segment], list[ServerCall]]:
    """Segments and the server's calls (absolute times, as strace and the capture stamp them) on one
    time axis that starts with the earlier of the two."""
    start = min([r.time for r in raw[:1]] + [t for t, _ in calls], default=0.0)
    return relative_segments(raw, server_port, start), [ServerCall(t - start, text) for t, text in calls]


def relative_segments(raw: list[RawSegment], server_port: int, start: float | None = None) -> list[Segment]:
    """Ladder segments, sequence numbers relative to each side's initial sequence number; times
    relative to ``start`` (default: the first segment's)."""
    isn: dict[bool, int] = {}
    if start is None:
        start = raw[0].time if raw else 0.0
    segments = []
    for r in raw:
        from_client = r.dport == server_port
        if r.flags & 0x02:
            isn.setdefault(from_client, r.seq)
        base = isn.get(from_client, r.seq)
        peer = isn.get(not from_client)
        segments.append(Segment(
            time=r.time - start,
            from_client=from_client,
            flags=_flags(r.flags),
            seq=(r.seq - base) % 2**32,
            ack=(r.ack - peer) % 2**32 if peer is not None and r.flags & 0x10 else 0,
            length=len(r.payload),
            urgent=r.urgptr if r.flags & 0x20 else None,
            payload=r.payload,
        ))
    return segments


def _flags(bits: int) -> str:
    return "".join(letter for bit, letter in ((0x02, "S"), (0x10, "A"), (0x08, "P"), (0x01, "F"), (0x04, "R"), (0x20, "U"))
                   if bits & bit)


def client_bytes(segments: list[Segment]) -> int:
    """Payload bytes the client has sent in ``segments``."""
    return sum(s.length for s in segments if s.from_client)


def _rows(segments: list[Segment], calls: list[ServerCall]) -> list[Segment | ServerCall]:
    """Segments and calls in the order of time (a segment first when they share a time)."""
    keyed = [((seg.time, 0, i), seg) for i, seg in enumerate(segments)]
    keyed += [((call.time, 1, i), call) for i, call in enumerate(calls)]
    return [row for _, row in sorted(keyed, key=lambda pair: pair[0])]


def ladder_text(segments: list[Segment], title: str = "", calls: list[ServerCall] = ()) -> str:
    """Client and server as two columns, one line per segment; the server's system calls, when given,
    on lines of their own right of the server column, in the order of time."""
    width = 44
    lines = [title] if title else []
    lines.append(f"{'time ms':>9}  client{' ' * (width - 2)}server")
    for seg in _rows(segments, list(calls)):
        if isinstance(seg, ServerCall):
            lines.append(f"{seg.time * 1000:9.3f}  {' ' * (width + 9)}server │ {seg.text}")
            continue
        label = f" {seg.describe()} "
        pad = max(width - len(label), 2)
        left, right = "─" * (pad // 2), "─" * (pad - pad // 2)
        arrow = f"{left}{label}{right}▶" if seg.from_client else f"◀{left}{label}{right}"
        lines.append(f"{seg.time * 1000:9.3f}  client {arrow} server")
    return "\n".join(lines)


def ladder_svg(segments: list[Segment], title: str = "", calls: list[ServerCall] = ()) -> str:
    """The same ladder as an SVG picture, for the Allure report; the server's calls right of it."""
    row, top, left_x, right_x = 26, 56, 120, 620
    rows = _rows(segments, list(calls))
    height = top + row * len(rows) + 30
    width = 1400 if calls else 760
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left_x - 20}" y="44">client</text><text x="{right_x - 20}" y="44">server</text>',
        f'<line x1="{left_x}" y1="{top - 6}" x2="{left_x}" y2="{height - 10}" stroke="black"/>',
        f'<line x1="{right_x}" y1="{top - 6}" x2="{right_x}" y2="{height - 10}" stroke="black"/>',
    ]
    for i, seg in enumerate(rows):
        y = top + row * i + 12
        if isinstance(seg, ServerCall):
            parts += [f'<text x="10" y="{y + 4}" fill="#606060">{seg.time * 1000:.3f} ms</text>',
                      f'<text x="{right_x + 12}" y="{y + 4}" fill="#207020">{escape(seg.text)}</text>']
            continue
        x1, x2 = (left_x, right_x) if seg.from_client else (right_x, left_x)
        tip = -8 if seg.from_client else 8
        colour = "#c00000" if "R" in seg.flags else "#0050a0" if "U" in seg.flags else "#202020"
        parts += [
            f'<text x="10" y="{y + 4}" fill="#606060">{seg.time * 1000:.3f} ms</text>',
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}"/>',
            f'<polygon points="{x2},{y} {x2 + tip},{y - 4} {x2 + tip},{y + 4}" fill="{colour}"/>',
            f'<text x="{(left_x + right_x) // 2}" y="{y - 3}" text-anchor="middle" fill="{colour}">{escape(seg.describe())}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def evidence_name(nodeid: str) -> str:
    """A file-system-safe stem for a test's evidence files."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid.split("::")[-1])
    return keep[:120] or f"case-{os.getpid()}-{time.monotonic_ns()}"


def evidence_path(folder: Path, nodeid: str, suffix: str) -> Path:
    """``folder/STEM.ladder.txt``: the suffix is appended to the stem, never put in place of what
    follows a dot in it (a target named ``py-3.11`` keeps its name)."""
    return folder / f"{evidence_name(nodeid)}{suffix}"
