"""The run as Markdown, for CI job summaries: outcome, counts, one matrix per transport, the
problems (a FAIL or a below with its fix under it), the comparison with the baseline and the replay
command."""

from __future__ import annotations

from sockcheck.verdicts.gating import VERDICTS
from sockcheck.verdicts.matrix import CELL, WITH_A_FIX, matrix_blocks, rule_tag, leaf
from sockcheck.verdicts.record import fix_line
from sockcheck.verdicts.table import Verdicts

MARKDOWN_CELL = {"passed": "pass", "failed": "FAIL", "below": "below", "xfailed": "xfail", "xpassed": "XPASS",
                 "skipped": "skip", "error": "error", "inconclusive": "inconclusive"}
MARKDOWN_LEGEND = ("**bold** fails the run · pass: follows the rule · FAIL: breaks it (a must or should rule) · "
                   "below: a capacity figure under its threshold (fails the run only with `--gate capacity`) · "
                   "xfail: a declared violation, caught · XPASS: a declared violation no longer detected (fails the run) · "
                   "skip: not applicable · error: the harness could not judge (never blamed on the server; fails the run) · "
                   "inconclusive: another check's behaviour kept this one from judging (named in the message; never "
                   "fails the run)")


def markdown_cell(outcome: str | None, gating: bool = False) -> str:
    if outcome is None:
        return ""
    word = MARKDOWN_CELL[outcome]
    return f"**{word}**" if gating else word


_MARKDOWN_SPECIAL = set("\\`*_[]<>|#~")


def markdown_escape(text: str) -> str:
    """Plain text safe inside a Markdown paragraph, list item or table cell (one line)."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in " ".join(text.split()))


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GFM table; the cells must already be escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _markdown_rule_tag(check: str, level: str | None = None) -> str:
    tag = rule_tag(check, level).strip()
    return f" {markdown_escape(tag)}" if tag else ""


def render_markdown(verdicts: Verdicts, run: dict, replay: str | None = None) -> str:
    """The run for a CI job summary: outcome, counts, one matrix per transport, the problems, the replay."""
    exitstatus = run.get("exitstatus")
    problems = verdicts.problems()
    gating = verdicts.gating_problems()
    blocks = matrix_blocks(verdicts)
    counts = {outcome: 0 for outcome in CELL}
    for block in blocks:
        for cells in block.cells.values():
            for outcome, _ in cells.values():
                counts[outcome] += 1
    if exitstatus == 0 and not problems:
        verdict = "**passed**: every check matched its expectation"
    elif exitstatus == 0:
        verdict = f"**passed**: nothing the gate fails on ({len(problems)} problem(s) below do not fail the run)"
    elif gating:
        verdict = f"**failed**: {len(gating)} check(s) did not match their expectation"
    elif not verdicts.cases:
        verdict = "**failed**: no test case ran"
    else:
        verdict = "**failed**"
    isolation = run.get("isolation")
    facts = [f"{len([t for t in verdicts.targets if any(t in b.targets for b in blocks)])} targets",
             f"{len(verdicts.cases)} test cases",
             f"seed `{run.get('seed')}`"]
    if isolation:
        facts.append(f"isolation `{isolation if isinstance(isolation, str) else ', '.join(isolation)}`")
    if run.get("duration") is not None:
        facts.append(f"{run['duration']:.0f} s")
    if run.get("gate"):
        gate = run["gate"]
        facts.append(f"gate `{gate.get('level') or gate.get('default_level')}`" + ("" if gate.get("level") else " (default)")
                     + (", regressions only" if gate.get("regressions") else ""))
    lines = ["# sockcheck conformance", "",
             f"Result: {verdict} (exit status {exitstatus}).", "",
             " · ".join(facts), ""]
    lines += ["Checks per outcome (one per target and check of the target's transport):", ""]
    lines += _markdown_table([CELL[o] for o in counts], [[str(n) for n in counts.values()]])
    for block in blocks:
        lines += ["", f"## {block.transport} targets", ""]
        rows = [[markdown_escape(name)] + [markdown_cell(*block.outcome(name, c)) for c in block.checks]
                for name in block.targets]
        lines += _markdown_table(["target"] + [markdown_escape(leaf(c)) for c in block.checks], rows)
    lines += ["", MARKDOWN_LEGEND, "", "## Problems", ""]
    if problems:
        for target, check, cell in problems:
            line = (f"- **{markdown_escape(target)}** · `{check}`{_markdown_rule_tag(check, cell['level'])} → "
                    f"{markdown_cell(cell['outcome'], cell['gating'])}"
                    f"{'' if cell['gating'] or cell['outcome'] not in VERDICTS else ' (not gating)'}: "
                    f"{markdown_escape(cell['message'])}")
            if cell["outcome"] in WITH_A_FIX and cell.get("hint"):
                # A backslash at the end of a line is a hard line break: the fix shows under the problem.
                lines += [line + "\\", fix_line(markdown_escape(cell["hint"]))]
            else:
                lines.append(line)
    else:
        lines.append("None: every check matched its expectation.")
    diff = verdicts.baseline_diff()
    if diff is not None:
        lines += ["", "## Against the baseline", "", f"`{markdown_escape(diff.path)}`: {diff.counts()}.", ""]
        for title, changes in (("Regressed", diff.regressed), ("Fixed", diff.fixed), ("New problems", diff.new)):
            if not changes:
                continue
            lines += [f"{title}:", ""]
            for c in changes:
                before = MARKDOWN_CELL.get(c.before, "no verdict") if c.before else "no verdict"
                tail = f": {markdown_escape(c.message)}" if c.message and title != "Fixed" else ""
                lines.append(f"- **{markdown_escape(c.target)}** · `{c.check}` {before} → {MARKDOWN_CELL[c.after]}{tail}")
            lines.append("")
        if lines[-1] == "":
            lines.pop()
    if replay:
        lines += ["", "Replay the first problem:", "", "```sh", replay, "```"]
    return "\n".join(lines) + "\n"


