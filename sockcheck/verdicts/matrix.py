"""The run in the terminal: the matrix of outcomes, the cases that did not apply, one line per
problem, and the comparison with the baseline."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sockcheck.judgments.model import claim_disagrees
from sockcheck.verdicts.catalogue import CATALOGUE, TRANSPORTS
from sockcheck.verdicts.gating import VERDICTS, BaselineDiff
from sockcheck.verdicts.record import fix_line
from sockcheck.verdicts.table import Verdicts

CELL = {"passed": "pass", "failed": "FAIL", "below": "below", "xfailed": "xfail", "xpassed": "XPASS", "skipped": "skip",
        "error": "error", "inconclusive": "inconcl"}
SYMBOL = {"passed": ".", "failed": "F", "below": "b", "xfailed": "x", "xpassed": "X", "skipped": "s", "error": "E",
          "inconclusive": "?"}
LEGEND = ("pass=.  FAIL=F (f: not gating)  below=b (a capacity figure under its threshold; B: gating)  "
          "xfail=x (declared violation, caught)  XPASS=X (declared, not caught)  skip=s  error=E  "
          "inconclusive=? (another check's behaviour kept it from judging)  upper case fails the run")


def cell_word(outcome: str | None, gating: bool = False) -> str:
    """The cell in words: FAIL when it fails the run, fail when the gate lets it pass; below / BELOW."""
    if outcome is None:
        return ""
    word = CELL[outcome]
    if outcome in VERDICTS:
        return word.upper() if gating else word.lower()
    return word


def cell_symbol(outcome: str | None, gating: bool = False) -> str:
    if outcome is None:
        return " "
    symbol = SYMBOL[outcome]
    if outcome in VERDICTS:
        return symbol.upper() if gating else symbol.lower()
    return symbol


def outcome_label(outcome: str, gating: bool) -> str:
    """``FAIL``, ``FAIL (not gating)``, ``below``, ``below (gating)``: a problem line's outcome."""
    if outcome == "failed" and not gating:
        return "FAIL (not gating)"
    if outcome == "below" and gating:
        return "below (gating)"
    return "inconclusive" if outcome == "inconclusive" else CELL[outcome]


def rule_tag(check: str, level: str | None = None) -> str:
    """``[must · RFC 9293 §3.6.1]`` for a problem line (``level``: the finding's, else the check's);
    empty for a check the catalogue does not know."""
    spec = CATALOGUE.get(check)
    return f" [{level or spec.level} · {spec.rule.label}]" if spec else ""


def _transport_of(check: str) -> str:
    """``tcp`` or ``udp``: from the catalogue, else from the id's first part."""
    spec = CATALOGUE.get(check)
    return spec.transport if spec else check.split(".", 1)[0]


def _family_of(check: str) -> str:
    """``tcp.half-close`` for ``tcp.half-close.large``."""
    spec = CATALOGUE.get(check)
    return spec.family if spec else check.rsplit(".", 1)[0]


def leaf(check: str) -> str:
    """``half-close.large`` for ``tcp.half-close.large``: the transport is the block's title."""
    return check.split(".", 1)[1] if "." in check else check


@dataclass
class MatrixBlock:
    """The targets of one transport and the checks of that transport they ran.

    A TCP check on a UDP target is always "not applicable", so the matrix
    splits by transport instead of showing a quadrant of skips.
    """

    transport: str
    targets: list[str]
    checks: list[str]
    cells: dict[str, dict[str, tuple[str, bool]]]  # target -> check -> (outcome, gating)

    def outcome(self, target: str, check: str) -> tuple[str | None, bool]:
        """The cell's (outcome, gating); (None, False) when the target has no case of that check."""
        return self.cells.get(target, {}).get(check, (None, False))


