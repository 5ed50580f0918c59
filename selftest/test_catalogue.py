"""The catalogue, the checks and the bundled targets agree with each other."""

from __future__ import annotations

import re

from fixtures.catalogue import CATALOGUE
from fixtures.manifest import load_manifest
from selftest.running import BUNDLED_MANIFEST, ROOT

CHECK_DECORATOR = re.compile(r'^@check\("([^"]+)"\)', re.M)


def implemented_ids() -> list[str]:
    return [m for path in sorted((ROOT / "suites").rglob("test_*.py")) for m in CHECK_DECORATOR.findall(path.read_text())]


def test_every_catalogue_check_has_exactly_one_implementation():
    """A catalogue id without a test would be accepted in manifests but never run."""
    ids = implemented_ids()
    assert sorted(ids) == sorted(CATALOGUE), {"missing": sorted(set(CATALOGUE) - set(ids)),
                                              "extra or repeated": sorted(i for i in ids if ids.count(i) > 1)}


def test_every_check_is_caught_by_a_bundled_faulty_target():
    """A check that no bundled faulty server fails has never been shown able to fail."""
    declared = {check for target in load_manifest(BUNDLED_MANIFEST) for check in target.violates}
    assert sorted(set(CATALOGUE) - declared) == []


def test_faulty_targets_declare_what_they_break():
    """Every faulty target (f-*) declares at least one violation, or the suite would not prove it is caught."""
    silent = [t.name for t in load_manifest(BUNDLED_MANIFEST) if t.name.startswith("f-") and not t.violates]
    assert silent == []
