"""Unit tests of the report's aggregation (``report/aggregate.py``) on hand-made run rows, and of the
parts of the ``unlearnkit.report`` package that need no trained model.

Every interval is worked out here from the textbook formula mean ± t(0.975, n−1) · s / √n, with
the t quantiles taken from a table.
"""

from __future__ import annotations

import math
import sys
from html.parser import HTMLParser

import pytest

from unlearnkit.report.aggregate import (
    Stat,
    aggregate_runs,
    format_param,
    rank_variants,
    scenario_key,
    summarize,
    t_quantile,
    variant_labels,
)
from unlearnkit.errors import ConfigError
from unlearnkit.runs.store import RunStore

# Student t quantiles t(0.975, df), from a table
T975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}
HEAD = ("ua", "ra", "ta", "mia_efficacy", "runtime_s", "speedup", "avg_gap")
_clock = iter(range(1, 10_000))


def report(unlearned: dict, golden: dict | None = None, original: dict | None = None, absent: dict | None = None,
           row_absent: dict | None = None) -> dict:
    golden = golden if golden is not None else {}
    gaps = {m: abs(v - golden[m]) for m, v in unlearned.items() if m in golden}
    return {"metrics": list(HEAD), "rows": {"unlearned": unlearned, "golden": golden, "original": original or {}},
            "gaps": gaps, "absent": absent or {}, "row_absent": row_absent or {}, "cards": {},
            "scenario": "class", "split_fingerprint": "fp", "seed": 0}


def row(method: str, seed: int, unlearned: dict, *, params: dict | None = None, golden: dict | None = None,
        original: dict | None = None, forget: str = "class:3", recipe_overrides: dict | None = None,
        retain_fraction: float | None = None, run_id: str | None = None, **report_kw) -> dict:
    t = float(next(_clock))
    config = {"recipe": "digits", "recipe_overrides": recipe_overrides or {}, "model_kwargs": {},
              "resolved_recipe": {"epochs": (recipe_overrides or {}).get("epochs", 30)},
              "retain_fraction": retain_fraction}
    return {"id": run_id or f"{method}-{seed}-{int(t)}", "status": "done", "created_at": t, "finished_at": t + 0.5,
            "dataset": "digits", "model": "mlp", "forget": forget, "seed": seed, "method": method,
            "params": params if params is not None else {"lr": 0.01}, "config": config,
            "metrics": report(unlearned, golden, original, **report_kw)}


def by_label(scenario) -> dict:
    return {v.label: v for v in scenario.variants}


# ============================================================================== statistics
def test_t_quantile_matches_the_table():
    for df, t in T975.items():
        assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-8)


def test_summarize_mean_and_student_t_interval():
    s = summarize([1.0, 2.0, 3.0, 6.0])
    mean = 3.0
    sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 3)  # sqrt(14/3)
    assert s.mean == pytest.approx(mean)
    assert s.n == 4
    assert s.ci == pytest.approx(T975[3] * sd / math.sqrt(4))
    assert (s.low, s.high) == pytest.approx((mean - s.ci, mean + s.ci))


def test_summarize_two_values():
    s = summarize([10.0, 14.0])  # sd = sqrt(8) = 2.828..., ci = 12.706 * 2.828 / sqrt(2) = 12.706 * 2
    assert s.mean == 12.0
    assert s.ci == pytest.approx(T975[1] * 2.0)


def test_summarize_one_value_has_no_interval_and_nothing_is_none():
    s = summarize([5.0])
    assert (s.mean, s.ci, s.n) == (5.0, None, 1)
    assert (s.low, s.high) == (5.0, 5.0)
    assert summarize([]) is None
    assert summarize([float("nan"), float("inf")]) is None


def test_summarize_identical_values_zero_width():
    assert summarize([2.5, 2.5, 2.5]).ci == 0.0


def test_summarize_skips_non_finite_values():
    s = summarize([1.0, float("nan"), 3.0])
    assert (s.mean, s.n) == (2.0, 2)


