"""The generated documentation stays in step with what it is generated from."""

from __future__ import annotations

import subprocess
import sys

from selftest.running import ROOT


def test_checks_doc_is_current():
    """docs/checks.md is generated from the catalogue, the check docstrings and the bundled manifest;
    a change to any of them without regenerating it must fail here, not mislead a reader."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-checks-doc"), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checks_doc_lists_every_fix_hint():
    """Each check's hints, and those its transport shares, are listed with it: the catalogue declares them,
    docs/checks.md is where a reader looks them up without running anything."""
    from sockcheck.verdicts.catalogue import CATALOGUE, SHARED_FIXES

    text = (ROOT / "docs" / "checks.md").read_text()
    for spec in CATALOGUE.values():
        section = text[text.index(f"#### `{spec.id}`"):]
        section = section[:section.find("\n#### ", 1)] if "\n#### " in section[1:] else section
        assert f"- Fix: {spec.fix}\n" in section, spec.id
        for cause, hint in spec.fixes:
            assert f"- Fix (`{cause}`): {hint}\n" in section, (spec.id, cause)
    for shared in SHARED_FIXES.values():
        for cause, hint in shared.items():
            assert f"| `{cause}` | {hint} |" in text
