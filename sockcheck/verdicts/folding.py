"""Evidence sized for a person: repeated lines folded with a count, a bounded number of lines.

A select server that forgets ``FD_CLR`` logs ``closed client: 4`` a
thousand times; a socket table after 1100 connections has a thousand rows
that differ only in a port.  ``fold`` turns each run of lines of the same
shape (the same text once digits are set aside) into its first line, a
count and its last line, then keeps the first and last lines of what is
left.  The whole text goes to ``reports/evidence/`` where it is kept.
"""

from __future__ import annotations

import re

MAX_LINES = 40
_DIGITS = re.compile(r"\d+")


def shape(line: str) -> str:
    """A line with its numbers set aside: ``closed client: #`` for ``closed client: 4``."""
    return _DIGITS.sub("#", line)


def fold_repeats(lines: list[str]) -> list[str]:
    """Each run of three or more lines of one shape as its first line, a count line and its last line."""
    out: list[str] = []
    start = 0
    while start < len(lines):
        end = start + 1
        while end < len(lines) and shape(lines[end]) == shape(lines[start]):
            end += 1
        run = end - start
        if run >= 3:
            same = all(line == lines[start] for line in lines[start:end])
            what = "the same line" if same else "lines like it"
            out += [lines[start], f"  [... {run - 2} more of {what}: {run} in all ...]", lines[end - 1]]
        else:
            out += lines[start:end]
        start = end
    return out


def fold(text: str, max_lines: int = MAX_LINES, whole: str | None = None) -> str:
    """``text`` folded (see fold_repeats), then cut to ``max_lines``: its first and last lines, and
    one line saying how many were left out and, with ``whole``, where the whole text is."""
    lines = fold_repeats(text.rstrip("\n").split("\n"))
    if len(lines) > max_lines:
        head = max_lines // 2
        tail = max_lines - head - 1
        where = f"; the whole of it: {whole}" if whole else ""
        lines = [*lines[:head], f"[... {len(lines) - head - tail} lines left out{where} ...]", *lines[-tail:]]
    return "\n".join(lines)