# ================================================================================== labels
def test_variant_labels_only_name_the_parameters_that_differ():
    rows = [
        row("finetune", 0, {}, params={"lr": 0.01, "epochs": 3}),
        row("finetune", 1, {}, params={"lr": 0.01, "epochs": 3}),  # same variant, other seed
        row("neggrad_plus", 0, {}, params={"beta": 0.05, "lr": 0.01, "epochs": 3}),
        row("neggrad_plus", 0, {}, params={"beta": 0.1, "lr": 0.01, "epochs": 3}),
        row("grad_ascent", 0, {}, params={"lr": 1e-4, "epochs": 5}),
        row("grad_ascent", 0, {}, params={"lr": 1e-3, "epochs": 10}),
    ]
    labels = sorted(set(variant_labels(rows).values()))
    assert labels == ["finetune", "grad_ascent[epochs=10,lr=0.001]", "grad_ascent[epochs=5,lr=0.0001]",
                      "neggrad_plus[beta=0.05]", "neggrad_plus[beta=0.1]"]


def test_variant_labels_key_order_does_not_make_a_new_variant():
    rows = [row("finetune", 0, {}, params={"lr": 0.01, "epochs": 3}),
            row("finetune", 1, {}, params={"epochs": 3, "lr": 0.01})]
    assert list(variant_labels(rows).values()) == ["finetune"]


def test_format_param():
    assert [format_param(v) for v in (0.1, 3, True, "sgd", None, [1, 2])] == ["0.1", "3", "true", "sgd", "null", "[1,2]"]


# ============================================================================= aggregation
G = {"ua": 100.0, "ra": 100.0, "ta": 99.0, "mia_efficacy": 100.0, "runtime_s": 2.0, "speedup": 1.0, "avg_gap": 0.0}
O = {"ua": 0.0, "ra": 100.0, "ta": 98.0, "mia_efficacy": 0.0, "avg_gap": 50.25}


def u(ua, ra, ta, mia, runtime):
    gap = (abs(ua - 100) + abs(ra - 100) + abs(ta - 99) + abs(mia - 100)) / 4
    return {"ua": ua, "ra": ra, "ta": ta, "mia_efficacy": mia, "runtime_s": runtime, "speedup": 2.0 / runtime,
            "avg_gap": gap}


@pytest.fixture
def two_methods():
    golden = {s: {**G, "ta": 99.0 + s, "runtime_s": 2.0 + s} for s in range(3)}
    rows = []
    for s, vals in enumerate([(0.0, 100.0, 98.0, 4.0, 0.2), (0.0, 100.0, 99.0, 6.0, 0.3), (3.0, 100.0, 97.0, 5.0, 0.4)]):
        rows.append(row("finetune", s, u(*vals), golden=golden[s], original=O))
    for s, vals in enumerate([(100.0, 97.0, 96.0, 100.0, 0.1), (99.0, 98.0, 95.0, 100.0, 0.2),
                              (98.0, 96.0, 97.0, 99.0, 0.3)]):
        rows.append(row("random_labels", s, u(*vals), golden=golden[s], original=O))
    return rows


def test_means_and_intervals_per_variant(two_methods):
    (sc,) = aggregate_runs(two_methods)
    v = by_label(sc)["finetune"]
    assert v.seeds == [0, 1, 2] and v.n_seeds == 3
    ua = v.stats["ua"]
    assert ua.mean == pytest.approx(1.0)
    # values 0, 0, 3: s = sqrt((1 + 1 + 4) / 2) = sqrt(3)
    assert ua.ci == pytest.approx(T975[2] * math.sqrt(3) / math.sqrt(3))
    mia = v.stats["mia_efficacy"]  # 4, 6, 5: s = 1
    assert (mia.mean, mia.ci) == pytest.approx((5.0, T975[2] * 1.0 / math.sqrt(3)))
    assert v.stats["ra"].ci == 0.0
    rl = by_label(sc)["random_labels"]
    assert rl.stats["ra"].mean == pytest.approx(97.0)  # 97, 98, 96: s = 1
    assert rl.stats["ra"].ci == pytest.approx(T975[2] / math.sqrt(3))


def test_gaps_are_aggregated_per_seed_against_that_seeds_golden(two_methods):
    (sc,) = aggregate_runs(two_methods)
    ta_gap = by_label(sc)["finetune"].gaps["ta"]
    # golden ta is 99, 100, 101 for seeds 0, 1, 2; finetune ta 98, 99, 97 -> gaps 1, 1, 4
    assert ta_gap.mean == pytest.approx(2.0)
    assert ta_gap.ci == pytest.approx(T975[2] * math.sqrt(3) / math.sqrt(3))


