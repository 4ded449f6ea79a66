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


def name_of(cell: str) -> str:
    """A model cell without the report's marks: ``finetune (did nothing)`` -> ``finetune``."""
    return cell.split(" (")[0]


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
    assert sorted(name_of(r[1]) for r in headline[3:]) == sorted(METHODS)
    # finetune and grad_ascent barely move the digits MLP (one or two epochs): the report says so
    assert all("did nothing" in r[1] or "no closer than the original" in r[1] for r in headline[3:])
    assert all(r[2] == str(len(SEEDS)) for r in headline[1:])
    assert any(h.startswith("avg_gap") for h in headline[0])
    # the golden model forgets class 3 completely: ua = 100 on both seeds, interval of width 0
    ua_col = next(i for i, h in enumerate(headline[0]) if h.startswith("ua"))
    assert headline[1][ua_col] == "100.00 ± 0.00 (n=2)"  # two seeds: marked
    assert re.fullmatch(r"\d+\.\d\d (± \d+\.\d\d|\[\d+\.\d\d, \d+\.\d\d\]) \(n=2\)", headline[3][ua_col])

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


# ============================================================================ --grid, --spread
GRID = """datasets = ["digits"]
models = ["mlp"]
forget = ["class:3"]
seeds = [0, 1]

[recipe]
epochs = 5

[methods.{method}]
epochs = 1
"""


def _grid(tmp_path: Path, method: str, name: str = "grid.toml", **replace: str) -> Path:
    text = GRID.format(method=method)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_report_grid_keeps_only_the_runs_of_the_grid(home, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--home", str(home), "--out", str(out), "--grid", str(_grid(tmp_path, "finetune"))]) == 0
    capsys.readouterr()
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "`finetune`" in md and "grad_ascent" not in md
    assert "2 finished runs in" in md and "2 other finished runs left out" in md
    page = Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert [name_of(r[1]) for r in page.tables[0][1:]] == ["golden", "original", "finetune"]

    # two grids: the runs of either
    both = tmp_path / "both"
    assert main(["report", "--home", str(home), "--out", str(both), "--grid", str(_grid(tmp_path, "finetune")),
                 "--grid", str(_grid(tmp_path, "grad_ascent", "other.toml"))]) == 0
    md = (both / "report.md").read_text(encoding="utf-8")
    assert "`finetune`" in md and "`grad_ascent`" in md and "left out" not in md


@pytest.mark.parametrize("content, message", [
    (None, "Grid file '{path}' does not exist."),
    ("datasets = [", "is not valid TOML"),
    ('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\n[methods.nope]\n', "unknown method 'nope'"),
    ('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\nretain_fraction = [0.5, 2]\n[methods.finetune]\n',
     "'retain_fraction' must be a number in (0, 1]"),
])
def test_report_with_a_bad_grid_exits_2_and_writes_nothing(home, tmp_path, capsys, content, message):
    path, out = tmp_path / "grid.toml", tmp_path / "out"
    if content is not None:
        path.write_text(content)
    assert main(["report", "--home", str(home), "--out", str(out), "--grid", str(path)]) == 2
    stdout, err = capsys.readouterr()
    assert stdout == "" and err.startswith("unlearnkit: error: ") and len(err.strip().splitlines()) == 1
    assert message.format(path=path) in err and "Traceback" not in err
    assert not out.exists()


def test_report_with_a_grid_that_matches_no_run_exits_2(home, tmp_path, capsys):
    out = tmp_path / "out"
    grid = _grid(tmp_path, "finetune", **{"seeds = [0, 1]": "seeds = [7]"})
    assert main(["report", "--home", str(home), "--out", str(out), "--grid", str(grid)]) == 2
    err = capsys.readouterr().err
    assert "None of the 4 finished run(s)" in err and "is a run of the given grid(s)" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_report_spread_std_shows_the_sample_standard_deviation(home, tmp_path, capsys):
    import numpy as np

    from unlearnkit.runs.store import RunStore

    out = tmp_path / "std"
    assert main(["report", "--home", str(home), "--out", str(out), "--spread", "std"]) == 0
    capsys.readouterr()
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "sample standard deviation" in text
    page = Page()
    page.feed(text)
    headline = page.tables[0]
    cols = {h.split(" ")[0]: i for i, h in enumerate(headline[0])}
    rows = {name_of(r[1]): r for r in headline[1:]}
    done = RunStore(home / "runs.sqlite").list(status="done")
    for method in METHODS:
        reports = sorted((r for r in done if r["method"] == method), key=lambda r: r["seed"])
        for metric in ("ua", "ra", "ta", "avg_gap"):
            values = [r["metrics"]["rows"]["unlearned"][metric] for r in reports]
            expected = f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f} (n=2)"  # fewer than 3 seeds: marked
            assert rows[method][cols[metric]] == expected, (method, metric)
    assert rows["golden"][cols["ua"]] == "100.00 ± 0.00 (n=2)"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Spread shown after ±: the sample standard deviation over seeds." in md


def test_report_unknown_spread_exits_2(home, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "--home", str(home), "--out", str(tmp_path / "out"), "--spread", "sem"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'sem' (choose from 'ci', 'std')" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
