"""The run as JUnit XML, written from the verdicts: the same file from a run and from ``sockcheck merge``.

One ``testcase`` per target and check, named in the catalogue's words
(classname ``tcp.half-close``, name ``tcp.half-close.large[c-epoll]``), with
the verdict as properties (check, target, outcome, level, rule, rule_url,
gating, owner) so that CI reporters can group and filter on them.  The
element follows the gate, as pytest's exit status does:

- a problem that fails the run: ``failure`` (a rule broken, a declared
  violation not detected) or ``error`` (the harness could not judge), with the
  one-line finding as message and the finding, the rule, the fix (for a rule
  broken) and the evidence as text;
- a verdict the gate lets pass (``fail``, ``below``): ``skipped`` with the
  finding as message and the same text as a failure's, fix included;
- an inconclusive case, a case that does not apply: ``skipped`` with the
  finding as message;
- a declared violation caught: ``skipped`` of type ``xfail``, as pytest's
  junitxml marks an xfail;
- a pass: nothing.

Two runs that gave the same verdicts give the same bytes except in the
``time`` and ``timestamp`` attributes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sockcheck.verdicts.catalogue import CATALOGUE
from sockcheck.verdicts.record import Outcome, failure_text
from sockcheck.verdicts.table import Verdicts

SUITE = "sockcheck"


def render_junit(verdicts: Verdicts, run: dict) -> bytes:
    """The JUnit document of a run's verdicts; ``run`` is the JSON's run block (seed, gate, started)."""
    suite = ET.Element("testsuite", name=SUITE)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    properties = ET.SubElement(suite, "properties")
    if run.get("seed") is not None:
        ET.SubElement(properties, "property", name="seed", value=_text(run["seed"]))
    gate = run.get("gate")
    if gate:
        level = gate.get("level") or f"{gate.get('default_level')} (default)"
        ET.SubElement(properties, "property", name="gate", value=level + (" regressions" if gate.get("regressions") else ""))
    total = 0.0
    for target, checks in verdicts.by_target().items():
        for check, cell in checks.items():
            counts["tests"] += 1
            total += cell["duration"]
            element = _testcase(suite, target, check, cell)
            kind = element[-1].tag if len(element) > 1 else None
            if kind == "failure":
                counts["failures"] += 1
            elif kind == "error":
                counts["errors"] += 1
            elif kind == "skipped":
                counts["skipped"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total:.3f}")
    if run.get("started"):
        suite.set("timestamp", str(run["started"]))
    root = ET.Element("testsuites", name=SUITE)
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _testcase(suite: ET.Element, target: str, check: str, cell: dict) -> ET.Element:
    family = CATALOGUE[check].family if check in CATALOGUE else check.rsplit(".", 1)[0]
    case = ET.SubElement(suite, "testcase", classname=family, name=f"{check}[{target}]", time=f"{cell['duration']:.3f}")
    spec = CATALOGUE.get(check)
    values = {"check": check, "target": target, "outcome": cell["outcome"], "level": cell["level"],
              "rule": cell["rule"], "rule_url": spec.rule.url if spec else None,
              "gating": "true" if cell["gating"] else "false", "owner": cell.get("owner"),
              "nodeid": " ".join(cell["nodeids"])}
    properties = ET.SubElement(case, "properties")
    for key, value in values.items():
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=_text(value))
    outcome, message = Outcome(cell["outcome"]), cell["message"]
    evidence = [tuple(section) for section in cell.get("evidence", [])]
    # The fix goes with a rule broken or a figure below its threshold, gating or not.
    hint = cell.get("hint", "") if outcome in (Outcome.FAILED, Outcome.BELOW) else ""
    text = _text(failure_text(check, cell["level"], message, evidence, hint))
    if outcome is Outcome.ERROR:
        ET.SubElement(case, "error", message=_text(message)).text = text
    elif cell["gating"] and outcome is not Outcome.XFAILED and outcome is not Outcome.PASSED:
        ET.SubElement(case, "failure", message=_text(message)).text = text
    elif outcome is Outcome.XFAILED:
        ET.SubElement(case, "skipped", type="xfail", message=_text(f"declared violation caught: {message}"))
    elif outcome in (Outcome.FAILED, Outcome.BELOW):
        ET.SubElement(case, "skipped", message=_text(message)).text = text
    elif outcome is not Outcome.PASSED:
        ET.SubElement(case, "skipped", message=_text(message))
    return case


def _text(value: object) -> str:
    """XML 1.0 allows no control characters but tab, line feed and carriage return: a target's log may
    hold any byte, so the others are shown as \\xNN."""
    text = str(value)
    return "".join(ch if ch in "\t\n\r" or (ord(ch) >= 0x20 and ord(ch) not in (0xFFFE, 0xFFFF)) else f"\\x{ord(ch):02x}"
                   for ch in text)
