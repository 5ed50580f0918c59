"""Verdicts for unit tests of the reports: a case from its phases, as the plugin builds it."""

from __future__ import annotations

from dataclasses import replace

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.record import Judge, Outcome, Phase, Verdict, verdict_of
from sockcheck.verdicts.table import Verdicts


def case(nodeid: str, target: str, check: str, *phases: tuple[str | None, str], duration: float = 0.25,
         judge: Judge = Judge(), **fields) -> Verdict:
    """The verdict of a case whose phases had these (outcome, message); ``fields`` override the record's
    own (``gating=False``, ``level="must"``, ``owner=...``)."""
    steps = [Phase(when, Outcome(outcome) if outcome else None, message, _level(check), duration=duration)
             for when, (outcome, message) in zip(("setup", "call", "teardown"), phases)]
    verdict = verdict_of(steps, nodeid=nodeid, check=check, target=target, judge=judge, isolation="netns")
    return replace(verdict, **fields) if fields else verdict


def record(v: Verdicts, nodeid: str, target: str, check: str, *phases: tuple[str | None, str], **fields) -> None:
    if len(phases) == 1 and phases[0][0] is not None:
        phases = ((None, ""), *phases)  # a passing setup, then the call
    v.record(case(nodeid, target, check, *phases, **fields))


def _level(check: str) -> str | None:
    spec = CATALOGUE.get(check)
    return spec.level if spec else None