def matrix_blocks(verdicts: Verdicts) -> list[MatrixBlock]:
    """One block per transport that has targets with results, in catalogue order."""
    table = verdicts.by_target()
    columns = verdicts.columns()
    transports = list(dict.fromkeys([*TRANSPORTS, *(meta["transport"] for meta in verdicts.targets.values())]))
    blocks = []
    for transport in transports:
        names = [t for t in verdicts.targets if table.get(t) and verdicts.targets[t]["transport"] == transport]
        checks = [c for c in columns if _transport_of(c) == transport and any(c in table[n] for n in names)]
        if names and checks:
            cells = {n: {c: (table[n][c]["outcome"], table[n][c]["gating"]) for c in checks if c in table[n]}
                     for n in names}
            blocks.append(MatrixBlock(transport, names, checks, cells))
    return blocks


def _fits(lines: list[str], width: int) -> bool:
    """True when no line is wider than the terminal."""
    return all(len(line) <= width for line in lines)


def _words_by_target(block: MatrixBlock) -> list[str]:
    """Targets as rows, checks as columns, one word per cell."""
    name_width = max(len(block.transport), *(len(n) for n in block.targets))
    widths = [max(len(leaf(c)), *(len(w) for w in CELL.values())) for c in block.checks]
    lines = [block.transport.ljust(name_width) + " " + " ".join(leaf(c).ljust(w) for c, w in zip(block.checks, widths))]
    for name in block.targets:
        cells = [cell_word(*block.outcome(name, c)) for c in block.checks]
        lines.append(name.ljust(name_width) + " " + " ".join(cell.ljust(w) for cell, w in zip(cells, widths)))
    return [line.rstrip() for line in lines]


def _words_by_check(block: MatrixBlock) -> list[str]:
    """The transpose: checks as rows, targets as columns (few targets, many checks)."""
    label_width = max(len(block.transport), *(len(leaf(c)) for c in block.checks))
    widths = [max(len(n), *(len(w) for w in CELL.values())) for n in block.targets]
    lines = [block.transport.ljust(label_width) + " " + " ".join(n.ljust(w) for n, w in zip(block.targets, widths))]
    for check in block.checks:
        cells = [cell_word(*block.outcome(n, check)) for n in block.targets]
        lines.append(leaf(check).ljust(label_width) + " " + " ".join(c.ljust(w) for c, w in zip(cells, widths)))
    return [line.rstrip() for line in lines]


def _family_groups(checks: list[str]) -> list[list[str]]:
    """Consecutive checks of one family together: [[echo.roundtrip, echo.binary], [stream.reassembly], ...]."""
    groups: list[list[str]] = []
    for check in checks:
        if groups and _family_of(groups[-1][-1]) == _family_of(check):
            groups[-1].append(check)
        else:
            groups.append([check])
    return groups


def _symbols(block: MatrixBlock, numbers: dict[str, int]) -> list[str]:
    """One symbol per cell; checks numbered (two header rows spell the numbers
    vertically) and grouped by family, a space between families."""
    name_width = max(len(block.transport), *(len(n) for n in block.targets))
    groups = _family_groups(block.checks)
    digits = max(len(str(numbers[c])) for c in block.checks)
    header_rows = []
    for place in range(digits):
        row = " ".join("".join(str(numbers[c]).rjust(digits)[place] for c in group) for group in groups)
        header_rows.append(row)
    lines = [("" if i < digits - 1 else block.transport).ljust(name_width) + " " + row
             for i, row in enumerate(header_rows)]
    for name in block.targets:
        row = " ".join("".join(cell_symbol(*block.outcome(name, c)) for c in group) for group in groups)
        lines.append(name.ljust(name_width) + " " + row)
    return [line.rstrip() for line in lines]


