"""What a comparison page compares: the models of runs of the run store, or of ``forget`` outputs.

``collect_runs`` reloads each run's unlearned model, the original model and (when it is in the
model store) the golden model of the runs' shared experiment; ``collect_forget`` reloads the model
before and after each ``forget`` output folder and rebuilds the request's split from the records.
Every check happens here, before any number is computed, so that bad input writes nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from torch import nn

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.split import Split
from unlearnkit.errors import ConfigError

#: The files that make a folder a ``forget`` output.
FORGET_MARKERS = ("evidence.json", "model.safetensors")


@dataclass
class Compared:
    """One model on the page.

    Attributes:
        label: its name on the page (``original``, ``golden``, ``before``, or a run's method and id).
        role: ``reference`` (original / golden / before) or ``subject`` (a run or a forget result).
        model: the module, in eval mode on the CPU.
        info: what is known about it (run id, method, parameters, recorded metrics...).
    """

    label: str
    role: str
    model: nn.Module
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Collection:
    """Everything a page is built from.

    Attributes:
        kind: ``runs`` (runs of the run store) or ``forget`` (``forget`` output folders).
        dataset, split: the shared data and split (D_f, D_r, test, V).
        models: references first (original or before, then golden when present), then the subjects.
        seed: seeds every sample drawn for the page.
        title: a one-line description of the experiment.
        records: for ``forget`` outputs, the evidence record (``evidence.json``) of each subject label.
    """

    kind: str
    dataset: Dataset
    split: Split
    models: list[Compared]
    seed: int
    title: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def reference(self) -> Compared:
        """The model the subjects started from (original, or the model before a request)."""
        return self.models[0]

    @property
    def golden(self) -> Compared | None:
        return next((m for m in self.models if m.label == "golden"), None)

    @property
    def subjects(self) -> list[Compared]:
        return [m for m in self.models if m.role == "subject"]


def is_forget_output(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by ``forget`` (it holds ``evidence.json`` and the weights)."""
    p = Path(path)
    return p.is_dir() and all((p / name).is_file() for name in FORGET_MARKERS)


def classify_sources(sources: Sequence[str]) -> str:
    """``"runs"`` or ``"forget"``: what the sources name; a mix, or a folder that is not a ``forget``
    output, is a ``ConfigError``.

    Example:
        >>> classify_sources(["738609b7158a", "ca79cfe1f4e3"])
        'runs'
    """
    if not sources:
        raise ConfigError("Give at least one run id (unlearnkit runs) or forget output folder to compare.")
    kinds = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            if not is_forget_output(p):
                missing = [n for n in FORGET_MARKERS if not (p / n).is_file()]
                raise ConfigError(f"{s} is a folder but not a forget output (no {', '.join(missing)}); give run ids "
                                  "of the run store or folders written by 'unlearnkit forget --out'.")
            kinds.append("forget")
        elif p.exists():
            raise ConfigError(f"{s} is a file; give run ids of the run store or forget output folders.")
        else:
            kinds.append("runs")
    if len(set(kinds)) > 1:
        raise ConfigError("Compare runs of the run store with runs, or forget outputs with forget outputs, not both "
                          f"({', '.join(f'{s}: {k}' for s, k in zip(sources, kinds))}).")
    if len(set(sources)) != len(sources):
        raise ConfigError(f"A source is named twice ({', '.join(sources)}); name each once.")
    return kinds[0]


def read_record(folder: str | os.PathLike) -> dict[str, Any]:
    """The evidence record (``evidence.json``) of a ``forget`` output folder."""
    path = Path(folder) / "evidence.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable forget evidence record ({exc}).") from None
    if not isinstance(record, dict) or not {"request", "model", "method", "evidence"} <= set(record):
        raise ConfigError(f"{path} is not a forget evidence record (it lacks request, model, method or evidence).")
    return record


def same_or_raise(values: dict[str, Any], what: str) -> Any:
    """The one value shared by every source, or a ``ConfigError`` naming what differs.

    Example:
        >>> same_or_raise({"a": "digits", "b": "digits"}, "dataset")
        'digits'
    """
    distinct = {json.dumps(v, sort_keys=True, default=str) for v in values.values()}
    if len(distinct) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in values.items())
        raise ConfigError(f"The sources have different {what} ({listed}); a comparison needs one {what}.")
    return next(iter(values.values()))


__all__ = ["Collection", "Compared", "FORGET_MARKERS", "classify_sources", "is_forget_output", "read_record",
           "same_or_raise"]
