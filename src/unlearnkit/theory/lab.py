"""The lab: the table of five models × four losses, the overlap sweep, its plot and its CSV.

Example:
    >>> from unlearnkit.theory import TheoryConfig, run, sweep_overlap, sweep_csv
    >>> table = run(TheoryConfig())
    >>> sorted(table["losses"])
    ['fbm', 'finetune', 'golden', 'original', 'rbm']
    >>> rows = sweep_overlap(TheoryConfig(), ratios=[0.0, 0.5, 1.0], repeats=2)
    >>> len(rows)                                     # 3 ratios × 5 models
    15
    >>> sweep_csv(rows).splitlines()[0].split(",")[:5]
    ['overlap_ratio', 'size_o', 'size_f', 'model', 'seeds']
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from unlearnkit.errors import ConfigError
from unlearnkit.fileio import atomic_write_bytes
from unlearnkit.theory.config import TheoryConfig
from unlearnkit.theory.data import sample_data
from unlearnkit.theory.losses import LOSS_NAMES, all_losses
from unlearnkit.theory.models import MODEL_NAMES, closed_form_models, gd_models

LOSS_LABELS = {
    "remaining": "RL (D_r)",
    "unlearning": "UL (D_f)",
    "gen_remaining": "gen. remaining",
    "gen_forget": "gen. forget",
}
DEFAULT_RATIOS = tuple(np.linspace(0.0, 1.0, 13).tolist())
CSV_COLUMNS = (
    ["overlap_ratio", "size_o", "size_f", "model", "seeds"]
    + list(LOSS_NAMES)
    + [f"{name}_std" for name in LOSS_NAMES]
    + ["mean_y_f_sq"]
)


def run(config: TheoryConfig, gd_steps: int | None = None) -> dict[str, Any]:
    """Sample one problem and compute the table of the five models × the four losses.

    Args:
        config: the problem.
        gd_steps: ``None`` (default) for the closed forms; an int for models trained by that many
            steps of gradient descent each (``models.gd_models``).

    Returns:
        A JSON-ready dict: ``config`` (the parameters), ``case`` ("distinct" when |S_o| = 0,
        else "overlapping"), ``overlap_ratio``, ``regime`` ("n_r >= |S_o|" or "n_r < |S_o|"),
        ``mean_y_f_sq`` (the mean of y_f², golden's UL in the distinct case) and ``losses``:
        model name -> loss name -> value.

    Example:
        >>> t = run(TheoryConfig(d=60, n_f=5, n_r=10, size_f=10, size_o=0, size_r=20))
        >>> t["case"], abs(t["losses"]["golden"]["unlearning"] - t["mean_y_f_sq"]) < 1e-12
        ('distinct', True)
    """
    data = sample_data(config)
    weights = closed_form_models(data) if gd_steps is None else gd_models(data, gd_steps)
    return {
        "config": config.to_dict(),
        "case": "distinct" if config.size_o == 0 else "overlapping",
        "overlap_ratio": config.overlap_ratio,
        "regime": "n_r >= |S_o|" if config.n_r >= config.size_o else "n_r < |S_o|",
        "mean_y_f_sq": float(np.mean(data.y_f ** 2)),
        "losses": {name: all_losses(data, weights[name]) for name in MODEL_NAMES},
    }


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def format_table(table: dict[str, Any]) -> str:
    """The table of ``run`` as plain text, one row per model.

    Example:
        >>> print(format_table(run(TheoryConfig(seed=1))).splitlines()[1].split())
        ['model', 'RL', '(D_r)', 'UL', '(D_f)', 'gen.', 'remaining', 'gen.', 'forget']
    """
    c = table["config"]
    title = (f"theory lab: d={c['d']} n_f={c['n_f']} n_r={c['n_r']} |S_f|={c['size_f']} |S_o|={c['size_o']} "
             f"|S_r|={c['size_r']} noise={c['noise']:g} seed={c['seed']} — {table['case']} features, "
             f"overlap ratio {table['overlap_ratio']:.3g}, {table['regime']}")
    header = ["model"] + [LOSS_LABELS[name] for name in LOSS_NAMES]
    body = [[m] + [_fmt(table["losses"][m][name]) for name in LOSS_NAMES] for m in MODEL_NAMES]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    out = [title, line(header)] + [line(r) for r in body]
    out.append(f"mean of y_f² = {_fmt(table['mean_y_f_sq'])} (the golden model's UL in the distinct case)")
    return "\n".join(out)


def overlap_sizes(config: TheoryConfig, ratio: float) -> tuple[int, int]:
    """(size_o, size_f) at overlap ``ratio``, keeping size_o + size_f = config.size_o + config.size_f.

    Example:
        >>> overlap_sizes(TheoryConfig(size_f=40, size_o=20), 0.5)
        (30, 30)
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"An overlap ratio must be a float in [0, 1]. Got {ratio!r} instead.")
    k = config.size_o + config.size_f
    size_o = int(round(ratio * k))
    return size_o, k - size_o


