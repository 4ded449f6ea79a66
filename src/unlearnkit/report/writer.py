"""``write_report``: render the aggregated run store with every renderer and write the files.

See the package docstring (``unlearnkit.report``) for what the report contains.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Sequence

from unlearnkit.errors import ConfigError
from unlearnkit.fileio import atomic_write_bytes
from unlearnkit.report.aggregate import Scenario, aggregate_runs, retain_fraction_sweeps
from unlearnkit.report.content import Sweep, check_spread
from unlearnkit.report.html import render_html
from unlearnkit.report.markdown import render_markdown
from unlearnkit.report.plot_style import report_palette, require_matplotlib
from unlearnkit.report.plots import PLOTS
from unlearnkit.report.sweep_plot import avg_gap_sweep, sweep_lines, sweep_title
from unlearnkit.runs.store import RunStore

DEFAULT_TITLE = "unlearnkit report"
MD_NAME = "report.md"
HTML_NAME = "report.html"

#: file name -> renderer, in the order the files are written and returned. A renderer takes
#: ``(scenarios, images, *, title, store, n_runs, n_unfinished, n_outside, spread, sweeps)`` and
#: returns the file's text; a new output format is one new module and one entry here.
RENDERERS: dict[str, Callable[..., str]] = {MD_NAME: render_markdown, HTML_NAME: render_html}

PLOT_DIR = "plots"
SWEEP_PLOT = "avg-gap"
_PLOT_FILE = re.compile(r"^(scenario\d+-(" + "|".join(map(re.escape, PLOTS)) + r")|sweep\d+-"
                        + re.escape(SWEEP_PLOT) + r")\.png$")


def write_report(runs: RunStore | str | os.PathLike, out_dir: str | Path, *, title: str = DEFAULT_TITLE,
                 config_hashes: set[str] | frozenset[str] | None = None, spread: str = "ci") -> tuple[Path, ...]:
    """Write ``out_dir/report.md`` (with ``out_dir/plots/*.png``) and ``out_dir/report.html``.

    Args:
        runs: a ``RunStore`` or the path of one; a path that does not exist is an empty store (and is
            not created).
        out_dir: the output directory (created if needed).
        title: the report's title.
        config_hashes: when given, only the runs whose ``config_hash`` is in this set are reported
            (e.g. ``Grid.config_hashes()``: the planned runs of a grid); ``None`` reports every run.
        spread: what follows "mean ±" in the tables: ``ci`` (default), the half-width of the 95%
            Student-t interval, or ``std``, the sample standard deviation (n − 1) over seeds. The
            plots' error bars are 95% t-intervals either way.

    Returns:
        The paths of the files written, in the order of ``RENDERERS``: the Markdown file and the HTML page.

    Raises:
        ConfigError: ``spread`` is not ``ci`` or ``std``; the store has no finished run (of
            ``config_hashes``, when given); ``out_dir`` is not a directory; matplotlib is missing.
            Nothing is written then.

    Example:
        >>> md, page = write_report(RunStore("runs.sqlite"), "unlearnkit-report")  # doctest: +SKIP
    """
    check_spread(spread)
    if not isinstance(runs, RunStore):
        path = Path(runs)
        if not path.is_file():
            raise ConfigError(f"No finished runs in {path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
        runs = RunStore(path, create=False)  # reading creates nothing
    every = runs.list()
    done = [r for r in every if r["status"] == "done"]
    n_outside = 0
    if config_hashes is not None:
        wanted = set(config_hashes)
        every = [r for r in every if r.get("config_hash") in wanted]
        kept = [r for r in done if r.get("config_hash") in wanted]
        n_outside, done = len(done) - len(kept), kept
    scenarios = aggregate_runs(done)
    if not scenarios and n_outside:
        raise ConfigError(f"None of the {n_outside} finished run(s) in {runs.path} is a run of the given grid(s); "
                          f"run `unlearnkit bench GRID` first, or pass the grid that was run.")
    if not scenarios:
        raise ConfigError(f"No finished runs in {runs.path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
    require_matplotlib()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"Cannot write the report into {out}: it exists and is not a directory.")
    n_unfinished = len(every) - len(done)

    images: dict[tuple[int, str], tuple[str, bytes]] = {}
    palette = report_palette(scenarios)  # a variant has one colour in every plot
    for i, sc in enumerate(scenarios, 1):
        for name, plot in PLOTS.items():
            images[(i, name)] = (f"{PLOT_DIR}/scenario{i}-{name}.png", plot(sc, palette=palette))
    sweeps = make_sweeps(scenarios)
    for rel, data in [*images.values(), *((sw.path, sw.png) for sw in sweeps)]:
        atomic_write_bytes(out / rel, data)
    _remove_stale_plots(out / PLOT_DIR, {Path(rel).name for rel, _ in images.values()}
                        | {Path(sw.path).name for sw in sweeps})

    meta = {"store": str(runs.path), "n_runs": sum(sc.n_runs for sc in scenarios), "n_unfinished": n_unfinished,
            "n_outside": n_outside, "spread": spread, "sweeps": sweeps}
    paths = []
    for name, render in RENDERERS.items():
        paths.append(out / name)
        atomic_write_bytes(paths[-1], render(scenarios, images, title=title, **meta).encode("utf-8"))
    return tuple(paths)


def make_sweeps(scenarios: Sequence[Scenario]) -> list[Sweep]:
    """One ``Sweep`` (``plots/sweep<j>-avg-gap.png``) per group of scenarios that differ only in their
    retain fraction and have a variant with ``avg_gap`` at two or more of its fractions; none otherwise."""
    number = {id(sc): i for i, sc in enumerate(scenarios, 1)}
    palette = report_palette(scenarios)
    out: list[Sweep] = []
    for group in retain_fraction_sweeps(scenarios):
        if not sweep_lines(group):
            continue
        rel = f"{PLOT_DIR}/sweep{len(out) + 1}-{SWEEP_PLOT}.png"
        out.append(Sweep(sweep_title(group), tuple(number[id(sc)] for sc in group), rel, avg_gap_sweep(group, palette)))
    return out


def _remove_stale_plots(plot_dir: Path, keep: set[str]) -> None:
    """Remove plots of an earlier report (more scenarios) so the folder matches the report."""
    if not plot_dir.is_dir():
        return
    for p in plot_dir.iterdir():
        if p.is_file() and _PLOT_FILE.match(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)


__all__ = ["write_report", "make_sweeps", "RENDERERS", "DEFAULT_TITLE", "MD_NAME", "HTML_NAME", "PLOT_DIR"]
