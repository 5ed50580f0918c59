"""The command that replays one case of a run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


def replay_command(nodeid: str, seed: int, options: Sequence[str] = (), command: str = "pytest") -> str:
    """``pytest 'suites/tcp/test_echo.py::test_roundtrip[me]' --seed 7 -p no:xdist --target=...``.

    The node id picks the check and the target, the seed the payloads, and
    ``options`` (the run's target options) make the same target exist again.
    """
    return " ".join([command, shlex.quote(nodeid), "--seed", str(seed), "-p", "no:xdist",
                     *(shlex.quote(o) for o in options)])
