"""The benchmark report: the run store as a Markdown file and a self-contained HTML page with plots.

Reads only the run store: nothing is trained and no model is loaded. For every scenario (see
``unlearnkit.report.aggregate``) the report has

- a table of the headline metrics: golden and original rows first, then the method variants
  ranked by ``avg_gap``, each cell ``mean ± half-width of the 95% Student-t interval`` over seeds
  (or, with ``spread="std"``, ``mean ± sample standard deviation`` over seeds);
- a table of the gaps |θ_u − θ_g| of each metric, and one of the other recorded metrics if any;
- why a value is absent, where one is;
- three plots (UA versus RA, avg_gap bars, runtime bars with the speed-up over retraining);

then, for every group of two or more scenarios that differ only in their retain fraction, a plot
of ``avg_gap`` against the retain fraction (one line per variant run at two or more fractions);
and at the end the metric card (name, definition, direction) of every metric shown.

``config_hashes`` restricts the report to the runs whose config hash is in the set, e.g. the
planned runs of a grid (``Grid.config_hashes()``, ``unlearnkit report --grid FILE``).

The Markdown links the PNGs saved under ``out_dir/plots/``; the HTML page embeds them as
``data:`` URIs and has its CSS inline, so it can be mailed or archived as one file. Every file is
written to a temporary file and renamed into place.

Modules, one concern each:

- ``aggregate``: runs -> scenarios -> ranked variants (pure), built from ``stats`` (mean ± 95%
  t-interval, a metric's range), ``rows`` (variant, reference row, scenario) and ``labels``
  (scenario and variant keys and labels);
- ``marks``: the verdicts on a variant (did nothing, overshoots, attack collapsed);
- ``content``: what every format shows (tables of formatted cells, summary, notes, metric cards);
- ``plots``: the PNGs of a scenario (matplotlib, imported lazily), ``sweep_plot`` the retain-fraction
  plot, ``plot_style`` what they share (renderer, colours, error bars);
- ``markdown``, ``html``: one renderer per output format;
- ``writer``: ``write_report``, which runs every renderer of ``writer.RENDERERS`` and writes the files.
"""

from unlearnkit.report.aggregate import aggregate_runs
from unlearnkit.report.rows import Scenario, Variant
from unlearnkit.report.stats import SPREADS, Stat, summarize
from unlearnkit.report.content import INTRO, Sweep, format_stat, intro, scenario_tables
from unlearnkit.report.html import render_html
from unlearnkit.report.markdown import md_code, md_escape, render_markdown
from unlearnkit.report.writer import RENDERERS, make_sweeps, write_report

__all__ = ["write_report", "make_sweeps", "RENDERERS", "Sweep", "intro", "INTRO", "render_markdown", "render_html",
           "scenario_tables", "format_stat", "md_escape", "md_code", "aggregate_runs", "summarize", "Scenario",
           "Stat", "Variant", "SPREADS"]
