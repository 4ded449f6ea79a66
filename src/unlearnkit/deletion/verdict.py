"""The verdict of a deletion request (METRICS.md, "The verdict of a deletion request").

Two questions, each answered by intervals and never by a point value:

1. **Forgotten?** D_f against V_f under the unlearned model θ_u: the weighted accuracy gap
   acc(θ_u, D_f) − acc(θ_u, V_f) (percentage points, V_f weighted to D_f's class proportions) must
   lie inside ±``acc_gap`` margin; the loss AUC (P(loss_f < loss_v)) is the over-forgetting
   detector: its interval wholly below 0.5 − ``auc`` is over-forgetting. Whole-class requests add
   acc(θ_u, V_f) itself (``heldout_class_acc`` of METRICS.md): a model retrained without a class
   predicts it on no held-out record, so it must lie below ``class_acc``.
2. **Still the same model on what was kept?** a seeded sample of D_r and the held-out records of
   the kept classes, θ_u against θ_o (paired): accuracy and confidence (mean p_y) lost on retained
   records, accuracy lost on held-out records. Each must lie below its margin.

Verdicts: ``forgotten`` (every interval inside its margins), ``damaged`` (a loss's interval wholly
above its margin: the model is worse for everyone, whatever else holds), ``not_forgotten`` (the
gap's interval wholly above +margin, or a whole class still predicted), ``over_forgotten`` (the
gap's wholly below −margin, or the AUC's below its margin), ``inconclusive`` (an interval straddles a
margin; ``records_needed`` says roughly how many records would decide it, the interval's
half-width scaled by √n). An interval end lying exactly on a margin decides nothing (strict
inequalities everywhere). With a golden model the same two questions compare θ_u with θ_g instead
(``golden_verdict``). Margins come from ``unlearnkit.deletion.margins`` with their source.

Intervals are seeded percentile bootstraps (1,000 resamples). The gap's bootstrap adds one right
and one wrong pseudo-record to D_f and to V_f (as Agresti and Caffo do for a difference of
proportions): 10 deleted records all predicted right would otherwise give an interval of width 0.

Example:
    >>> import numpy as np
    >>> from unlearnkit.deletion.margins import Margins
    >>> m = Margins(acc_gap=5.0, auc=0.05, class_acc=2.0, retained_acc_lost=2.0, retained_conf_lost=2.0,
    ...             heldout_acc_lost=2.0, min_heldout=100, source="hand-made")
    >>> f = forget_question(np.ones(400), np.r_[np.ones(300), np.zeros(100)], np.ones(400),
    ...                     np.zeros(400), np.r_[np.zeros(300), np.ones(100)], margins=m, seed=0)
    >>> f.status, round(f.stats[0].est.value, 1)
    ('not_forgotten', 25.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unlearnkit.deletion.margins import Margins
from unlearnkit.metrics.heldout import N_BOOTSTRAP, Estimate
from unlearnkit.seeding import numpy_rng

VERDICTS = ("forgotten", "not_forgotten", "over_forgotten", "damaged", "inconclusive")
#: Which records a straddling statistic needs more of (``Verdict.needed``), when not the deleted ones.
NEEDED_KEYS = {"heldout_class_acc": "heldout_forget", "retained_acc_lost": "retained", "retained_conf_lost": "retained",
               "heldout_acc_lost": "heldout"}
VERDICT_TITLES = {"forgotten": "Forgotten", "not_forgotten": "Not forgotten", "over_forgotten": "Over-forgotten",
                  "damaged": "Damaged", "inconclusive": "Inconclusive"}


@dataclass(frozen=True)
class Stat:
    """One statistic of a question: its estimate, margin, the side where it decides, and its n.

    ``side`` is ``"both"`` (inside ±margin is good, beyond either side decides), ``"upper"`` (below
    the margin is good, above it decides) or ``"lower"`` (above ``target − margin`` is good).
    """

    name: str
    est: Estimate
    margin: float
    side: str
    n: int
    unit: str = " pp"
    target: float = 0.0

    def position(self) -> str:
        """``"inside"``, ``"above"``, ``"below"`` (beyond a margin) or ``"straddles"``."""
        lo, hi, t, m = self.est.low, self.est.high, self.target, self.margin
        if self.side in ("both", "upper") and lo > t + m:
            return "above"
        if self.side in ("both", "lower") and hi < t - m:
            return "below"
        inside_hi = hi < t + m if self.side in ("both", "upper") else True
        inside_lo = lo > t - m if self.side in ("both", "lower") else True
        return "inside" if inside_hi and inside_lo else "straddles"

    def records_needed(self) -> int | None:
        """Roughly the n that would decide a straddling interval (half-width ∝ 1/√n); ``None`` when the
        point value lies on a margin (no n decides it) or the interval already decides."""
        if self.position() != "straddles":
            return None
        v, lo, hi, t, m = self.est.value, self.est.low, self.est.high, self.target, self.margin
        edges = [e for e, s in ((t + m, "upper"), (t - m, "lower")) if self.side in ("both", s) and lo <= e <= hi]
        need = 0
        for e in edges:
            d = abs(v - e)
            if d == 0:
                return None
            h = (v - lo) if e < v else (hi - v)
            need = max(need, math.ceil(self.n * (h / d) ** 2))
        return need

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.est.value, "low": self.est.low, "high": self.est.high,
                "margin": self.margin, "side": self.side, "target": self.target, "n": self.n, "unit": self.unit,
                "position": self.position(), "records_needed": self.records_needed()}


@dataclass(frozen=True)
class Question:
    """The answer to one question: ``status`` and the statistics it rests on."""

    name: str
    status: str
    stats: tuple[Stat, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "stats": [s.to_dict() for s in self.stats]}


@dataclass(frozen=True)
class Verdict:
    """The verdict of one request: the two questions, the combined verdict, flags and margins.

    Attributes:
        verdict: one of ``VERDICTS``.
        forget: the "Forgotten?" question; ``kept``: "Still the same model on what was kept?".
        flags: every decided problem (``not_forgotten``, ``over_forgotten``, ``damaged``), also
            those hidden behind the verdict.
        basis: ``"golden-free"`` or ``"golden"`` (compared with a retrained model).
        margins: the margins used, with their source.
        needed: for ``inconclusive``, roughly how many records (per set named) would decide it.
    """

    verdict: str
    forget: Question
    kept: Question
    flags: tuple[str, ...]
    basis: str
    margins: Margins
    needed: dict[str, int | None] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return VERDICT_TITLES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "title": self.title, "basis": self.basis, "flags": list(self.flags),
                "forget": self.forget.to_dict(), "kept": self.kept.to_dict(), "margins": self.margins.to_dict(),
                "needed": dict(self.needed)}


# ------------------------------------------------------------------------------ intervals
def _counts(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """(n_boot, n) multiplicities of resamples with replacement."""
    draws = rng.integers(0, n, size=(n_boot, n)) + (np.arange(n_boot) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _percentiles(boot: np.ndarray, value: float) -> Estimate:
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return Estimate(float(value), float(min(lo, value)), float(max(hi, value)))


def weighted_gap(correct_f, correct_v, weights_v, *, seed: int, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """100 × (mean(correct_f) − weighted mean(correct_v)) with its bootstrap interval (pp).

    One right and one wrong pseudo-record join each set in the resamples (weight: the mean weight).

    Example:
        >>> weighted_gap([1, 1, 1, 1], [1, 0, 0, 0], [3, 1, 1, 1], seed=0).value
        50.0
    """
    c_f, c_v, w_v = (np.asarray(a, dtype=np.float64) for a in (correct_f, correct_v, weights_v))
    value = 100 * (c_f.mean() - (w_v * c_v).sum() / w_v.sum())
    pf, pv = np.r_[c_f, 1.0, 0.0], np.r_[c_v, 1.0, 0.0]
    pw = np.r_[w_v, w_v.mean(), w_v.mean()]
    rng = numpy_rng(seed, "verdict_gap")
    kf, kv = _counts(len(pf), rng, n_boot), _counts(len(pv), rng, n_boot) * pw
    boot = 100 * (kf @ pf / kf.sum(1) - kv @ pv / kv.sum(1))
    return _percentiles(boot, value)


def weighted_mean(correct, weights, *, seed: int, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """100 × the weighted mean of ``correct`` with its bootstrap interval (percent).

    As in ``weighted_gap``, one right and one wrong pseudo-record join the resamples: a class
    predicted on none of 100 held-out records is not shown to be predicted on none of all of them.

    Example:
        >>> weighted_mean([1, 0, 0, 0], [3, 1, 1, 1], seed=0).value
        50.0
    """
    c, w = np.asarray(correct, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    pc, pw = np.r_[c, 1.0, 0.0], np.r_[w, w.mean(), w.mean()]
    k = _counts(len(pc), numpy_rng(seed, "verdict_mean"), n_boot) * pw
    return _percentiles(100 * (k @ pc) / k.sum(1), 100 * float((w * c).sum() / w.sum()))


def weighted_auc(loss_f, loss_v, weights_v, *, seed: int, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """P(loss_f < loss_v) + ½·P(equal), V_f weighted, with its bootstrap interval.

    Example:
        >>> weighted_auc([0.1, 0.2], [0.15, 0.3], [1.0, 3.0], seed=0).value
        0.875
    """
    lf, lv, w = (np.asarray(a, dtype=np.float64) for a in (loss_f, loss_v, weights_v))
    order = np.argsort(lv, kind="stable")
    sv = lv[order]
    left, right = np.searchsorted(sv, lf, side="left"), np.searchsorted(sv, lf, side="right")

    def auc(kf: np.ndarray, kv: np.ndarray) -> np.ndarray:  # kf: (B, n_f), kv: (B, n_v) weights
        kv = kv[:, order]
        cum = np.concatenate([np.zeros((kv.shape[0], 1)), np.cumsum(kv, axis=1)], axis=1)  # (B, n_v + 1)
        above, equal = cum[:, -1:] - cum[:, right], cum[:, right] - cum[:, left]  # (B, n_f)
        return ((above + 0.5 * equal) * kf).sum(1) / (kf.sum(1) * cum[:, -1])

    value = float(auc(np.ones((1, len(lf))), w[None, :])[0])
    rng = numpy_rng(seed, "verdict_auc")
    boot = auc(_counts(len(lf), rng, n_boot), _counts(len(lv), rng, n_boot) * w)
    return _percentiles(boot, value)


def paired_loss(before, after, *, seed: int, tag: str, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """100 × mean(before − after) over paired records, with its paired bootstrap interval.

    Example:
        >>> paired_loss([1, 1, 1, 1], [1, 1, 0, 0], seed=0, tag="t").value
        50.0
    """
    d = np.asarray(before, dtype=np.float64) - np.asarray(after, dtype=np.float64)
    rng = numpy_rng(seed, "verdict_paired", tag)
    boot = 100 * (_counts(len(d), rng, n_boot) @ d) / len(d)
    return _percentiles(boot, 100 * float(d.mean()))


# ------------------------------------------------------------------------------ questions
def forget_question(correct_f, correct_v, weights_v, loss_f, loss_v, *, margins: Margins, seed: int,
                    whole_class: bool = False) -> Question:
    """"Forgotten?" without a golden model: D_f against V_f (weighted) under θ_u.

    ``status``: ``forgotten`` (gap inside ±margin, the AUC not below its margin and, for a whole
    class, the class predicted on fewer held-out records than its margin), ``not_forgotten``,
    ``over_forgotten`` or ``inconclusive``.
    """
    n_f = len(np.asarray(correct_f))
    gap = Stat("acc_gap", weighted_gap(correct_f, correct_v, weights_v, seed=seed), margins.acc_gap, "both", n_f)
    auc = Stat("loss_auc", weighted_auc(loss_f, loss_v, weights_v, seed=seed), margins.auc, "lower", n_f, "", 0.5)
    stats = [gap, auc]
    if whole_class:
        n_v = len(np.asarray(correct_v))
        acc = weighted_mean(correct_v, weights_v, seed=seed)
        stats.append(Stat("heldout_class_acc", acc, margins.class_acc, "upper", n_v, "%"))
    return Question("forget", forget_status(*stats), tuple(stats))


def forget_status(gap: Stat, auc: Stat | None = None, class_acc: Stat | None = None) -> str:
    """The "Forgotten?" answer of the gap, the AUC (the over-forgetting detector) and, for a whole
    class, the accuracy on its held-out records (each when given)."""
    g = gap.position()
    c = class_acc.position() if class_acc is not None else "inside"
    if g == "above" or c == "above":
        return "not_forgotten"
    if g == "below" or (auc is not None and auc.position() == "below"):
        return "over_forgotten"
    if g == "inside" and c == "inside" and (auc is None or auc.position() == "inside"):
        return "forgotten"
    return "inconclusive"


def kept_question(retained: tuple[Any, Any, Any, Any], heldout: tuple[Any, Any], *, margins: Margins,
                  seed: int) -> Question:
    """"Still the same model on what was kept?": reference (θ_o, or θ_g) against θ_u, paired.

    Args:
        retained: ``(correct_ref, correct_u, conf_ref, conf_u)`` on a sample of D_r (conf = p_y in [0, 1]).
        heldout: ``(correct_ref, correct_u)`` on the held-out records of the kept classes.

    ``status``: ``kept`` (every loss below its margin), ``damaged`` or ``inconclusive``.
    """
    c_ref, c_u, p_ref, p_u = retained
    n_r, n_h = len(np.asarray(c_ref)), len(np.asarray(heldout[0]))
    stats = [Stat("retained_acc_lost", paired_loss(c_ref, c_u, seed=seed, tag="acc_r"), margins.retained_acc_lost,
                  "upper", n_r),
             Stat("retained_conf_lost", paired_loss(p_ref, p_u, seed=seed, tag="conf_r"), margins.retained_conf_lost,
                  "upper", n_r)]
    if n_h:
        stats.append(Stat("heldout_acc_lost", paired_loss(*heldout, seed=seed, tag="acc_v"), margins.heldout_acc_lost,
                          "upper", n_h))
    return Question("kept", kept_status(stats), tuple(stats))


def kept_status(stats) -> str:
    """``damaged`` when a loss lies wholly above its margin, ``kept`` when all lie below, else ``inconclusive``."""
    pos = [s.position() for s in stats]
    return "damaged" if "above" in pos else "kept" if all(p == "inside" for p in pos) else "inconclusive"


def combine(forget: Question, kept: Question, *, margins: Margins, basis: str) -> Verdict:
    """The verdict of the two answers: a decided problem first (damaged, then not forgotten or
    over-forgotten), then ``forgotten`` when both answers are inside their margins, else
    ``inconclusive``. Damage leads: a damaged model is worse for every user, whatever it forgot."""
    flags = tuple(s for s in ("damaged" if kept.status == "damaged" else None,
                              forget.status if forget.status in ("not_forgotten", "over_forgotten") else None) if s)
    if flags:
        verdict = flags[0]
    elif forget.status == "forgotten" and kept.status == "kept":
        verdict = "forgotten"
    else:
        verdict = "inconclusive"
    needed: dict[str, int | None] = {}
    if verdict == "inconclusive":
        for q in (forget, kept):
            for s in q.stats:
                if s.position() == "straddles":
                    key = NEEDED_KEYS.get(s.name, "deleted" if q.name == "forget" else s.name.split("_")[0])
                    r = s.records_needed()
                    needed[key] = None if r is None or needed.get(key, 0) is None else max(needed.get(key, 0), r)
    return Verdict(verdict, forget, kept, flags, basis, margins, needed)


def golden_free_verdict(forget_scores: tuple, retained: tuple, heldout: tuple, *, margins: Margins,
                        seed: int = 0, whole_class: bool = False) -> Verdict:
    """The verdict without a golden model.

    Args:
        forget_scores: ``(correct_f, correct_v, weights_v, loss_f, loss_v)`` under θ_u.
        retained: ``(correct_o, correct_u, conf_o, conf_u)`` on a seeded sample of D_r.
        heldout: ``(correct_o, correct_u)`` on the held-out records of the kept classes.
        margins: the margins (``unlearnkit.deletion.margins.load_margins()``).
        seed: seeds every bootstrap.
        whole_class: the request deletes every record of its classes (adds ``heldout_class_acc``).
    """
    f = forget_question(*forget_scores, margins=margins, seed=seed, whole_class=whole_class)
    return combine(f, kept_question(retained, heldout, margins=margins, seed=seed), margins=margins,
                   basis="golden-free")


def golden_verdict(correct_f_golden, correct_f_u, retained: tuple, heldout: tuple, *, margins: Margins,
                   seed: int = 0) -> Verdict:
    """The verdict against a golden model θ_g: acc(θ_u, D_f) − acc(θ_g, D_f) (paired) inside
    ±margin, and θ_g (instead of θ_o) as the reference of what was kept."""
    diff = paired_loss(correct_f_u, correct_f_golden, seed=seed, tag="acc_f_golden")
    gap = Stat("acc_vs_golden", diff, margins.acc_gap, "both", len(np.asarray(correct_f_u)))
    f = Question("forget", forget_status(gap, None), (gap,))
    return combine(f, kept_question(retained, heldout, margins=margins, seed=seed), margins=margins, basis="golden")


__all__ = ["Question", "Stat", "VERDICTS", "VERDICT_TITLES", "Verdict", "combine", "forget_question", "forget_status",
           "golden_free_verdict", "golden_verdict", "kept_question", "kept_status", "paired_loss", "weighted_auc",
           "weighted_gap", "weighted_mean"]
