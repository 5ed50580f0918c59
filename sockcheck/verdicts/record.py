"""The verdict of one test case: a typed, frozen record, built once from the case's phases.

A case (one check against one target, one node id) runs in phases (setup,
call, teardown).  The pytest side classifies each phase into a
:class:`Phase`, a plain value; :func:`verdict_of` folds the phases, with the
target's declarations, the gate and the baseline, into the :class:`Verdict`
that every report renders: the terminal, the JSON, Markdown, JUnit, Allure
and ``sockcheck merge``.  Nothing else folds phases or decides what fails the
run.

The record travels from an xdist worker to the controller as plain values
(:meth:`Verdict.as_json`), attached to each phase's report as the case's
verdict so far; the last one is the case's verdict, so a run interrupted in
the middle of a case still reports it ("no result for the check itself").

A finding carries its fix hint (the usual cause and fix, from the
catalogue and the cause the judgment named), resolved when the phase is
classified, so no report looks the catalogue up: the terminal, Markdown,
JUnit and Allure show it under a FAIL or a below, the JSON keeps it for a
caught declared violation too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.gating import Gate


class Outcome(StrEnum):
    """What a case came to.  A check with several cases takes the worst (the highest severity)."""

    SKIPPED = "skipped"  # not applicable
    PASSED = "passed"
    INCONCLUSIVE = "inconclusive"  # another check's behaviour kept this one from judging
    XFAILED = "xfailed"  # a declared violation, caught
    BELOW = "below"  # a capacity figure under its threshold
    XPASSED = "xpassed"  # a declared violation not caught
    FAILED = "failed"  # a must or should rule broken
    ERROR = "error"  # the harness could not judge

    @property
    def severity(self) -> int:
        return _ORDER.index(self)


_ORDER = list(Outcome)
SEVERITY = {outcome.value: outcome.severity for outcome in Outcome}
NO_RESULT = "no result for the check itself (interrupted?)"
EVIDENCE_LIMIT = 16384  # characters of one evidence section kept in the record (whole in reports/evidence/)


@dataclass(frozen=True)
class Phase:
    """One phase of a case, classified: its outcome (None: the phase adds nothing, a passing setup),
    one-line message, the finding's level (a capacity check's must-level finding says must), the check
    an inconclusive case names, the evidence shown with a problem, and the finding's fix hint."""

    when: str
    outcome: Outcome | None
    message: str = ""
    level: str | None = None
    owner: str | None = None
    duration: float = 0.0
    evidence: tuple[tuple[str, str], ...] = ()
    declared: bool = False  # an inconclusive judgment of a violation the manifest declares
    facts: tuple[tuple[str, str], ...] = ()  # what the check observed of the server ("model", ...)
    hint: str = ""  # the usual cause and fix of a finding (failed, below, xfailed); "" for any other outcome


@dataclass(frozen=True)
class Verdict:
    """The verdict of one case, as every report renders it."""

    nodeid: str
    check: str
    target: str
    outcome: Outcome
    level: str | None  # of this finding: the check's, or what its Violation said
    message: str
    gating: bool  # whether it fails the run
    owner: str | None = None
    evidence: tuple[tuple[str, str], ...] = ()
    durations: tuple[tuple[str, float], ...] = ()  # (phase, seconds)
    isolation: str | None = None
    facts: tuple[tuple[str, str], ...] = ()  # what the check observed of the server, pass or fail
    hint: str = ""  # the worst phase's fix hint

    @property
    def duration(self) -> float:
        return sum(seconds for _, seconds in self.durations)

    @property
    def rule(self) -> str | None:
        spec = CATALOGUE.get(self.check)
        return spec.rule.label if spec else None

    @property
    def rule_url(self) -> str | None:
        spec = CATALOGUE.get(self.check)
        return spec.rule.url if spec else None

    def as_json(self) -> dict:
        return {"nodeid": self.nodeid, "check": self.check, "target": self.target, "outcome": self.outcome.value,
                "level": self.level, "message": self.message, "gating": self.gating, "owner": self.owner,
                "evidence": [list(section) for section in self.evidence],
                "durations": [list(pair) for pair in self.durations], "isolation": self.isolation,
                "facts": [list(pair) for pair in self.facts], "hint": self.hint}

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(data["nodeid"], data["check"], data["target"], Outcome(data["outcome"]), data.get("level"),
                   data.get("message", ""), bool(data["gating"]), data.get("owner"),
                   tuple((title, text) for title, text in data.get("evidence", ())),
                   tuple((when, float(seconds)) for when, seconds in data.get("durations", ())),
                   data.get("isolation"), tuple((key, value) for key, value in data.get("facts", ())),
                   data.get("hint", ""))


