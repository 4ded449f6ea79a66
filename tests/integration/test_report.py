"""``unlearnkit report`` end to end: real runs on digits (2 methods x 2 seeds), then the Markdown
file, the PNGs and the self-contained HTML page; an empty store exits 2 and writes nothing."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from unlearnkit.cli import main
from unlearnkit.metrics import HEADLINE
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, run_unlearning

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METHODS = ("finetune", "grad_ascent")
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("report-home")
    ws = Workspace(home)
    for seed in SEEDS:
        cfg = ExperimentConfig(dataset="digits", model="mlp", forget="class:3", seed=seed,
                               recipe_overrides={"epochs": 5})
        for method in METHODS:
            run_unlearning(ws, cfg, method, {"epochs": 1})
    return home


class Page(HTMLParser):
    """Tables (as lists of rows of cell texts), <img> sources and every URL-valued attribute."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for name in ("src", "href", "srcset", "action", "data"):
            if name in attrs:
                self.urls.append(attrs[name] or "")
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_report_writes_markdown_pngs_and_a_self_contained_page(home, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["report", "--home", str(home), "--out", str(out), "--title", "digits <report>"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    md_path, html_path = out / "report.md", out / "report.html"
    assert stdout.split() == [str(md_path), str(html_path)]

    # --- HTML: tables with the methods, golden and original rows; images embedded; nothing external
    text = html_path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    assert "<title>digits &lt;report&gt;</title>" in text
    assert "script" not in page.tags and "link" not in page.tags
    headline = page.tables[0]
    assert headline[0][:3] == ["rank", "model", "n seeds"]
    assert [r[1] for r in headline[1:3]] == ["golden", "original"]
    assert sorted(r[1] for r in headline[3:]) == sorted(METHODS)
    assert all(r[2] == str(len(SEEDS)) for r in headline[1:])
    assert any(h.startswith("avg_gap") for h in headline[0])
    # the golden model forgets class 3 completely: ua = 100 on both seeds, interval of width 0
    ua_col = next(i for i, h in enumerate(headline[0]) if h.startswith("ua"))
    assert headline[1][ua_col] == "100.00 ± 0.00"
    assert re.fullmatch(r"\d+\.\d\d ± \d+\.\d\d", headline[3][ua_col])

    assert len(page.images) == 3  # one scenario: UA-RA, avg_gap, runtime
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True).startswith(PNG_MAGIC)
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls)
    assert not re.search(r"https?://", text)
    assert not re.search(r"url\(", text)  # no CSS resource either

    cards = page.tables[-1]
    assert cards[0] == ["metric", "unit", "definition", "better"]
    assert {r[0] for r in cards[1:]} >= set(HEADLINE)
    assert "closer to the golden model is better" in {r[3] for r in cards[1:]}

    # --- Markdown: each method, the cards, the PNGs linked and saved beside it
    md = md_path.read_text(encoding="utf-8")
    for method in METHODS:
        assert f"`{method}`" in md
    assert "## Metric cards" in md
    for metric in HEADLINE:
        assert f"| `{metric}` |" in md
    assert "unlearning accuracy: 100 - acc(theta, D\\_f)" in md
    links = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", md)
    assert len(links) == 3
    for rel in links:
        assert (out / rel).read_bytes().startswith(PNG_MAGIC)
    assert not list(out.rglob("*.tmp"))


def test_report_of_an_empty_store_exits_2_and_writes_nothing(tmp_path, capsys):
    from unlearnkit.runs.store import RunStore

    missing_home, out = tmp_path / "nothing-here", tmp_path / "out"
    assert main(["report", "--home", str(missing_home), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No finished runs in" in err and "unlearnkit bench" in err and len(err.strip().splitlines()) == 1
    assert not missing_home.exists() and not out.exists()

    empty_home = tmp_path / "empty"
    runs = RunStore(empty_home / "runs.sqlite")
    rid = runs.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="f", seed=0,
                     method="finetune", params={}, config={}, config_hash="h", version="0")
    runs.fail(rid, "boom")  # a failed run is not a finished one
    assert main(["report", "--home", str(empty_home), "--out", str(out)]) == 2
    assert "No finished runs" in capsys.readouterr().err
    assert not out.exists()