def _wrap(items: list[str], width: int, indent: str = "", separator: str = "  ") -> list[str]:
    """Join ``items`` into lines of at most ``width`` columns (an item never splits)."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}{separator}{item}" if current else indent + item
        if current and len(candidate) > width:
            lines.append(current)
            current = " " * len(indent) + item
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _check_legend(blocks: list[MatrixBlock], numbers: dict[str, int], width: int) -> list[str]:
    """``tcp.half-close    7 eof-after-echo  8 large``: one line per family (wrapped when narrow).

    A family of one check named like its transport (``udp.burst``) is shown
    by its id.
    """
    families = [group for block in blocks for group in _family_groups(block.checks)]
    labels = [_family_of(g[0]) if "." in _family_of(g[0]) else g[0] for g in families]
    label_width = max(len(label) for label in labels)
    digits = max(len(str(n)) for n in numbers.values())
    lines = []
    for label, group in zip(labels, families):
        items = [f"{numbers[c]}" + ("" if label == c else f" {c.rsplit('.', 1)[1]}") for c in group]
        items[0] = items[0].rjust(digits + len(items[0]) - len(str(numbers[group[0]])))
        lines += _wrap(items, width, indent=label.ljust(label_width) + " ")
    return lines


def render_matrix(verdicts: Verdicts, width: int) -> list[str]:
    """The end-of-run matrix, one block per transport, in the first form that fits ``width``:

    1. targets as rows, checks as columns, in words;
    2. the transpose (checks as rows), in words: few targets, many checks;
    3. one symbol per cell, checks numbered and grouped by family, with a
       legend of symbols and of check numbers underneath.
    """
    blocks = matrix_blocks(verdicts)
    if not blocks:
        return []
    for form in (_words_by_target, _words_by_check):
        rendered = [form(block) for block in blocks]
        if all(_fits(lines, width) for lines in rendered):
            return [line for i, lines in enumerate(rendered) for line in ([""] if i else []) + lines]
    numbers = {c: i + 1 for i, c in enumerate(c for block in blocks for c in block.checks)}
    lines: list[str] = []
    for block in blocks:
        lines += [""] if lines else []
        lines += _symbols(block, numbers)
    lines.append("")
    lines += _wrap(LEGEND.split("  "), width)
    lines += _check_legend(blocks, numbers, width)
    return lines


def render_not_applicable(verdicts: Verdicts) -> list[str]:
    """One line per check and reason for the cases that did not apply:
    ``tcp.limits.c10k: not applicable to 37 targets (needs capability 'c10k', which the target does not claim)``."""
    groups: dict[tuple[str, str], int] = {}
    for target, checks in verdicts.by_target().items():
        for check, cell in checks.items():
            if cell["outcome"] == "skipped":
                # The general part of the reason: the target's own particulars follow a ';'.
                reason = cell["message"].removeprefix("not applicable: ").split(";")[0].replace(target, "the target")
                groups[(check, reason)] = groups.get((check, reason), 0) + 1
    order = {check: i for i, check in enumerate(verdicts.check_order)}
    return [f"{check}: not applicable to {count} target{'s' if count > 1 else ''} ({reason})"
            for (check, reason), count in sorted(groups.items(), key=lambda g: (order.get(g[0][0], 0), g[0][1]))]


_CANNOT_JUDGE = re.compile(r"^cannot judge [^:]+: ")
# The address a launch error names: each case of a target gets a port of its own, so the same failure to
# start reads differently in each; folded, the port is said as the manifest says it.
_ADDRESS = re.compile(r"(\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}\b")
WITH_A_FIX = ("failed", "below")  # the outcomes whose problem line a fix line follows


def problem_lines(verdicts: Verdicts) -> list[tuple[str, bool]]:
    """(line, whether it fails the run) per problem, a FAIL or a below followed by its fix:
    ``c-x · tcp.half-close.large [must · RFC 9293 §3.6.1] → FAIL: half-close: expected …; got …``
    ``  fix: close only after writing everything: …``

    Inconclusive cases of one target that name the same owner for the same
    reason (a server that turns every client away) are one finding, shown once
    with the checks it kept from judging.  Errors of one target with the same
    message, but for the port each case was given (a target that cannot
    start), are one line too, naming how many checks it hit."""
    entries: list[tuple[str, object, bool]] = []  # (kind, line or fold key, gating)
    folded: dict[tuple[str, ...], list[str]] = {}
    errors: dict[tuple[str, ...], list[tuple[str, dict]]] = {}
    for target, check, cell in verdicts.problems():
        if cell["outcome"] == "inconclusive" and cell.get("owner") and not cell["gating"]:
            why = _CANNOT_JUDGE.sub("", cell["message"])
            see = f"(see {cell['owner']})"
            key = (target, cell["owner"], why[:why.find(see) + len(see)] if see in why else why)
            if key not in folded:
                folded[key] = []
                entries.append(("inconclusive", key, False))  # rendered below, once every check is in
            folded[key].append(check)
            continue
        if cell["outcome"] == "error":
            key = (target, _ADDRESS.sub(r"\1:{port}", cell["message"]))
            if key not in errors:
                errors[key] = []
                entries.append(("error", key, False))
            errors[key].append((check, cell))
            continue
        entries.append(("line", _problem_line(target, check, cell), cell["gating"]))
        if cell["outcome"] in WITH_A_FIX and cell.get("hint"):
            entries.append(("line", fix_line(cell["hint"]), cell["gating"]))
    out = []
    for kind, line, gating in entries:
        if kind == "inconclusive":
            target, _owner, why = line
            checks = folded[line]
            if len(checks) == 1:
                line = f"{target} · {checks[0]}{rule_tag(checks[0])} → inconclusive: cannot judge {checks[0]}: {why}"
            else:
                line = f"{target} · {len(checks)} checks → inconclusive: cannot judge {', '.join(checks)}: {why}"
        elif kind == "error":
            target, message = line
            cases = errors[line]
            gating = any(cell["gating"] for _, cell in cases)
            line = _problem_line(target, *cases[0])
            if len(cases) > 1:
                # The first check's line, saying the message as the cases share it and how many it hit.
                check, cell = cases[0]
                line = (f"{target} · {check}{rule_tag(check, cell['level'])} → {outcome_label('error', gating)}: "
                        f"{message} (the same error in {len(cases)} checks)")
        out.append((line, gating))
    return out


def _problem_line(target: str, check: str, cell: dict) -> str:
    return (f"{target} · {check}{rule_tag(check, cell['level'])} → {outcome_label(cell['outcome'], cell['gating'])}: "
            f"{cell['message']}")


def render_problems(verdicts: Verdicts) -> list[str]:
    """The problem lines and their fix lines (see problem_lines)."""
    return [line for line, _ in problem_lines(verdicts)]


def model_lines(verdicts: Verdicts) -> list[str]:
    """What was observed of a target that the user should know, one line each: the port it listens on
    when it ignored ``{port}`` (``me: listens on 127.0.0.1:9000, whatever {port} says; checked there``);
    the model of a target that declares none, or whose declared model disagrees with it."""
    lines = []
    everything = verdicts.observed()
    for name, meta in verdicts.targets.items():
        observed = everything[name]
        if observed.get("port"):
            lines.append(f"{name}: listens on {observed['port']}; checked there")
        seen = observed.get("model")
        if seen is None:
            continue
        declared = meta.get("model") or "other"
        if declared == "other":
            lines.append(f"{name}: observed {seen}")
        elif claim_disagrees(declared, seen):
            lines.append(f"{name}: declared model {declared}; observed {seen}")
    return lines


def render_baseline(diff: BaselineDiff) -> list[str]:
    """The comparison with --baseline, for the terminal: counts, then one line per change."""
    lines = [f"against the baseline {diff.path}: {diff.counts()}"]
    for title, changes in (("regressed", diff.regressed), ("fixed", diff.fixed), ("new", diff.new)):
        for c in changes:
            before = CELL.get(c.before, "no verdict") if c.before else "no verdict"
            tail = f": {c.message}" if c.message and title != "fixed" else ""
            lines.append(f"  {title}: {c.target} · {c.check} {before} → {CELL[c.after]}{tail}")
    return lines