def test_golden_and_original_rows_are_one_value_per_seed(two_methods):
    (sc,) = aggregate_runs(two_methods)
    golden = sc.golden
    assert golden.seeds == [0, 1, 2]  # 6 runs, 3 seeds: each golden model counted once
    assert golden.stats["ta"].n == 3
    assert golden.stats["ta"].mean == pytest.approx(100.0)  # 99, 100, 101
    assert golden.stats["ta"].ci == pytest.approx(T975[2] * 1.0 / math.sqrt(3))
    assert golden.stats["runtime_s"].mean == pytest.approx(3.0)
    assert sc.original.stats["avg_gap"].mean == pytest.approx(50.25)
    assert sc.original.stats["avg_gap"].ci == 0.0
    assert "runtime_s" not in sc.original.stats


def test_ranking_by_mean_avg_gap_missing_last(two_methods):
    broken = [row("neggrad_plus", s, {"runtime_s": 0.5}, golden=G, original=O,
                  absent={"avg_gap": "avg_gap needs ua", "ua": "logits contain NaN"}) for s in range(2)]
    (sc,) = aggregate_runs(two_methods + broken)
    assert [v.label for v in sc.variants] == ["random_labels", "finetune", "neggrad_plus"]
    assert [v.rank for v in sc.variants] == [1, 2, 3]
    assert sc.variants[2].avg_gap is None
    assert sc.absent["ua"] == {"neggrad_plus": "logits contain NaN"}


def test_rank_variants_ties_by_label():
    from unlearnkit.report.aggregate import Variant

    vs = [Variant("b", {}, "b", stats={"avg_gap": Stat(1.0, None, 1)}),
          Variant("a", {}, "a", stats={"avg_gap": Stat(1.0, None, 1)}),
          Variant("c", {}, "c"),
          Variant("d", {}, "d", stats={"avg_gap": Stat(0.5, None, 1)})]
    assert [v.label for v in rank_variants(vs)] == ["d", "a", "b", "c"]


def test_scenarios_split_by_forget_recipe_and_retain_fraction():
    rows = [row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G),
            row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G, forget="random:0.1"),
            row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G, recipe_overrides={"epochs": 5}),
            row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G, retain_fraction=0.3)]
    scenarios = aggregate_runs(rows)
    assert len(scenarios) == 4
    assert len({scenario_key(r) for r in rows}) == 4
    titles = sorted(sc.title for sc in scenarios)
    assert "digits / mlp / forget class:3 / recipe digits(epochs=5)" in titles
    assert "digits / mlp / forget class:3 / recipe digits / retain fraction 0.3" in titles


def test_a_seed_run_twice_counts_once_with_its_latest_run():
    rows = [row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G, run_id="old"),
            row("finetune", 0, u(0, 100, 98, 8, 0.2), golden=G, run_id="new"),
            row("finetune", 1, u(0, 100, 98, 6, 0.2), golden=G, run_id="other")]
    (sc,) = aggregate_runs(rows)
    (v,) = sc.variants
    assert v.seeds == [0, 1] and v.run_ids == ["new", "other"]
    assert v.stats["mia_efficacy"].mean == pytest.approx(7.0)
    assert sc.n_runs == 2


def test_one_seed_has_no_interval():
    (sc,) = aggregate_runs([row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G)])
    assert sc.variants[0].stats["ua"].ci is None
    assert sc.golden.stats["ua"].ci is None


def test_rows_without_report_or_not_done_are_skipped():
    r = row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G)
    assert aggregate_runs([{**r, "status": "failed"}, {**r, "metrics": None}]) == []


# ====================================================================== report formatting
def test_format_stat():
    from unlearnkit.report import format_stat

    assert format_stat(Stat(12.344, 1.019, 3), "%") == "12.34 ± 1.02"
    assert format_stat(Stat(12.344, None, 1), "%") == "12.34 (n=1)"
    assert format_stat(Stat(12.344, 0.5, 2), "%", n_row=3) == "12.34 ± 0.50 (n=2)"
    assert format_stat(Stat(0.0123, 0.004, 3), "s") == "0.0123 ± 0.0040"
    assert format_stat(Stat(7.27, 8.0, 3), "x") == "7.27 ± 8.00"
    assert format_stat(Stat(1.0, 0.0, 3), "x") == "1.00 ± 0.00"
    assert format_stat(None, "%") == "—"