@dataclass(frozen=True)
class Judge:
    """What decides whether a phase fails the run: the gate, the target's own gate, the baseline's
    outcome of this case and whether the target declares the violation."""

    gate: Gate = field(default_factory=Gate)
    target_gate: str | None = None
    baseline: str | None = None

    def gates(self, phase: Phase) -> bool:
        if phase.outcome is None:
            return False
        if phase.outcome is Outcome.INCONCLUSIVE and phase.declared:
            # A declaration the check cannot judge proves nothing, as one it does not detect (XPASS).
            return True
        return self.gate.gates(phase.outcome.value, phase.level or "must", self.target_gate, self.baseline)

    def why_not(self, phase: Phase) -> str:
        return self.gate.why_not(phase.level or "must", self.target_gate, self.baseline)


def verdict_of(phases: Sequence[Phase], *, nodeid: str, check: str, target: str, judge: Judge,
               isolation: str | None = None) -> Verdict:
    """The case's verdict: the worst phase's outcome, message, level, owner and hint, every phase's
    evidence; it fails the
    run when any phase does.  Without a phase that gave an outcome (the call never reported: the run
    was interrupted), an error."""
    worst: Phase | None = None
    for phase in phases:
        if phase.outcome is not None and (worst is None or phase.outcome.severity > worst.outcome.severity):
            worst = phase
    durations = tuple((phase.when, phase.duration) for phase in phases)
    facts = tuple(fact for phase in phases for fact in phase.facts)
    if worst is None:
        return Verdict(nodeid, check, target, Outcome.ERROR, _check_level(check), NO_RESULT, True,
                       durations=durations, isolation=isolation, facts=facts)
    evidence = tuple((title, clip(text)) for phase in phases for title, text in phase.evidence)
    return Verdict(nodeid, check, target, worst.outcome, worst.level or _check_level(check), worst.message,
                   any(judge.gates(phase) for phase in phases), worst.owner, evidence, durations, isolation, facts,
                   worst.hint)


def clip(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    """One evidence section as kept in the record: its head and tail when it is long."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… ({len(text) - limit} characters left out) …\n{text[-half:]}"


def _check_level(check: str) -> str | None:
    spec = CATALOGUE.get(check)
    return spec.level if spec else None


def failure_text(check: str, level: str | None, message: str, evidence: Sequence[tuple[str, str]],
                 hint: str = "") -> str:
    """A problem as a failure's text: the one-line finding, the rule and its source, the fix (when the
    finding has a hint), then the evidence.  The terminal's failure section and JUnit's failure body are
    this text; the fix ends the finding, before the evidence, where no log can push it out of sight."""
    lines = [message]
    spec = CATALOGUE.get(check)
    if spec is not None:
        lines.append(f"  rule: {spec.id} [{level or spec.level} \u00b7 {spec.rule.label}]: \u201c{spec.rule.quote}\u201d")
    if hint:
        lines.append(fix_line(hint))
    for title, text in evidence:
        lines += ["", f"--- {title} ---", text.rstrip("\n")]
    return "\n".join(lines)


def fix_line(hint: str) -> str:
    """``  fix: <hint>``: the line that ends a finding in every report."""
    return f"  fix: {hint}"
