"""``compare``: one self-contained HTML page comparing runs, or ``forget`` outputs, view by view."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import unlearnkit
from unlearnkit.compare.from_forget import collect_forget
from unlearnkit.compare.from_runs import collect_runs
from unlearnkit.compare.geometry import cka_view, embedding_view
from unlearnkit.compare.metrics_view import metrics_view
from unlearnkit.compare.page import render_page
from unlearnkit.compare.samples import SET_TITLES, Budget, model_outputs
from unlearnkit.compare.sources import Collection, classify_sources
from unlearnkit.compare.thumbs import thumbnail
from unlearnkit.compare.views import at_risk_view, attack_view, classwise_view, confidences, matrix_view
from unlearnkit.data.dataset import Dataset
from unlearnkit.errors import ConfigError


@dataclass
class PageResult:
    """What ``compare`` wrote: the page, its size, and the wall and process CPU seconds it took."""

    path: Path
    size_bytes: int
    wall_s: float
    cpu_s: float
    models: list[str]


def page_data(col: Collection, budget: Budget | None = None) -> dict[str, Any]:
    """Every number of the page, as JSON-serialisable data (see ``render_page``)."""
    budget = budget or Budget()
    out = model_outputs(col, budget)
    num_classes = col.split.num_classes
    scores = confidences(out)
    subjects = [m.label for m in col.subjects]
    forget = out.subsets["forget"]
    return {
        "title": col.title,
        "kind": col.kind,
        "version": unlearnkit.__version__,
        "seed": col.seed,
        "classes": col.dataset.class_names(col.split.label_set),
        "models": [{"label": m.label, "role": m.role, "info": _public_info(m.info)} for m in col.models],
        "reference": col.reference.label,
        "golden": col.golden.label if col.golden is not None else None,
        "sets": {name: {"title": SET_TITLES[name], "shown": len(sub), "total": out.totals[name]}
                 for name, sub in out.subsets.items()},
        "no_val": None if col.split.val is not None else
        f"dataset {col.dataset.name!r} has no validation slice V (load it with --data-option val_size=N)",
        "metrics": metrics_view(col),
        "classwise": classwise_view(out, num_classes),
        "matrix": matrix_view(out, num_classes),
        "embedding": embedding_view(col, out, budget),
        "cka": cka_view(col, out, budget),
        "attack": attack_view(out, scores),
        "at_risk": at_risk_view(out, scores, subjects, budget.at_risk, lambda i: thumbnail(forget, i)),
    }


def _public_info(info: dict[str, Any]) -> dict[str, Any]:
    keep = ("run_id", "method", "params", "runtime_s", "folder", "sha256")
    return {k: info[k] for k in keep if k in info}


def compare(sources: Sequence[str], out: str | os.PathLike, *, home: str | os.PathLike | None = None,
            data: Dataset | None = None, before: str | os.PathLike | None = None,
            budget: Budget | None = None) -> PageResult:
    """Write one self-contained HTML page (no server, no network) comparing runs or ``forget`` outputs.

    Args:
        sources: run ids of the run store, or ``forget`` output folders of one request.
        out: the HTML file to write (replaced atomically; nothing is written when a check fails).
        home: the run store's home, for run ids.
        data: for ``forget`` outputs, the records as ``forget`` read them.
        before: for ``forget`` outputs without a ledger, the weights of the model before the request.
        budget: sample sizes of the views (``Budget``).

    Returns:
        ``PageResult`` with the page's size and the time it took.

    Raises:
        ConfigError / StoreError: an unknown run id, runs of different datasets, splits or original
            models, a folder that is not a ``forget`` output, ``forget`` outputs without ``data``.

    Example:
        >>> compare(["738609b7158a", "ca79cfe1f4e3"], "page.html", home="/tmp/home")  # doctest: +SKIP
        PageResult(path=PosixPath('page.html'), size_bytes=412345, ...)
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the path of the HTML file to write.")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out} must end in .html (the page is one HTML file).")
    kind = classify_sources([str(s) for s in sources])
    if kind == "runs":
        if data is not None or before is not None:
            raise ConfigError("--data and --before are for forget outputs; runs of the run store carry their data.")
        col = collect_runs(list(sources), home=home)
    else:
        if data is None:
            raise ConfigError("Comparing forget outputs needs their records: give --data (and --heldout / "
                              "--heldout-size / --seed) exactly as forget was given them.")
        col = collect_forget(list(sources), data, before=before)
    html = render_page(page_data(col, budget))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return PageResult(out, out.stat().st_size, time.perf_counter() - start, time.process_time() - cpu_start,
                      [m.label for m in col.models])


__all__ = ["PageResult", "compare", "page_data"]
