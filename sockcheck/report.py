"""``sockcheck report RESULTS_DIR [--output DIR]``: the Allure report of a run, as one HTML file.

The report is Allure 3's Awesome report in its single-file mode (the plugin's
``singleFile`` option): the page, its scripts and styles, every test result and
every attachment are inlined in ``DIR/index.html``, so the file opens from
``file://``, a downloaded CI artifact included.  The multi-file report fetches
its data files, which a browser refuses for ``file://`` pages, and spins
forever.  ``DIR`` defaults to ``allure-report`` beside the results folder
(``reports/allure-results`` gives ``reports/allure-report``); an existing
``DIR`` is replaced when it holds an earlier Allure report, and left alone
otherwise.

The categories are those the run wrote into the results folder
(``categories.json``, fixtures/allure_report.py), read once RESULTS_DIR is
made absolute, so a relative or absolute path, with or without a trailing
slash, from any folder, finds the same file.  Allure 3 takes categories from
its configuration only: they go into an Allure configuration written for
this report.  Allure's command line reads its results folder argument as a glob
pattern, so the results are handed to it as a copy (hard links where the
file system allows) under a plain name in a private folder: brackets or
spaces in the user's path mean nothing to it.  The page Allure writes loads
Google Analytics; that tag is removed, so opening the report makes no
request off the machine.

Allure 3 is a Node package: the command line is pinned by the package.json
and package-lock.json in ``reports-tool/`` (the checkout's folder; in an
installed sockcheck, the package's copy) and installed with ``npm ci`` on
first use into ``VERSION/reports-tool`` of the cache folder the bundled
targets use (sockcheck/layout.py: ``~/.cache/sockcheck``, or
``/var/cache/sockcheck`` for root).  Not into the package: site-packages may
be read-only or shared, and 159 npm packages are no package data.  Per
sockcheck version, so two installed versions do not fight over one pin; the
install is redone when the pinned lock file changes, runs under a lock file
(parallel runs install once) and moves into place only when complete, so an
interrupted install is never taken for a finished one.  Node.js and npm are
needed to build a report, never to read one.

Exit status: 0 when the report is written, 1 when Allure fails to build it,
2 when it cannot run (no Node.js or npm, the install failed, no results).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sockcheck import __version__, layout

TOOL_SOURCE = Path(__file__).resolve().parent / "reports-tool"  # the pinned Allure 3 (a link in the checkout)
TOOL_FILES = ("package.json", "package-lock.json")
ALLURE_CLI = Path("node_modules") / "allure" / "cli.js"
NODE_MAJOR = 20  # the pinned tree's engines (package-lock.json) ask for 20 or later
INSTALL_TIMEOUT = 600.0
GENERATE_TIMEOUT = 600.0
CANNOT_RUN = 2
NEEDS_NODE = ("sockcheck report needs Node.js {major}+ and npm to build the report{found} "
              "(Debian: apt-get install -y nodejs npm)")
REPORT_NAME = "sockcheck conformance"
# The tree: "tcp targets" > target > check family > test case (fixtures/allure_report.py's suites).
GROUP_BY = ["parentSuite", "suite", "subSuite"]
# Allure 3.18's Awesome template (plugin-awesome/dist/generators.js) always adds this tag pair.
ANALYTICS_TAGS = re.compile(r'\s*<script async src="https://www\.googletagmanager\.com/gtag/js\?[^"]*"></script>'
                            r"\s*<script>\s*window\.dataLayer = [\s\S]*?</script>")


class CannotRun(Exception):
    """What keeps the command from building a report; the message says what to do."""


def tool_folder(version: str = __version__) -> Path:
    """Where the pinned Allure command line is installed: beside the bundled targets' cache folder."""
    return layout.cache_folder(version).parent / "reports-tool"


