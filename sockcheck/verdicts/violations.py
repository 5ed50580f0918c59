"""``--write-violations``: a manifest fragment that declares what a run found, to adopt the suite
on a server with known problems."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sockcheck.verdicts.gating import VERDICTS
from sockcheck.verdicts.matrix import cell_word, rule_tag
from sockcheck.verdicts.table import Verdicts

def _toml_string(text: str) -> str:
    # A JSON string (control characters escaped, the rest as is) is a valid TOML basic string.
    return json.dumps(text, ensure_ascii=False)


PLACEHOLDER = "TODO: say why the server breaks this rule"


def render_violations(verdicts: Verdicts, declared: Mapping[str, Mapping[str, str]], run: Mapping) -> str:
    """A manifest fragment for ``--write-violations``: for each target with a failure (failed or below,
    gating or not), ``[[target]]`` with its name and a ``[target.violates]`` table that declares what the
    run found, with placeholder reasons, and keeps the declared violations it caught with their reasons."""
    table = verdicts.by_target()
    lines = [
        f"# sockcheck --write-violations: what each target failed in this run (seed {run.get('seed')}, "
        f"{run.get('started', 'now')}), as [target.violates] tables.",
        "# Replace each TODO with the reason the server breaks the rule, then replace the [target.violates] of",
        "# the target's entry in its manifest with the table here (a [[target]] here holds only the name: keep",
        "# the entry's other keys). Declared violations the run caught keep their reasons; declared violations",
        "# it no longer detected are listed as comments, to remove.",
    ]
    written = 0
    for target in verdicts.targets:
        checks = table.get(target, {})
        found = [(c, cell) for c, cell in checks.items() if cell["outcome"] in VERDICTS]
        caught = [(c, cell) for c, cell in checks.items() if cell["outcome"] == "xfailed"]
        gone = [c for c, cell in checks.items() if cell["outcome"] == "xpassed"]
        if not (found or caught or gone):
            continue
        written += 1
        lines += ["", "[[target]]", f"name = {_toml_string(target)}", "[target.violates]"]
        entries = [(c, declared.get(target, {}).get(c) or PLACEHOLDER, None) for c, _ in caught]
        entries += [(c, f"{PLACEHOLDER} (found: {cell['message'][:240]})", cell) for c, cell in found]
        for check in [c for c in verdicts.check_order if any(c == e[0] for e in entries)]:
            _, reason, cell = next(e for e in entries if e[0] == check)
            if cell is not None:
                lines.append(f"# {cell_word(cell['outcome'], cell['gating'])}{rule_tag(check, cell['level'])}")
            lines.append(f"{_toml_string(check)} = {_toml_string(reason)}")
        lines += [f"# no longer detected, remove: {_toml_string(c)} = {_toml_string(declared.get(target, {}).get(c, ''))}"
                  for c in gone]
    if not written:
        lines += ["", "# Nothing failed: no target needs a [target.violates] entry."]
    return "\n".join(lines) + "\n"
