"""The catalogue, the checks and the bundled targets agree with each other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.launch.manifest import TargetSpec, load_manifest
from selftest.running import BUNDLED_MANIFEST, ROOT

CHECK_DECORATOR = re.compile(r'^@check\("([^"]+)"\)', re.M)

FAULTY = ROOT / "targets" / "faulty"
# "tcp.half-close.eof-after-echo": a transport and two dotted words; a period that ends a sentence is not part of it.
CHECK_ID = re.compile(r"\b(?:tcp|udp)(?:\.[a-z0-9]+(?:-[a-z0-9]+)*){1,2}")
# From "Exposed by:" to the end of its sentence (a period followed by a space), or of the header.
EXPOSED_BY = re.compile(r"Exposed by:(.*?)(?:\.\s|\.?$)", re.S)

# A specific breaker declares at most this many violations.  One defect in
# how a server handles the byte stream shows in the check that is about it
# and also wherever more than a buffer's worth streams at once: tcp.echo.large,
# both half-close checks and tcp.backpressure.slow-reader (f-recv-whole-message,
# the specific breaker of tcp.stream.coalesced, is that case: 5).  A broad
# breaker, whose defect breaks every exchange (f-epoll-et-nodrain,
# f-one-recv-one-message, f-stdio-unflushed), declares 12 or more.
MAX_SPECIFIC_VIOLATIONS = 5

# Checks that no bundled faulty target breaks specifically yet, and why.  The
# list may only shrink: a check that gains a specific breaker must leave it.
AWAITING_SPECIFIC_BREAKER = {
    "tcp.stream.reassembly": "its stimulus, many small segments, is chunking every stream has; a server that breaks on it "
                             "deterministically breaks the other stream checks too",
    "tcp.nagle.small-writes": "its server-side rule is an intact echo of coalesced tiny writes; where the server's reads "
                              "split is timing, and a defect that does not depend on it breaks tcp.echo.roundtrip too",
}


def implemented_ids() -> list[str]:
    return [m for path in sorted((ROOT / "suites").rglob("test_*.py")) for m in CHECK_DECORATOR.findall(path.read_text())]


def faulty_targets() -> list[TargetSpec]:
    return [t for t in load_manifest(BUNDLED_MANIFEST) if t.name.startswith("f-")]


def faulty_source(target: TargetSpec) -> Path | None:
    """The source file in targets/faulty that a faulty target runs.

    ``faulty/x.py`` is itself; ``faulty/bin/NAME`` is built from the source an
    explicit ``bin/NAME: SOURCE.c`` rule in the Makefile names, else NAME.c.
    """
    makefile = (FAULTY / "Makefile").read_text()
    for arg in target.command:
        path = (target.cwd / arg).resolve()
        if path.parent == FAULTY / "bin":
            rule = re.search(rf"^bin/{re.escape(path.name)}:\s*(\S+\.c)\b", makefile, re.M)
            return FAULTY / (rule.group(1) if rule else f"{path.name}.c")
        if path.parent == FAULTY and path.suffix == ".py":
            return path
    return None


def header(source: Path) -> str:
    """The opening comment (C) or docstring (Python), as one line of words."""
    text = source.read_text()
    if source.suffix == ".py":
        opening = ast.get_docstring(ast.parse(text)) or ""
    else:
        opening = text[2:text.index("*/")] if text.startswith("/*") else ""
    return " ".join(line.strip().lstrip("*").strip() for line in opening.splitlines()).strip()


def exposed_by(source: Path) -> set[str] | None:
    """The check ids on the header's ``Exposed by:`` line, None when it has none."""
    match = EXPOSED_BY.search(header(source))
    return None if match is None else set(CHECK_ID.findall(match.group(1)))


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
    silent = [t.name for t in faulty_targets() if not t.violates]
    assert silent == []


def test_every_faulty_source_names_the_checks_that_expose_it():
    """A faulty server's header says which checks catch it, on an ``Exposed by:`` line, and the manifest agrees.

    The line (from "Exposed by:" to the end of its sentence) names check ids;
    each must be a catalogue id that the manifest declares for a target built
    from that source (one source may serve two targets, such as the TCP and
    UDP entries of ipv4_only.py), and each of those targets declares at least
    one of them.  A header that promises a check its manifest entry does not
    declare would be a claim nothing verifies.
    """
    targets = faulty_targets()
    by_source: dict[Path, list[TargetSpec]] = {}
    problems = []
    for target in targets:
        source = faulty_source(target)
        if source is None or not source.is_file():
            problems.append(f"{target.name}: no source in targets/faulty for {list(target.command)}")
        else:
            by_source.setdefault(source, []).append(target)
    for source, users in sorted(by_source.items()):
        where = f"{source.relative_to(ROOT)} ({', '.join(t.name for t in users)})"
        ids = exposed_by(source)
        if ids is None:
            problems.append(f"{where}: no 'Exposed by:' line in its header")
            continue
        declared = {check for target in users for check in target.violates}
        if unknown := sorted(ids - set(CATALOGUE)):
            problems.append(f"{where}: 'Exposed by:' names unknown check ids {unknown}")
        if undeclared := sorted((ids & set(CATALOGUE)) - declared):
            problems.append(f"{where}: 'Exposed by:' names {undeclared}, which its manifest entries do not declare")
        for target in users:
            if not ids & set(target.violates):
                problems.append(f"{where}: {target.name} declares none of the checks its 'Exposed by:' line names "
                                f"({sorted(ids) or 'none'})")
    assert problems == []


def test_every_check_has_a_specific_faulty_target():
    """Every check is caught by a faulty server whose one defect is what that check is about.

    Broad breakers (a server whose echo is broken altogether) fail nearly
    every check, so being caught by one shows little about a check.  A
    specific breaker is a faulty target (f-*) that declares the check, names
    it on its header's ``Exposed by:`` line, and declares at most
    MAX_SPECIFIC_VIOLATIONS violations: its own check plus the few whose
    stimulus exercises the same defect.  Checks without one yet are listed,
    with the reason, in AWAITING_SPECIFIC_BREAKER, which may only shrink.
    """
    specific: dict[str, list[str]] = {}
    for target in faulty_targets():
        source = faulty_source(target)
        ids = exposed_by(source) if source is not None and source.is_file() else None
        if ids is None or len(target.violates) > MAX_SPECIFIC_VIOLATIONS:
            continue
        for check in ids & set(target.violates):
            specific.setdefault(check, []).append(target.name)
    missing = sorted(set(CATALOGUE) - set(specific))
    assert missing == sorted(AWAITING_SPECIFIC_BREAKER), {
        "without a specific breaker": sorted(set(missing) - set(AWAITING_SPECIFIC_BREAKER)),
        "has one now, remove from AWAITING_SPECIFIC_BREAKER": {c: specific.get(c) for c in sorted(set(AWAITING_SPECIFIC_BREAKER) - set(missing))},
    }