def sweep_overlap(
    config: TheoryConfig, ratios: Sequence[float] | None = None, repeats: int = 10
) -> list[dict[str, Any]]:
    """The losses of the five models against the overlap ratio |S_o| / (|S_o| + |S_f|).

    |S_o| + |S_f| stays at ``config.size_o + config.size_f`` and every other parameter stays as
    in ``config``; at each ratio the problem is drawn with seeds ``config.seed`` ..
    ``config.seed + repeats - 1`` and the losses are averaged (mean and standard deviation).
    Ratios that round to the same |S_o| are computed once. Every configuration is validated
    before any is computed.

    Args:
        config: the base configuration.
        ratios: overlap ratios in [0, 1]; default 13 evenly spaced from 0 to 1.
        repeats: seeds per ratio.

    Returns:
        One dict per (ratio, model) with the keys of ``CSV_COLUMNS``; ``overlap_ratio`` is the
        ratio actually realised, size_o / (size_o + size_f).

    Example:
        >>> rows = sweep_overlap(TheoryConfig(), ratios=[1.0], repeats=1)
        >>> ft, rbm = (next(r for r in rows if r["model"] == m) for m in ("finetune", "rbm"))
        >>> abs(ft["unlearning"] - rbm["unlearning"]) < 1e-12   # with S_f empty, RBM is FT
        True
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"The 'repeats' parameter of sweep_overlap must be an int in [1, inf). Got {repeats!r} instead.")
    ratios = DEFAULT_RATIOS if ratios is None else tuple(ratios)
    if not ratios:
        raise ConfigError("sweep_overlap needs at least one overlap ratio.")
    configs: list[TheoryConfig] = []
    seen: set[int] = set()
    for ratio in ratios:
        size_o, size_f = overlap_sizes(config, ratio)
        if size_o in seen:
            continue
        seen.add(size_o)
        try:
            configs.append(config.replace(size_o=size_o, size_f=size_f))
        except ConfigError as exc:
            raise ConfigError(f"At overlap ratio {ratio:g} (size_o={size_o}, size_f={size_f}): {exc}") from None
    rows: list[dict[str, Any]] = []
    for cfg in sorted(configs, key=lambda c: c.size_o):
        tables = [run(cfg.replace(seed=cfg.seed + i)) for i in range(repeats)]
        mean_y = float(np.mean([t["mean_y_f_sq"] for t in tables]))
        for model in MODEL_NAMES:
            values = {name: np.array([t["losses"][model][name] for t in tables]) for name in LOSS_NAMES}
            row: dict[str, Any] = {"overlap_ratio": cfg.overlap_ratio, "size_o": cfg.size_o, "size_f": cfg.size_f,
                                   "model": model, "seeds": repeats}
            row.update({name: float(v.mean()) for name, v in values.items()})
            row.update({f"{name}_std": float(v.std()) for name, v in values.items()})
            row["mean_y_f_sq"] = mean_y
            rows.append(row)
    return rows


def _series(rows: Sequence[dict[str, Any]], model: str, key: str) -> tuple[list[float], list[float]]:
    picked = [r for r in rows if r["model"] == model]
    return [r["overlap_ratio"] for r in picked], [r[key] for r in picked]


def describe_sweep(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Plain-language observations of a sweep: how UL(golden) and UL(RBM) move with the overlap.

    ALGORITHMS.md leaves the direction of UL(golden) to the numbers (it depends on n_r against
    |S_o|), so it is reported here, not assumed.

    Example:
        >>> describe_sweep(sweep_overlap(TheoryConfig(), ratios=[0, 1], repeats=1))[0].startswith("UL(golden)")
        True
    """
    out = []
    for model in ("golden", "rbm"):
        x, y = _series(rows, model, "unlearning")
        if len(y) < 2:
            continue
        diffs = np.diff(y)
        scale = max(abs(v) for v in y) or 1.0
        if np.all(diffs <= 1e-12 * scale):
            trend = "decreases monotonically"
        elif np.all(diffs >= -1e-12 * scale):
            trend = "increases monotonically"
        else:
            trend = "is not monotone"
        slope = float(np.polyfit(x, y, 1)[0])
        out.append(f"UL({model}) {trend} with the overlap: {y[0]:.4g} at ratio {x[0]:.3g}, "
                   f"{y[-1]:.4g} at ratio {x[-1]:.3g} (min {min(y):.4g}, max {max(y):.4g}; "
                   f"least-squares slope {slope:+.3g} per unit of ratio)")
    return out