def test_markdown_escaping():
    from unlearnkit.report import md_code, md_escape

    assert md_escape("a|b_c*d") == "a\\|b\\_c\\*d"
    assert md_code("neggrad_plus[beta=0.1]") == "`neggrad_plus[beta=0.1]`"
    assert md_code("a|b") == "`a\\|b`"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _store_with(tmp_path, rows) -> RunStore:
    runs = RunStore(tmp_path / "runs.sqlite")
    for r in rows:
        rid = runs.start(dataset=r["dataset"], model=r["model"], forget=r["forget"], split_fingerprint="fp",
                         seed=r["seed"], method=r["method"], params=r["params"], config=r["config"],
                         config_hash=r["id"], version="test")
        runs.finish(rid, metrics=r["metrics"], runtime_s=r["metrics"]["rows"]["unlearned"].get("runtime_s", 0.0),
                    unlearned_key=None)
    return runs


def test_write_report_escapes_html_and_is_deterministic(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    from unlearnkit.report import write_report

    evil = [row("finetune", s, u(0, 100, 98, 4 + s, 0.2), golden=G, original=O,
                params={"note": "<script>alert(1)</script>", "lr": 0.01}) for s in range(2)]
    evil += [row("finetune", s, u(0, 100, 98, 5 + s, 0.2), golden=G, original=O,
                 params={"note": "a|b & c", "lr": 0.01}) for s in range(2)]
    evil += [row("finetune", 0, u(0, 100, 98, 5, 0.2), golden=G, original=O,
                 params={"note": "$\\frac{ costs $5", "lr": 0.01})]  # not mathtext in the plots
    runs = _store_with(tmp_path, two_methods + evil)
    md1, html1 = write_report(runs, tmp_path / "a", title="<b>t</b>")
    md2, html2 = write_report(runs, tmp_path / "b", title="<b>t</b>")
    page = html1.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>&lt;b&gt;t&lt;/b&gt;</title>" in page
    parser = _Collect()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "finetune[note=a|b & c]" in "".join(parser.text)
    assert "finetune[note=a\\|b & c]" in md1.read_text()
    assert html1.read_bytes() == html2.read_bytes()
    assert md1.read_bytes() == md2.read_bytes()
    for png in (tmp_path / "a" / "plots").iterdir():
        assert png.read_bytes() == (tmp_path / "b" / "plots" / png.name).read_bytes()


def test_write_report_removes_plots_of_an_earlier_larger_report(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    from unlearnkit.report import write_report

    out = tmp_path / "out"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "scenario7-ua-ra.png").write_bytes(b"old")
    (out / "plots" / "mine.png").write_bytes(b"keep")
    write_report(_store_with(tmp_path, two_methods), out)
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == ["mine.png", "scenario1-avg-gap.png", "scenario1-runtime.png", "scenario1-ua-ra.png"]


def test_empty_store_is_a_config_error(tmp_path):
    from unlearnkit.report import write_report

    with pytest.raises(ConfigError, match=r"No finished runs in .*runs\.sqlite; run `unlearnkit bench`"):
        write_report(RunStore(tmp_path / "runs.sqlite"), tmp_path / "out")
    with pytest.raises(ConfigError, match="No finished runs"):
        write_report(tmp_path / "missing" / "runs.sqlite", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "missing").exists()


def test_missing_matplotlib_is_a_config_error(tmp_path, monkeypatch, two_methods):
    from unlearnkit.report import plots
    from unlearnkit.report import write_report

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'unlearnkit\[report\]'"):
        plots.require_matplotlib()
    with pytest.raises(ConfigError, match="needs matplotlib"):
        write_report(_store_with(tmp_path, two_methods), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ========================================================================== spread = std
def test_stat_std_is_the_sample_standard_deviation():
    np = pytest.importorskip("numpy")
    s = summarize([1.0, 2.0, 3.0, 6.0])
    assert s.std == pytest.approx(float(np.std([1.0, 2.0, 3.0, 6.0], ddof=1)))
    assert s.spread("std") == s.std and s.spread("ci") == s.ci
    assert summarize([5.0]).std is None and Stat(1.0, 0.5, 3).std is None  # one value; values not kept
    with pytest.raises(ValueError, match=r"Unknown spread 'sd' \(valid: ci, std\)"):
        s.spread("sd")


def test_format_stat_with_std():
    from unlearnkit.report import format_stat

    s = summarize([0.0, 0.0, 3.0])  # std sqrt(3) = 1.732
    assert format_stat(s, "pp", spread="std") == "1.00 ± 1.73"
    assert format_stat(s, "pp") == f"1.00 ± {T975[2]:.2f}"
    assert format_stat(summarize([5.0]), "%", spread="std") == "5.00 (n=1)"
    assert format_stat(summarize([0.5, 0.7]), "s", n_row=3, spread="std") == "0.6 ± 0.1 (n=2)"
    with pytest.raises(ConfigError, match=r"Unknown spread 'var' \(valid: ci, std\)"):
        format_stat(s, "%", spread="var")


def _cells(page: str) -> list[list[str]]:
    """The rows of the first table of an HTML page, as lists of cell texts."""
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    return [[_strip_tags(c) for c in tr.split("</td>")[:-1]] for tr in table.split("<tr")[2:]]


def _strip_tags(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", text).strip()


def test_write_report_spread_std_shows_the_sample_std_of_the_seed_values(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    np = pytest.importorskip("numpy")
    from unlearnkit.report import write_report

    runs = _store_with(tmp_path, two_methods)
    md, page = write_report(runs, tmp_path / "std", spread="std")
    md_ci, page_ci = write_report(runs, tmp_path / "ci")
    (sc,) = aggregate_runs(runs.list(status="done"))
    text, html_text = md.read_text(), page.read_text()
    assert "the sample standard deviation of the per-seed values" in text
    assert "Spread shown after ±: the sample standard deviation over seeds." in text
    assert "sample standard deviation" in html_text and "sample standard deviation" not in md_ci.read_text()
    assert "Spread shown after ±: the 95% t-interval half-width." in md_ci.read_text()

    rows = {cells[1]: cells for cells in _cells(html_text)}
    rows_ci = {cells[1]: cells for cells in _cells(page_ci.read_text())}
    header = ["rank", "model", "n seeds", "ua", "ra", "ta", "mia_efficacy", "runtime_s", "speedup", "avg_gap"]
    for name, stats in [("golden", sc.golden.stats), ("original", sc.original.stats)] + \
            [(v.label, v.stats) for v in sc.variants]:
        for col, metric in enumerate(header[3:], 3):
            stat = stats.get(metric)
            if stat is None or stat.n < 2 or metric in ("runtime_s", "speedup"):
                continue
            std = float(np.std(stat.values, ddof=1))
            assert rows[name][col] == f"{stat.mean:.2f} ± {std:.2f}", (name, metric)
            low, high = stat.mean - stat.ci, stat.mean + stat.ci
            if low < 0 or high > 100:  # an interval outside the range of a percentage is cut to it
                expected = f"{stat.mean:.2f} [{max(low, 0):.2f}, {min(high, 100):.2f}]"
            else:
                expected = f"{stat.mean:.2f} ± {stat.ci:.2f}"
            assert rows_ci[name][col] == expected, (name, metric)
    # finetune ua 0, 0, 3 (from the fixture): mean 1, std sqrt(3)
    assert rows["finetune"][3] == "1.00 ± 1.73"
    assert "| 2 | `finetune` | 3 | 1.00 ± 1.73 |" in text


def test_write_report_unknown_spread_writes_nothing(tmp_path, two_methods):
    from unlearnkit.report import write_report

    with pytest.raises(ConfigError, match=r"Unknown spread 'sem' \(valid: ci, std\)"):
        write_report(_store_with(tmp_path, two_methods), tmp_path / "out", spread="sem")
    assert not (tmp_path / "out").exists()


# ======================================================================= config_hashes
def test_write_report_keeps_only_the_given_config_hashes(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    from unlearnkit.report import write_report

    runs = _store_with(tmp_path, two_methods)  # config_hash = the row's id
    rid = runs.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="fp", seed=0,
                     method="finetune", params={}, config={}, config_hash="elsewhere", version="test")
    runs.fail(rid, "boom")  # unfinished and outside: not counted as an unfinished run of the grid
    wanted = {r["id"] for r in two_methods if r["method"] == "finetune"}
    md, page = write_report(runs, tmp_path / "out", config_hashes=wanted)
    text = md.read_text()
    assert "`finetune`" in text and "random_labels" not in text and "random_labels" not in page.read_text()
    assert "3 finished runs in" in text
    assert "Only the runs of the given grid(s): 3 other finished runs left out." in text
    assert "not finished" not in text
    assert "| *golden* | 3 |" in text  # the reference rows come from the kept runs
    everything = write_report(runs, tmp_path / "all")[0].read_text()
    assert "random_labels" in everything and "left out." in everything and "given grid" not in everything


def test_write_report_with_no_run_of_the_grid_is_a_config_error(tmp_path, two_methods):
    from unlearnkit.report import write_report

    runs = _store_with(tmp_path, two_methods)
    with pytest.raises(ConfigError, match=r"None of the 6 finished run\(s\) in .*runs\.sqlite is a run of the "
                                          r"given grid\(s\); run `unlearnkit bench GRID` first"):
        write_report(runs, tmp_path / "out", config_hashes={"not-a-hash"})
    with pytest.raises(ConfigError, match="No finished runs in"):
        write_report(RunStore(tmp_path / "empty.sqlite"), tmp_path / "out", config_hashes={"x"})
    assert not (tmp_path / "out").exists()


# ======================================================================== retain sweeps
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sweep_rows(fractions=(0.1, 0.3, 0.5), forget="class:3") -> list[dict]:
    rows = []
    for k, rf in enumerate(fractions):
        for s in range(2):
            rows.append(row("finetune", s, u(0, 100 - k, 98, 4 + s, 0.2), golden=G, original=O, retain_fraction=rf,
                            forget=forget))
            if k == 0:  # random_labels at one fraction only: no line of its own
                rows.append(row("random_labels", s, u(99, 97, 96, 100, 0.1), golden=G, original=O,
                                retain_fraction=rf, forget=forget))
    return rows


def test_retain_fraction_sweeps_group_scenarios_that_differ_only_in_the_fraction(two_methods):
    from unlearnkit.report.aggregate import retain_fraction_sweeps

    scenarios = aggregate_runs(two_methods + _sweep_rows() + _sweep_rows((0.2,), forget="random:0.1")
                               + _sweep_rows((0.5, 0.2), forget="class:1"))
    groups = retain_fraction_sweeps(scenarios)
    assert [[(sc.forget, sc.retain_fraction) for sc in g] for g in groups] == [
        [("class:1", 0.2), ("class:1", 0.5)], [("class:3", 0.1), ("class:3", 0.3), ("class:3", 0.5)]]
    assert retain_fraction_sweeps(aggregate_runs(two_methods + _sweep_rows((0.3,)))) == []  # None is not a point


def test_sweep_lines_need_two_fractions():
    from unlearnkit.report.aggregate import retain_fraction_sweeps
    from unlearnkit.report.plots import sweep_lines, sweep_title

    (group,) = retain_fraction_sweeps(aggregate_runs(_sweep_rows()))
    lines = sweep_lines(group)
    assert list(lines) == ["finetune"]
    assert [(x, round(s.mean, 4), n) for x, s, n in lines["finetune"]] == [
        (0.1, round(by_label(group[0])["finetune"].stats["avg_gap"].mean, 4), 2),
        (0.3, round(by_label(group[1])["finetune"].stats["avg_gap"].mean, 4), 2),
        (0.5, round(by_label(group[2])["finetune"].stats["avg_gap"].mean, 4), 2)]
    assert sweep_title(group) == "avg_gap versus retain fraction — digits / mlp / forget class:3 / recipe digits"


def test_write_report_adds_a_sweep_plot_when_scenarios_differ_only_in_retain_fraction(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    from unlearnkit.report import write_report

    out = tmp_path / "out"
    md, page = write_report(_store_with(tmp_path, two_methods + _sweep_rows()), out)
    png = out / "plots" / "sweep1-avg-gap.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in (out / "plots").glob("sweep*")) == ["sweep1-avg-gap.png"]
    text = md.read_text()
    title = "avg\\_gap versus retain fraction — digits / mlp / forget class:3 / recipe digits"
    assert f"![{title}](plots/sweep1-avg-gap.png)" in text
    assert "## avg\\_gap versus retain fraction" in text
    assert "From scenarios 2, 3 and 4." in text  # scenario 1 is the one without a retain fraction
    html_text = page.read_text()
    assert 'id="retain-sweeps"' in html_text and 'href="#retain-sweeps"' in html_text
    parser = _Collect()
    parser.feed(html_text)
    images = [v for k, v in parser.attrs if k == "src"]
    assert len(images) == 4 * 3 + 1  # 4 scenarios x 3 plots + the sweep
    import base64

    assert base64.b64decode(images[-1].split(",", 1)[1]) == png.read_bytes()

    # the same store without the sweep: the plot and its section are gone
    md2, page2 = write_report(_store_with(tmp_path / "b", two_methods + _sweep_rows((0.3,))), out)
    assert not png.exists()
    assert "versus retain fraction" not in md2.read_text() and "versus retain fraction" not in page2.read_text()


def test_no_sweep_plot_without_a_group(tmp_path, two_methods):
    pytest.importorskip("matplotlib")
    from unlearnkit.report import make_sweeps, write_report

    assert make_sweeps(aggregate_runs(two_methods)) == []
    # two fractions but no variant at both: nothing to draw
    rows = [row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G, retain_fraction=0.1),
            row("random_labels", 0, u(0, 100, 98, 4, 0.2), golden=G, retain_fraction=0.5)]
    assert make_sweeps(aggregate_runs(rows)) == []
    md, _ = write_report(_store_with(tmp_path, rows), tmp_path / "out")
    assert not list((tmp_path / "out" / "plots").glob("sweep*")) and "versus retain fraction" not in md.read_text()



def test_verdict_marks_did_nothing_no_closer_and_overshoot():
    from unlearnkit.report.aggregate import ReferenceRow, Variant
    from unlearnkit.report.marks import verdict_marks

    def stats(**kw):
        return {k: _stat(v) for k, v in kw.items()}

    golden = ReferenceRow("golden", [0, 1], stats(ua=[10.0, 11.0], mia_efficacy=[17.0, 18.0], avg_gap=[0.0, 0.0]))
    original = ReferenceRow("original", [0, 1], stats(ua=[0.0, 0.0], ra=[100.0, 100.0], ta=[89.0, 90.0],
                                                      mia_efficacy=[2.0, 2.0], avg_gap=[6.5, 6.6]))
    same = Variant("ssd", {}, "ssd", stats=stats(ua=[0.0, 0.5], ra=[100.0, 100.0], ta=[89.0, 90.0],
                                                  mia_efficacy=[2.0, 2.5], avg_gap=[6.5, 6.7]))
    assert verdict_marks(same, golden, original) == ["did nothing"]
    worse = Variant("bs", {}, "bs", stats=stats(ua=[5.0, 5.0], ra=[60.0, 60.0], ta=[50.0, 50.0],
                                                 mia_efficacy=[9.0, 9.0], avg_gap=[30.0, 30.0]))
    assert verdict_marks(worse, golden, original) == ["no closer than the original"]
    over = Variant("kl", {}, "kl", stats=stats(ua=[22.0, 23.0], mia_efficacy=[17.0, 18.0], avg_gap=[4.0, 4.0]))
    assert verdict_marks(over, golden, original) == ["overshoots ua"]
    # within the variant's own seed spread of golden: no mark
    close = Variant("x", {}, "x", stats=stats(ua=[8.0, 14.0], mia_efficacy=[15.0, 20.0], avg_gap=[1.0, 1.2]))
    assert verdict_marks(close, golden, original) == []
    # the attack collapsed on two seeds of three, and they alone pass golden: no overshoot claimed
    half = Variant("r", {}, "r", stats=stats(ua=[9.0, 9.0, 9.0], mia_efficacy=[15.0, 100.0, 100.0],
                                             avg_gap=[1.0, 21.0, 21.0], mia_member_recall=[98.0, 0.0, 0.0]))
    assert verdict_marks(half, golden, original) == ["no closer than the original", "mia attack collapsed on 2 of 3 seeds"]
    without = Variant("r", {}, "r", stats=stats(ua=[9.0, 9.0, 9.0], mia_efficacy=[15.0, 100.0, 100.0],
                                                avg_gap=[1.0, 21.0, 21.0]))
    assert verdict_marks(without, golden, original) == ["no closer than the original", "overshoots mia_efficacy"]
    # both seeds pass golden, only one collapsed: the overshoot stands, and the collapse is said
    both = Variant("k", {}, "k", stats=stats(ua=[9.0, 9.0], mia_efficacy=[80.0, 100.0], avg_gap=[15.0, 21.0],
                                             mia_member_recall=[97.0, 0.0]))
    assert verdict_marks(both, golden, original) == [
        "no closer than the original", "overshoots mia_efficacy", "mia attack collapsed on 1 of 2 seeds"]


def _stat(values):
    from unlearnkit.report.aggregate import summarize

    return summarize(values)


# ============================================================ issue 15, defect 9: few seeds, colours
def _few_seed_rows():
    """Two seeds whose ua differ wildly: the 95% t-interval (1 degree of freedom) is 57.53 ± 322."""
    return [row("finetune", 0, u(32.18, 100, 98, 4, 0.2), golden=G, original=O),
            row("finetune", 1, u(82.88, 100, 98, 6, 0.3), golden=G, original=O),
            row("random_labels", 0, u(99.0, 97, 96, 100, 0.1), golden=G, original=O),
            row("random_labels", 1, u(98.0, 98, 95, 100, 0.2), golden=G, original=O)]


def test_intervals_are_cut_to_the_metric_range_and_few_seeds_are_marked():
    from unlearnkit.report import scenario_tables

    (sc,) = aggregate_runs(_few_seed_rows())
    ua = by_label(sc)["finetune"].stats["ua"]
    assert ua.n == 2 and ua.mean - ua.ci < 0 and ua.mean + ua.ci > 100
    headline = {cells[1]: cells for _, cells in scenario_tables(sc)[0].rows}
    assert headline["finetune"][3] == "57.53 [0.00, 100.00] (n=2)"
    assert headline["random_labels"][3].endswith("(n=2)"), "n < 3 is marked even when every seed is there"
    assert all(c.endswith("(n=2)") for c in headline["finetune"][3:] if c != "—")


def test_gap_table_leaves_out_runtime_and_speedup(two_methods):
    from unlearnkit.report import scenario_tables

    (sc,) = aggregate_runs(two_methods)
    gap = next(t for t in scenario_tables(sc) if t.title.startswith("Gap to the golden model"))
    columns = [h.partition(" (")[0] for h in gap.header[3:]]
    assert columns == ["ua", "ra", "ta", "mia_efficacy"]


def _figure_of(monkeypatch, plot, *args):
    """Draw ``plot(*args)`` and return its matplotlib figure instead of the PNG."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from unlearnkit.report import plots

    captured = {}

    def render(width, height, draw):
        fig = Figure(figsize=(width, height))
        draw(fig)
        captured["fig"] = fig
        return b""

    monkeypatch.setattr(plots, "_render", render)
    plot(*args)
    return captured["fig"]


def test_two_seed_intervals_do_not_stretch_the_plots(monkeypatch):
    from unlearnkit.report import plots

    rows = [row("finetune", s, {**u(0, 100, 98, 4, 0.2), "avg_gap": gap}, golden=G, original=O)
            for s, gap in ((0, 5.0), (1, 95.0))]
    (sc,) = aggregate_runs(rows)
    assert sc.variants[0].stats["avg_gap"].high > 600  # 50 ± 571.8
    fig = _figure_of(monkeypatch, plots.avg_gap_bars, sc)
    assert fig.axes[0].get_xlim()[1] <= 130.0 + 1e-9
    (sc,) = aggregate_runs([row("finetune", s, u(0, ra, 98, 4, 0.2), golden=G, original=O)
                            for s, ra in ((0, 40.0), (1, 99.0))])
    fig = _figure_of(monkeypatch, plots.ua_ra_scatter, sc)
    low, high = fig.axes[0].get_ylim()
    assert -6.0 <= low and high <= 106.0


def test_a_method_has_one_colour_in_every_scenario_whatever_its_rank():
    pytest.importorskip("matplotlib")
    from unlearnkit.report.plots import report_palette, variant_colors

    first = [row("finetune", 0, u(0, 100, 98, 4, 0.2), golden=G), row("random_labels", 0, u(99, 97, 96, 100, 0.1),
                                                                     golden=G)]
    second = [{**r, "forget": "random:0.1"} for r in
              [row("finetune", 0, u(99, 100, 99, 100, 0.2), golden=G), row("random_labels", 0, u(0, 97, 96, 0, 0.1),
                                                                          golden=G),
               row("grad_ascent", 0, u(50, 90, 90, 50, 0.1), golden=G)]]
    scenarios = aggregate_runs(first + second)
    assert [v.label for v in scenarios[0].variants] != [v.label for v in scenarios[1].variants][:2], "ranks differ"
    palette = report_palette(scenarios)
    colors = [variant_colors(sc, palette) for sc in scenarios]
    for label in ("finetune", "random_labels"):
        assert colors[0][label] == colors[1][label], label
    assert len({c for c in colors[1].values()}) == 3
    # without a palette the colours follow the labels, not the ranks
    assert variant_colors(scenarios[0])["finetune"] == variant_colors(scenarios[1])["finetune"]
