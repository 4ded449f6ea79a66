"""The margins of the deletion verdict: numbers with a source.

A margin is how far a model retrained without the deleted records (the golden model) itself lies
from the target of a statistic: over development requests of the benchmark
(``benchmarks/verdict_errors.py --write-margins``), the 95th percentile of how far the golden
model's own 95% interval reaches from the target. They live in ``verdict_margins.json`` beside
this module, with the command and data that produced them (``source``); every verdict prints them.

Example:
    >>> m = load_margins()
    >>> m.acc_gap > 0 and "verdict_errors.py" in m.source
    True
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from unlearnkit.errors import ConfigError

#: The margins shipped with the package.
MARGINS_FILE = Path(__file__).with_name("verdict_margins.json")


@dataclass(frozen=True)
class Margins:
    """The verdict's margins (percentage points, except ``auc``) and where they come from.

    Attributes:
        acc_gap: |acc(θ_u, D_f) − acc(θ_u, V_f)| (and, against a golden model, |acc(θ_u, D_f) −
            acc(θ_g, D_f)|) inside this is "like a retrained model".
        auc: the loss AUC below 0.5 − ``auc`` is over-forgetting.
        class_acc: whole-class requests: accuracy (percent) on the held-out records of the deleted
            classes above this is "still predicts the class".
        retained_acc_lost, retained_conf_lost, heldout_acc_lost: losses on kept records above these
            are damage.
        min_heldout: the smallest V_f (held-out records of the deleted records' classes) the verdict
            accepts: with fewer, V_f's own noise hides even a model that forgot nothing.
        source: how and on what they were measured.
    """

    acc_gap: float
    auc: float
    class_acc: float
    retained_acc_lost: float
    retained_conf_lost: float
    heldout_acc_lost: float
    min_heldout: int
    source: str

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "source":
                if not isinstance(v, str) or not v.strip():
                    raise ConfigError("Margins need a source: say how and on what they were measured.")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"Margin {f.name} must be a positive number; got {v!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: every margin and the source."""
        return (f"margins: acc gap ±{self.acc_gap:g} pp, loss AUC ≥ {0.5 - self.auc:g}, whole class: held-out "
                f"accuracy < {self.class_acc:g}%, retained accuracy lost "
                f"< {self.retained_acc_lost:g} pp, retained confidence lost < {self.retained_conf_lost:g} pp, held-out "
                f"accuracy lost < {self.heldout_acc_lost:g} pp (source: {self.source})")


def load_margins(path: str | Path | None = None) -> Margins:
    """The margins from ``path`` (default: the package's ``verdict_margins.json``)."""
    p = Path(path) if path is not None else MARGINS_FILE
    try:
        raw = json.loads(p.read_text())
        return Margins(**{f.name: raw[f.name] for f in fields(Margins)})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"Cannot read the verdict's margins from {p}: {type(exc).__name__}: {exc}; the file needs "
                          f"{', '.join(f.name for f in fields(Margins))}.") from None


def save_margins(margins: Margins, path: str | Path) -> None:
    """Write ``margins`` as JSON (what ``benchmarks/verdict_errors.py --write-margins`` does)."""
    Path(path).write_text(json.dumps(margins.to_dict(), indent=2) + "\n")


__all__ = ["MARGINS_FILE", "Margins", "load_margins", "save_margins"]
