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
