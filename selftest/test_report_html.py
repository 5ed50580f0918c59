"""``sockcheck report``: the Allure report of a run as one HTML file, with sockcheck's categories, from any
form of the results path.

This used to need the checkout: an absolute results path made ``make report``
look for the categories under a path of its own making, and the report lost
them; the multi-file report also never rendered from ``file://``.  The Allure
runs here use the pinned command line, which ``sockcheck report`` installs
into its cache folder on first use (npm ci, once per machine).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import uuid
from pathlib import Path

import pytest

from sockcheck import report
from sockcheck.fixtures.allure_report import CATEGORIES

NEEDS_NODE = pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")),
                                reason="sockcheck report needs Node.js and npm: apt-get install -y nodejs npm")
# One case per kind the categories tell apart, with sockcheck's own messages (fixtures/allure_report.py).
RST = "close: expected FIN from the server and no RST; got RST from the server ([AR] seq=33 ack=34 len=0)"
NOT_SERVING = "target 'me' is not serving on 127.0.0.1:40001 after 5.0 s"
LADDER = "test_fin_not_rst[me]\n  0.000  client --[S] seq=0--> server\n"
DATA_ENTRY = re.compile(r'd\(("(?:[^"\\]|\\.)*"),("(?:[^"\\]|\\.)*")\)')


def write_results(folder: Path) -> None:
    """An Allure results folder as a sockcheck run leaves it: results, an attachment, categories.json."""
    folder.mkdir(parents=True)

    def result(name: str, status: str, message: str | None = None, attachments: list | None = None) -> None:
        case = uuid.uuid4().hex
        document = {"uuid": case, "historyId": case, "testCaseId": case, "fullName": f"suites.tcp.test_x#{name}",
                    "name": name, "status": status, "stage": "finished", "start": 1_700_000_000_000,
                    "stop": 1_700_000_000_100, "attachments": attachments or [],
                    "labels": [{"name": "parentSuite", "value": "tcp targets"}, {"name": "suite", "value": "me"}]}
        if message:
            document["statusDetails"] = {"message": message}
        (folder / f"{case}-result.json").write_text(json.dumps(document))

    (folder / "ladder-attachment.txt").write_text(LADDER)
    result("close: FIN, not RST [me]", "failed", RST,
           [{"name": "packet ladder (text)", "source": "ladder-attachment.txt", "type": "text/plain"}])
    result("echo: 32 bytes round trip [me]", "broken", NOT_SERVING)
    result("echo: 8 MiB stream intact [me]", "passed")
    # As the controller writes it at the end of a run (AllureReport.pytest_sessionfinish).
    (folder / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n")


def embedded(page: str) -> dict[str, bytes]:
    """The data files a single-file report carries, by path."""
    return {json.loads(name): base64.b64decode(json.loads(value)) for name, value in DATA_ENTRY.findall(page)}


def shown_categories(page: str) -> set[str]:
    """The categories the report's Categories tab lists."""
    widget = json.loads(embedded(page)["widgets/categories.json"])
    return {node["name"] for node in widget["nodes"].values() if node["type"] == "category"}


@NEEDS_NODE
@pytest.mark.timeout(600)  # the first use installs the Allure command line (npm ci)
@pytest.mark.parametrize("form", ["relative, trailing slash, from another folder", "absolute, brackets and a space"])
def test_one_html_file_with_the_categories(tmp_path, monkeypatch, capsys, form):
    """The report is index.html alone, with the run's categories, the results and their attachments inside."""
    if form.startswith("relative"):
        results = tmp_path / "run" / "allure-results"
        monkeypatch.chdir(_made(tmp_path / "elsewhere"))
        argument = "../run/allure-results/"
    else:
        results = tmp_path / "ci [artifact] 7" / "allure-results"
        monkeypatch.chdir(_made(tmp_path / "elsewhere"))
        argument = str(results)
    write_results(results)

    assert report.main([argument]) == 0, capsys.readouterr().err
    output = results.parent / "allure-report"
    assert [path.name for path in output.iterdir()] == ["index.html"]
    page = (output / "index.html").read_text(encoding="utf-8")
    assert shown_categories(page) == {"Resets (RST where FIN or data was due)",
                                      "Launch errors: the target did not serve"}
    data = embedded(page)
    assert json.loads(data["widgets/statistic.json"])["total"] == 3
    assert LADDER.encode() in data.values()  # the attachment travels in the page
    assert "googletagmanager" not in page


@NEEDS_NODE
@pytest.mark.timeout(600)
def test_an_earlier_report_is_replaced_and_a_foreign_folder_kept(tmp_path, capsys):
    """A folder holding an earlier (multi-file) report is replaced; any other non-empty folder is refused."""
    results = tmp_path / "allure-results"
    write_results(results)
    earlier = _made(tmp_path / "old-report" / "data" / "test-results").parent.parent
    (earlier / "index.html").write_text("<html><title>Allure Report</title></html>")
    assert report.main([str(results), "--output", str(earlier)]) == 0, capsys.readouterr().err
    assert [path.name for path in earlier.iterdir()] == ["index.html"]

    foreign = _made(tmp_path / "site")
    (foreign / "index.html").write_text("<html>my own page</html>")
    assert report.main([str(results), "--output", str(foreign)]) == report.CANNOT_RUN
    assert "not replacing it" in capsys.readouterr().err
    assert (foreign / "index.html").read_text() == "<html>my own page</html>"


def test_without_node_one_line_says_what_to_install(tmp_path, monkeypatch, capsys):
    """No Node.js on PATH: exit status 2 and one line naming the Debian packages."""
    write_results(tmp_path / "allure-results")
    monkeypatch.setenv("PATH", str(_made(tmp_path / "empty-path")))
    assert report.main([str(tmp_path / "allure-results")]) == report.CANNOT_RUN
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install -y nodejs npm" in err, err


def test_the_configuration_asks_for_one_file_and_carries_the_categories():
    """Allure's configuration turns the Awesome plugin's single-file mode on and holds the run's categories."""
    config = report.allure_config(CATEGORIES)
    assert config["plugins"]["awesome"]["options"]["singleFile"] is True
    assert config["categories"] == CATEGORIES


def test_the_analytics_tags_are_removed_and_nothing_else():
    """The page's Google Analytics tags go; the report's own scripts stay."""
    page = ('<body><div id="app"></div>\n    <script async src="https://www.googletagmanager.com/gtag/js?id=G-X">'
            "</script>\n    <script>\n        window.dataLayer = window.dataLayer || [];\n        gtag('js');\n"
            '    </script>\n    <script async>window.allureReportDataReady = true;</script></body>')
    kept = '<body><div id="app"></div>\n    <script async>window.allureReportDataReady = true;</script></body>'
    assert report.without_analytics(page) == kept


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
