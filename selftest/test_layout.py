"""The shape of the package: the core (sockcheck/) never imports pytest, the pytest side or the
checks; the pytest side (fixtures/) never imports the checks; each module keeps to a size a reader
can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sockcheck import layout

ROOT = layout.ROOT
CORE = ROOT / "sockcheck"
PLUGIN_SIDE = ROOT / "fixtures"
# What the core may not import: pytest and its plugins, the pytest side, the checks.
CORE_FORBIDDEN = ("pytest", "_pytest", "xdist", "allure", "allure_commons", "allure_pytest", "sockcheck.fixtures",
                  "sockcheck.suites", "suites", "selftest")
PLUGIN_FORBIDDEN = ("sockcheck.suites", "suites", "selftest")
MAX_LINES = 450


def imported_modules(source: str) -> set[str]:
    """Every module a source imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_in(source: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imported_modules(source)
                  if any(name == bad or name.startswith(bad + ".") for bad in forbidden))


def python_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def test_the_detector_sees_imports_at_any_depth():
    source = "import os\ndef f():\n    from sockcheck import fixtures\n    import pytest as p\n"
    assert forbidden_in(source, CORE_FORBIDDEN) == ["pytest", "sockcheck.fixtures"]
    assert forbidden_in("from sockcheck.net import clients\n", CORE_FORBIDDEN) == []


@pytest.mark.parametrize("path", python_files(CORE), ids=lambda path: str(path.relative_to(ROOT)))
def test_the_core_imports_no_pytest_fixtures_or_checks(path):
    assert forbidden_in(path.read_text(), CORE_FORBIDDEN) == []


@pytest.mark.parametrize("path", python_files(PLUGIN_SIDE), ids=lambda path: str(path.relative_to(ROOT)))
def test_the_pytest_side_imports_no_checks(path):
    assert forbidden_in(path.read_text(), PLUGIN_FORBIDDEN) == []


def test_modules_stay_small():
    """A module over MAX_LINES lines is a sign that it mixes concerns: split it by what it does."""
    long = {str(path.relative_to(ROOT)): n for path in python_files(CORE) + python_files(PLUGIN_SIDE)
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_subpackage_is_in_the_distribution():
    """pyproject.toml lists the packages explicitly: a new subpackage left out would be missing from
    the installed command (it imports fine from the checkout)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in CORE.rglob("__init__.py")
             if "__pycache__" not in path.parts}
    assert found - listed == set()