MODEL_STYLES = {
    "original": dict(color="black", linewidth=4.0, alpha=0.3, linestyle="-", label="original"),
    "finetune": dict(color="tab:blue", linewidth=1.5, linestyle="--", marker="o", markersize=4, label="FT"),
    "golden": dict(color="tab:green", linewidth=2.0, linestyle="-", marker="s", markersize=4, label="golden"),
    "rbm": dict(color="tab:red", linewidth=2.0, linestyle="-", marker="^", markersize=5, label="RBM"),
    "fbm": dict(color="tab:orange", linewidth=1.5, linestyle=":", marker="v", markersize=5, label="FBM"),
}


def sweep_png(rows: Sequence[dict[str, Any]], title: str | None = None) -> bytes:
    """The sweep as a 2 × 2 figure (one panel per loss, one line per model), as PNG bytes.

    matplotlib is imported here, not at module import; no pyplot state is touched.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("The overlap plot needs matplotlib: pip install 'unlearnkit[report]'.") from exc
    if not rows:
        raise ConfigError("No sweep rows to plot.")
    fig = Figure(figsize=(11, 8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    for ax, name in zip(axes.flat, LOSS_NAMES):
        for model in MODEL_NAMES:
            x, y = _series(rows, model, name)
            ax.plot(x, y, **MODEL_STYLES[model])
        if name == "unlearning":
            x, y = _series(rows, MODEL_NAMES[0], "mean_y_f_sq")
            ax.plot(x, y, color="grey", linestyle="-.", linewidth=1.0, label="mean of y_f²")
        ax.set_title(LOSS_LABELS[name] + (" — MSE on training data" if name in ("remaining", "unlearning")
                                          else " — MSE on fresh samples"))
        ax.set_xlabel("overlap ratio |S_o| / (|S_o| + |S_f|)")
        ax.set_ylabel("mean squared error")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(-0.02, 1.02)
        peak = max(abs(r[name]) for r in rows)
        if peak < 1e-12:  # rounding noise only (interpolation): draw it as the zero it is
            ref = max(max(r["unlearning"], r["mean_y_f_sq"]) for r in rows) or 1.0
            ax.set_ylim(-0.05 * ref, 1.05 * ref)  # the scale of the UL panel
            ax.text(0.5, 0.5, f"every model interpolates: 0 up to rounding (largest {peak:.1e})",
                    transform=ax.transAxes, ha="center", va="center", fontsize=10)
        else:
            ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    handles, labels = axes.flat[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=10)
    r0 = rows[0]
    fig.suptitle(title or f"Losses against the overlap ratio (mean over {r0['seeds']} seeds; "
                          f"|S_o| + |S_f| = {r0['size_o'] + r0['size_f']})")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def sweep_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The sweep's numbers as CSV text, columns ``CSV_COLUMNS``, one line per (ratio, model)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items() if k in CSV_COLUMNS})
    return buf.getvalue()


def plot_sweep(rows: Sequence[dict[str, Any]], path: str | os.PathLike, title: str | None = None) -> Path:
    """Write ``sweep_png(rows)`` to ``path`` atomically; returns the path."""
    target = Path(path)
    atomic_write_bytes(target, sweep_png(rows, title))
    return target


def write_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write ``sweep_csv(rows)`` to ``path`` atomically; returns the path."""
    target = Path(path)
    atomic_write_bytes(target, sweep_csv(rows).encode())
    return target
