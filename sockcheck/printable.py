"""Text from a target (its output, its process names) made safe to show a person.

A hostile or careless target can print escape sequences that clear the
screen, retitle the terminal or move the cursor to overwrite the verdicts.
Every C0 and C1 control character but tab and newline is shown as ``\\xNN``
instead, so the text reads the same and does nothing.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline written as ``\\xNN``."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
