"""The verdicts of a run, case by case and per target and check, and the conformance JSON.

The controller records each case's :class:`~sockcheck.verdicts.record.Verdict`
as it arrives (the last one of a node id is its verdict); ``sockcheck
merge`` records those of its shards' JSON.  ``by_target`` is the one fold
left: a check with several cases against one target takes the worst
outcome.  The renderers (matrix.py, markdown.py, junit.py, violations.py)
read only what this module gives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.gating import PROBLEMS, Baseline, BaselineDiff, compare
from sockcheck.verdicts.record import SEVERITY, Outcome, Verdict

SCHEMA = 2  # of conformance.json; README "conformance.json" says what changed from 1


@dataclass
class Verdicts:
    """The verdicts of a run."""

    targets: dict[str, dict] = field(default_factory=dict)  # name -> {"transport", "model"[, "gate"]}
    check_order: list[str] = field(default_factory=list)
    cases: dict[str, Verdict] = field(default_factory=dict)  # node id -> verdict
    isolation: set[str] = field(default_factory=set)
    baseline: Baseline | None = None

    def record(self, verdict: Verdict) -> None:
        """The verdict of a case so far; a later one of the same node id replaces it."""
        self.cases[verdict.nodeid] = verdict
        if verdict.isolation:
            self.isolation.add(verdict.isolation)

    def observed(self) -> dict[str, dict[str, str]]:
        """{target: what the checks observed of its server (``model``, ``port``)}, in one pass."""
        facts: dict[str, dict[str, str]] = {name: {} for name in self.targets}
        for case in sorted(self.cases.values(), key=lambda c: c.nodeid):
            facts.setdefault(case.target, {}).update(case.facts)
        return facts

    def by_target(self) -> dict[str, dict[str, dict]]:
        """{target: {check: {"outcome", "gating", "level", "rule", "duration", "message", "nodeids"[, "owner"]
        [, "evidence"][, "facts"][, "hint"]}}}: the worst outcome of a check's cases; it fails the run when
        any of them does.  "hint" is the finding's fix (a failure, a figure below its threshold, a caught
        declared violation)."""
        table: dict[str, dict[str, dict]] = {name: {} for name in self.targets}
        for case in sorted(self.cases.values(), key=lambda c: c.nodeid):
            cell = table.setdefault(case.target, {}).get(case.check)
            if cell is None:
                cell = table[case.target][case.check] = {"outcome": None, "gating": False, "level": None,
                                                         "rule": case.rule, "duration": 0.0, "message": "",
                                                         "nodeids": []}
            cell["nodeids"].append(case.nodeid)
            cell["duration"] = round(cell["duration"] + case.duration, 3)
            cell["gating"] = cell["gating"] or case.gating
            if case.facts:
                cell.setdefault("facts", []).extend(list(fact) for fact in case.facts)
            if cell["outcome"] is None or SEVERITY[case.outcome] > SEVERITY[cell["outcome"]]:
                cell.update(outcome=case.outcome.value, level=case.level, message=case.message)
                cell.pop("owner", None)
                cell.pop("evidence", None)
                cell.pop("hint", None)
                if case.owner:
                    cell["owner"] = case.owner
                if case.evidence:
                    cell["evidence"] = [list(section) for section in case.evidence]
                if case.hint:
                    cell["hint"] = case.hint
        order = {c: i for i, c in enumerate(self.check_order)}
        return {t: dict(sorted(checks.items(), key=lambda kv: order.get(kv[0], len(order))))
                for t, checks in table.items()}

    def document(self, run: dict) -> dict:
        table = self.by_target()
        observed = self.observed()
        ran = [c for c in self.check_order if any(c in checks for checks in table.values())]
        document = {
            "schema": SCHEMA,
            "run": run,
            "checks": {check: check_json(check) for check in ran if check in CATALOGUE},
            "targets": {
                name: {"transport": meta["transport"], "model": meta["model"], "gate": meta.get("gate"),
                       "observed": observed[name], "checks": table.get(name, {})}
                for name, meta in self.targets.items()
            },
        }
        diff = self.baseline_diff()
        if diff is not None:
            document["baseline"] = diff_json(diff)
        return document

    def baseline_diff(self) -> BaselineDiff | None:
        return compare(self.baseline, self.by_target()) if self.baseline is not None else None

    def columns(self) -> list[str]:
        seen = {case.check for case in self.cases.values()}
        return [c for c in self.check_order if c in seen]

    def problems(self) -> list[tuple[str, str, dict]]:
        """(target, check, cell) for every failed, below, errored, unexpectedly passing or inconclusive check,
        whether it fails the run or not."""
        out = []
        for target, checks in self.by_target().items():
            for check, cell in checks.items():
                if cell["outcome"] in PROBLEMS or cell["outcome"] == Outcome.INCONCLUSIVE:
                    out.append((target, check, cell))
        return out

    def gating_problems(self) -> list[tuple[str, str, dict]]:
        """The problems that fail the run."""
        return [p for p in self.problems() if p[2]["gating"]]


def citation_json(citation) -> dict:
    return {"source": citation.source, "section": citation.section, "entry": citation.entry or None,
            "label": citation.label, "quote": citation.quote, "url": citation.url}


def check_json(check: str) -> dict:
    """A check's title, level and cited rule, for the JSON's "checks" table."""
    spec = CATALOGUE[check]
    return {"title": spec.title, "level": spec.level, "rule": citation_json(spec.rule),
            "also": [citation_json(c) for c in spec.also]}


def diff_json(diff: BaselineDiff) -> dict:
    def changes(items):
        return [{"target": c.target, "check": c.check, "before": c.before, "after": c.after, "message": c.message}
                for c in items]

    return {"path": diff.path, "regressed": changes(diff.regressed), "fixed": changes(diff.fixed),
            "new": changes(diff.new), "new_cases": diff.new_cases}


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees half a file), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