def node_binary() -> str:
    """The ``node`` to run Allure with (version NODE_MAJOR or later)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise CannotRun(NEEDS_NODE.format(major=NODE_MAJOR, found=""))
    try:
        found = subprocess.run([node, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotRun(NEEDS_NODE.format(major=NODE_MAJOR, found=f" ({node} does not run: {exc})")) from None
    match = re.match(r"v(\d+)\.", found)
    if not match or int(match.group(1)) < NODE_MAJOR:
        raise CannotRun(NEEDS_NODE.format(major=NODE_MAJOR, found=f" ({node} is {found or 'of unknown version'})"))
    return node


def is_installed(folder: Path, source: Path = TOOL_SOURCE) -> bool:
    """Whether ``folder`` holds a finished install of the lock file in ``source``."""
    lock = folder / "package-lock.json"
    return ((folder / ALLURE_CLI).is_file() and lock.is_file()
            and lock.read_bytes() == (source / "package-lock.json").read_bytes())


def installed_allure(folder: Path | None = None, source: Path = TOOL_SOURCE) -> Path:
    """The pinned Allure command line's cli.js, installed with ``npm ci`` into ``folder`` when it is not
    there yet (or was installed from another lock file)."""
    folder = folder or tool_folder()
    if not all((source / name).is_file() for name in TOOL_FILES):
        raise CannotRun(f"sockcheck report: {source} lacks {' or '.join(TOOL_FILES)}: this sockcheck is installed "
                        "without its reports-tool files; reinstall it")
    if is_installed(folder, source):
        return folder / ALLURE_CLI
    npm = shutil.which("npm")
    if npm is None:
        raise CannotRun(NEEDS_NODE.format(major=NODE_MAJOR, found=" (npm is missing)"))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / "reports-tool.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes; another run may have installed by now
        if is_installed(folder, source):
            return folder / ALLURE_CLI
        print(f"sockcheck report: installing the Allure command line ({source / 'package-lock.json'}) "
              f"into {folder} with npm ci", file=sys.stderr)
        staging = Path(tempfile.mkdtemp(prefix="reports-tool.", dir=folder.parent))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the tool from a user other than its installer
        try:
            for name in TOOL_FILES:
                shutil.copyfile(source / name, staging / name)
            # No package of the pinned tree has an install script (package-lock.json: no hasInstallScript).
            argv = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
            try:
                result = subprocess.run(argv, cwd=staging, stdin=subprocess.DEVNULL, capture_output=True,
                                        text=True, timeout=INSTALL_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise CannotRun(f"sockcheck report: npm ci in {staging} failed: {exc}") from None
            if result.returncode != 0 or not (staging / ALLURE_CLI).is_file():
                raise CannotRun(f"sockcheck report: npm ci (the Allure command line, into {folder}) failed with "
                                f"status {result.returncode}; it needs the npm registry once:\n{tail(result)}")
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)  # the .bin links are relative: the tree works from its new name
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder / ALLURE_CLI


def categories_of(results: Path) -> list[dict]:
    """The categories the run wrote into its results folder; [] (said on stderr) when there are none."""
    path = results / "categories.json"
    if not path.is_file():
        print(f"sockcheck report: {path} is missing: the report will not group failures by kind "
              "(a sockcheck run writes it when it ends)", file=sys.stderr)
        return []
    try:
        categories = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CannotRun(f"sockcheck report: {path} is not readable JSON: {exc}") from None
    if not isinstance(categories, list):
        raise CannotRun(f"sockcheck report: {path} holds {type(categories).__name__}, expected a list of categories")
    return categories


def allure_config(categories: list[dict]) -> dict:
    """Allure 3's configuration (allurerc.json) for the single-file report of a sockcheck run."""
    return {
        "name": REPORT_NAME,
        "categories": categories,
        "plugins": {"awesome": {"options": {"singleFile": True, "reportName": REPORT_NAME, "reportLanguage": "en",
                                            "groupBy": GROUP_BY}}},
    }


def without_analytics(page: str) -> str:
    """The report page without its Google Analytics tags."""
    return ANALYTICS_TAGS.sub("", page, count=1)


