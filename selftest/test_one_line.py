"""One line is enough: a bundled faulty server given as ``--target "NAME=COMMAND"``, with nothing
declared, fails exactly the checks its manifest entry declares (the default run proves the manifest
form catches them), but for checks that only an author's claim turns on (c10k)."""

from __future__ import annotations

import tomllib

import pytest

from sockcheck.verdicts.catalogue import CATALOGUE
from selftest.running import BUNDLED_MANIFEST, ROOT, ensure_c_targets

# One faulty server of each classic model: process (two zombie bugs), thread, select, poll.
ONE_LINERS = ["f-fork-noreap", "f-fork-waitpid-once", "f-thread-fd-race", "f-select-noguard",
              "f-accept-blocks-on-read"]
PROBLEMS = ("failed", "below")


def bundled_entry(name: str) -> dict:
    return next(t for t in tomllib.loads(BUNDLED_MANIFEST.read_text())["target"] if t["name"] == name)


@pytest.mark.timeout(200)
@pytest.mark.parametrize("name", ONE_LINERS)
def test_a_one_liner_fails_what_the_manifest_declares(sockcheck, name):
    ensure_c_targets()
    entry = bundled_entry(name)
    binary, *arguments = entry["command"]
    one_line = " ".join([str(ROOT / "targets" / binary), *arguments])
    run = sockcheck.run("--target", f"{name}={one_line}", suites=[ROOT / "suites" / "tcp"], timeout=170)
    found = {check for (_, check), outcome in run.outcomes().items() if outcome in PROBLEMS}
    claims_only = {check for check in entry["violates"] if CATALOGUE[check].requires}
    assert found == set(entry["violates"]) - claims_only, str(run)
    assert run.ret == 1  # a must or should finding among them: the default gate fails the run
