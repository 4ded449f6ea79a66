"""The terminal table: the default fits 100 columns (the metrics asked for, without their companions);
``--wide`` shows every column."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from unlearnkit.cli import main
from unlearnkit.metrics import HEADLINE, Report
from unlearnkit.runs.experiment import with_companions
from unlearnkit.tables import COMPANION_COLUMNS, NARROW_WIDTH, headline_table, print_reports

METHODS = ("finetune", "grad_ascent", "neggrad_plus", "random_labels", "boundary_shrink", "heldout_match")


def _values(scale: float) -> dict[str, float]:
    # the widest values each unit's format gives: 100.00 for %, 1234.5 for s and x
    return {"ua": 100.0, "ra": 99.99, "ta": 98.76, "ta_forget": 94.59, "mia_efficacy": 100.0, "mia_member_recall": 97.5,
            "runtime_s": 1234.5 * scale, "cpu_s": 2345.6 * scale, "speedup": 1234.5, "cpu_speedup": 1234.5,
            "avg_gap": 50.08}


def _reports(metrics: list[str]) -> list[tuple[str, Report]]:
    rows = {"unlearned": _values(1.0), "golden": _values(2.0), "original": _values(0.5)}
    return [(m, Report(metrics=metrics, rows=rows, gaps={k: 12.34 for k in metrics})) for m in METHODS]


def _render(table, width: int = 400) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_the_default_table_of_the_headline_metrics_fits_100_columns_without_squeezing():
    reports = _reports(with_companions(HEADLINE))
    lines = _render(headline_table(reports, "fashion-mnist / cnn / forget class:3 / seed 0"))  # natural width
    assert max(map(len, lines)) <= NARROW_WIDTH
    header = " ".join(lines[:4])
    for m in HEADLINE:
        assert m in header
    for m in COMPANION_COLUMNS:
        assert m not in header
    assert any("boundary_shrink" in line and "1234.5" in line for line in lines)  # nothing folded


def test_wide_shows_every_column():
    reports = _reports(with_companions(HEADLINE))
    header = " ".join(_render(headline_table(reports, "t", wide=True))[:4])
    for m in with_companions(HEADLINE):
        assert m in header


def test_asked_for_metrics_are_shown_and_the_hidden_ones_are_named():
    reports = _reports(with_companions(["ua", "js_to_golden", "mia_efficacy"]))
    reports = [(label, Report(metrics=r.metrics, rows={k: {**v, "js_to_golden": 0.1} for k, v in r.rows.items()},
                              gaps=r.gaps)) for label, r in reports]
    out = io.StringIO()
    print_reports(reports[:1], "t", console=Console(width=NARROW_WIDTH, file=out))
    text = out.getvalue()
    assert "js_to_golden" in text and "not shown: mia_member_recall (--wide shows every column)" in text
    cards = text[text.index("Metric cards"):]
    assert "mia_member_recall" not in cards.replace("not shown: mia_member_recall", "")
    out = io.StringIO()
    print_reports(reports[:1], "t", console=Console(width=NARROW_WIDTH, file=out), wide=True)
    assert "not shown" not in out.getvalue() and "mia_member_recall" in out.getvalue()


@pytest.mark.parametrize("wide", [False, True])
def test_eval_prints_the_narrow_table_unless_wide(capsys, tmp_path, wide):
    args = ["eval", "--home", str(tmp_path / "home"), "--forget", "class:3", "--set", "epochs=2", "--quiet"]
    code = main(args + (["--wide"] if wide else []))
    out = capsys.readouterr().out
    assert code == 0
    before_cards = out[:out.index("Metric cards")]
    header = " ".join(before_cards.splitlines()[:4])
    assert ("cpu_s" in header) is wide and ("mia_member_recall" in header) is wide
    assert "avg_gap" in header
    hidden = [line for line in before_cards.splitlines() if line.startswith("not shown: ")]
    assert bool(hidden) is not wide
    if not wide:
        assert all(m in hidden[0] for m in COMPANION_COLUMNS)
        assert "cpu_s" not in before_cards.replace(hidden[0], "")  # nor its absent note
        assert "mia_efficacy" in header.replace(" ", "")  # its header is not folded
        assert max(len(line) for line in before_cards.splitlines()) <= NARROW_WIDTH