def copy_results(results: Path, into: Path) -> None:
    """``results`` as a folder ``into``: hard links where the file system allows, else copies."""

    def link_or_copy(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    shutil.copytree(results, into, copy_function=link_or_copy, symlinks=False)


def default_output(results: Path) -> Path:
    """The report folder of a results folder: ``allure-report`` beside it."""
    return results.parent / "allure-report"


def check_replaceable(output: Path) -> None:
    """Refuse an existing, non-empty ``output`` that is not an earlier Allure report."""
    if not output.exists():
        return
    if not output.is_dir():
        raise CannotRun(f"sockcheck report: {output} exists and is not a folder; choose another --output")
    if not any(output.iterdir()):
        return
    index = output / "index.html"
    head = index.read_bytes()[:65536].lower() if index.is_file() else b""
    if b"allure" not in head:
        raise CannotRun(f"sockcheck report: {output} exists and holds no Allure report: not replacing it; "
                        "choose another --output")


def build_report(results: Path, output: Path, tool: Path | None = None) -> Path:
    """Write the single-file report of ``results`` to ``output``/index.html, with the Allure command line
    installed in ``tool`` (default: ``tool_folder()``); the path written.

    Raises CannotRun when it cannot run (results, output folder, Node.js), RuntimeError when Allure fails."""
    results, output = results.resolve(), output.resolve()
    if not results.is_dir():
        raise CannotRun(f"sockcheck report: {results} is not a folder of Allure results")
    if not any(results.glob("*-result.json")):
        raise CannotRun(f"sockcheck report: {results} holds no test results (*-result.json): "
                        "run sockcheck with --alluredir first")
    check_replaceable(output)
    categories = categories_of(results)
    node = node_binary()
    allure_cli = installed_allure(tool)
    with tempfile.TemporaryDirectory(prefix="sockcheck-report-") as scratch:
        work = Path(scratch)
        copy_results(results, work / "allure-results")
        (work / "allurerc.json").write_text(json.dumps(allure_config(categories), indent=2) + "\n")
        argv = [node, str(allure_cli), "generate", "--config", str(work / "allurerc.json"),
                "--output", str(work / "report"), "allure-results"]
        try:
            result = subprocess.run(argv, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=GENERATE_TIMEOUT, env={**os.environ, "NO_COLOR": "1"})
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"allure generate did not finish within {GENERATE_TIMEOUT:.0f} s") from None
        page = work / "report" / "index.html"
        if result.returncode != 0 or not page.is_file():
            raise RuntimeError(f"allure generate failed with status {result.returncode}:\n{tail(result)}")
        # Allure writes summary.json and test-results.json beside the page; the report is the page alone.
        # It replaces ``output`` in one rename, so a reader never finds half a report.
        output.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
        try:
            (staged / "index.html").write_text(without_analytics(page.read_text(encoding="utf-8")), encoding="utf-8")
            staged.chmod(0o755)
            shutil.rmtree(output, ignore_errors=True)
            staged.rename(output)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    return output / "index.html"


def tail(result: subprocess.CompletedProcess, lines: int = 15) -> str:
    """The last lines a process wrote, stdout and stderr together."""
    text = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part and part.strip())
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def main(argv: list[str] | None = None) -> int:
    """``sockcheck report RESULTS_DIR [--output DIR]``; the exit status."""
    parser = argparse.ArgumentParser(
        prog="sockcheck report",
        description="Build the Allure report of a sockcheck run (--alluredir) as one HTML file that opens from "
                    "file://, with sockcheck's categories.")
    parser.add_argument("results", metavar="RESULTS_DIR", type=Path,
                        help="the run's Allure results folder (--alluredir)")
    parser.add_argument("--output", "-o", metavar="DIR", type=Path, default=None,
                        help="the report folder; index.html inside (default: allure-report beside RESULTS_DIR)")
    args = parser.parse_args(argv)
    results = args.results.resolve()
    output = args.output if args.output is not None else default_output(results)
    try:
        page = build_report(results, output)
    except CannotRun as exc:
        print(exc, file=sys.stderr)
        return CANNOT_RUN
    except RuntimeError as exc:
        print(f"sockcheck report: {exc}", file=sys.stderr)
        return 1
    print(f"sockcheck report: {page} ({page.stat().st_size // 1024} KiB, one file: open it in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
