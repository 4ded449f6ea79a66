"""Evidence without retraining: did the deleted records become like records the model never saw?

Built on the golden-free metrics of METRICS.md (``heldout_auc``, ``heldout_acc_gap``,
``heldout_class_acc``, computed by ``evaluate`` on the split's D_f and V_f), for the model before
and after unlearning, plus plain accuracies on the deleted, retained and held-out records.

The verdict (constants below, one place):

1. *State* of a model. Whole-class requests: the class is unseen when the 95% interval of
   ``heldout_class_acc`` reaches down to ``CLASS_ACC_LIMIT`` (a model retrained without a class
   predicts it on almost none of V_f). Scattered records: unseen when the interval of
   ``heldout_acc_gap`` contains 0; *trained on* when it lies above 0. Either shape is
   *over-forgotten* when the gap's interval lies below 0 or ``heldout_auc``'s below 0.5 (METRICS.md:
   the accuracy gap is the primary statistic, the AUC the over-forgetting detector).
2. *Change*: whether the evidence tells the result from the model before unlearning. The paired
   bootstrap interval of Δ heldout_acc_gap (after − before, both models on the same D_f and V_f)
   must exclude 0 (for a whole class: the interval of ``heldout_class_acc`` after must exclude its
   value before). Identical weights or identical predictions on D_f are unchanged outright.
3. Verdict: ``forgotten`` (before trained on, after unseen, changed), ``not_forgotten`` (after
   trained on), ``over_forgotten``, ``unseen_before`` (the records already looked unseen, so the
   evidence cannot show anything was removed), ``inconclusive`` (after looks unseen but the change
   is within the noise), ``no_evidence`` (too few records: each statistic needs 30 in D_f and V_f).

Warnings: the result is indistinguishable from the model before; accuracy on held-out records of
the classes that keep retained records fell by more than ``UTILITY_DROP_PP`` points (utility; a
fall on the retained *training* records alone is not one: retraining lowers it too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unlearnkit.metrics import evaluate
from unlearnkit.metrics.accuracy import accuracy
from unlearnkit.metrics.context import compute_logits
from unlearnkit.metrics.heldout import MIN_HELDOUT, mean_difference, per_sample_correct

#: The golden-free metrics of the evidence, as METRICS.md defines them.
EVIDENCE_METRICS = ("heldout_auc", "heldout_acc_gap", "heldout_class_acc")
#: A whole class counts as unseen when heldout_class_acc's interval reaches down to this (percent).
CLASS_ACC_LIMIT = 5.0
#: Accuracy falls (percentage points) on held-out records of the kept classes above this are warned about.
UTILITY_DROP_PP = 2.0

VERDICT_TITLES = {
    "forgotten": "Forgotten",
    "not_forgotten": "Not forgotten",
    "over_forgotten": "Over-forgotten",
    "unseen_before": "Looks unseen, as before",
    "inconclusive": "Inconclusive",
    "no_evidence": "No evidence",
}


@dataclass
class Evidence:
    """The golden-free evidence of one deletion request.

    Attributes:
        shape: ``"class"`` (every training record of some classes) or ``"scattered"``.
        classes: the class names of a whole-class request.
        sizes: records in D_f (``deleted``), D_r (``retained``), V of the classes that keep retained
            records (``heldout``), V_f (``heldout_forget``) and all of V (``heldout_all``).
        metrics: name -> ``{"before": {"value", "low", "high"} | None, "after": ..., "absent": reason | None}``.
        change: the paired interval of Δ heldout_acc_gap ``{"value", "low", "high"}``, or ``None``.
        accuracy: ``{"deleted" | "retained" | "heldout" | "heldout_forget": {"before": %, "after": %}}``:
            D_f, D_r, the held-out records of the classes that keep retained records, and V_f.
        verdict: a key of ``VERDICT_TITLES``; ``verdict_text`` says it in a sentence.
        warnings: plain sentences.
        heldout_note: where the held-out records came from.
        seed: the seed of the bootstrap intervals.
        destroyed: the unlearned model's outputs are NaN or infinite.
    """

    shape: str
    classes: list[str]
    sizes: dict[str, int]
    metrics: dict[str, dict[str, Any]]
    change: dict[str, float] | None
    accuracy: dict[str, dict[str, float | None]]
    verdict: str
    verdict_text: str
    warnings: list[str] = field(default_factory=list)
    heldout_note: str = ""
    seed: int = 0
    destroyed: bool = False

    @property
    def title(self) -> str:
        return VERDICT_TITLES[self.verdict]

    def value(self, metric: str, which: str = "after") -> float | None:
        est = self.metrics.get(metric, {}).get(which)
        return None if est is None else est["value"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape, "classes": list(self.classes), "sizes": dict(self.sizes),
            "metrics": self.metrics, "change": self.change, "accuracy": self.accuracy,
            "verdict": self.verdict, "verdict_title": self.title, "verdict_text": self.verdict_text,
            "warnings": list(self.warnings), "heldout_note": self.heldout_note, "seed": self.seed,
            "destroyed": self.destroyed,
        }


def _est(report, row: str, name: str) -> dict[str, float] | None:
    value = report.rows.get(row, {}).get(name)
    if value is None:
        return None
    low, high = report.intervals.get(row, {}).get(name, (value, value))
    return {"value": float(value), "low": float(low), "high": float(high)}


def _state(metrics: dict[str, dict[str, Any]], which: str, shape: str) -> str:
    auc, gap, cls = (metrics[n].get(which) for n in EVIDENCE_METRICS)
    if (gap is not None and gap["high"] < 0) or (auc is not None and auc["high"] < 0.5):
        return "over_forgotten"
    if shape == "class" and cls is not None:
        return "unseen" if cls["low"] <= CLASS_ACC_LIMIT else "trained_on"
    if gap is None:
        return "no_evidence"
    return "trained_on" if gap["low"] > 0 else "unseen"


def _fmt(est: dict[str, float] | None, unit: str = "") -> str:
    if est is None:
        return "absent"
    digits = 3 if unit == "" else 1
    return f"{est['value']:.{digits}f}{unit} [{est['low']:.{digits}f}, {est['high']:.{digits}f}]"


def compute_evidence(before: nn.Module, after: nn.Module, split, *, shape: str, classes: list[str] | None = None,
                     seed: int = 0, device: str | torch.device = "cpu", weights_changed: bool = True) -> Evidence:
    """The evidence of one request: golden-free metrics and accuracies of ``before`` and ``after``.

    Args:
        before: the model the request started from.
        after: the unlearned model.
        split: the request's ``Split`` (D_f = the deleted records; the dataset carries V).
        shape: ``"class"`` or ``"scattered"`` (``unlearnkit.deletion.auto.request_shape``).
        classes: the names of the classes of a whole-class request.
        seed: seeds the bootstrap intervals.
        device: where the models run.
        weights_changed: ``False`` when ``after`` has exactly the weights of ``before``.

    Returns:
        The ``Evidence`` with its verdict.

    Example:
        >>> ev = compute_evidence(original, unlearned, split, shape="scattered")  # doctest: +SKIP
        >>> ev.verdict, ev.value("heldout_acc_gap")  # doctest: +SKIP
        ('forgotten', 0.67)
    """
    report = evaluate(after, split, original=before, metrics=EVIDENCE_METRICS, seed=seed, device=device)
    metrics: dict[str, dict[str, Any]] = {}
    for name in EVIDENCE_METRICS:
        entry = {"before": _est(report, "original", name), "after": _est(report, "unlearned", name), "absent": None}
        if entry["after"] is None:
            entry["absent"] = report.absent.get(name) or report.row_absent.get("unlearned", {}).get(name)
        metrics[name] = entry

    subsets = {"forget": split.subset("forget"), "retain": split.subset("retain")}
    if split.val is not None:
        subsets["val_forget"] = split.subset("val_forget")
        kept = torch.unique(subsets["retain"].labels)
        val = split.subset("val")
        subsets["val_kept"] = val.take(torch.nonzero(torch.isin(val.labels, kept)).flatten())
    logits = {}
    for which, model in (("before", before), ("after", after)):
        for part in ("forget", "retain", "val_kept", "val_forget"):
            sub = subsets.get(part)
            logits[which, part] = (compute_logits(model, sub, device=device), sub.labels) if sub is not None and len(sub) \
                else None
    broken = [w for (w, _), v in logits.items() if v is not None and not bool(torch.isfinite(v[0]).all())]
    for w in broken:  # a method that destroyed the model: no accuracies, no statistics of it
        for key in list(logits):
            if key[0] == w:
                logits[key] = None
    acc = {}
    for label, part in (("deleted", "forget"), ("retained", "retain"), ("heldout", "val_kept"),
                        ("heldout_forget", "val_forget")):
        acc[label] = {w: (None if logits[w, part] is None else accuracy(*logits[w, part])) for w in ("before", "after")}

    change = None
    n_f, n_v = len(split.forget), 0 if split.val_forget is None else len(split.val_forget)
    if min(n_f, n_v) >= MIN_HELDOUT and not broken:
        d_f = per_sample_correct(*logits["after", "forget"]) - per_sample_correct(*logits["before", "forget"])
        d_v = per_sample_correct(*logits["after", "val_forget"]) - per_sample_correct(*logits["before", "val_forget"])
        est = mean_difference(d_f, d_v, seed=seed, tag="heldout_acc_gap_change")
        change = {"value": 100 * est.value, "low": 100 * est.low, "high": 100 * est.high}

    same_predictions = not broken and bool(torch.equal(logits["before", "forget"][0].argmax(1), logits["after", "forget"][0].argmax(1))
                            and torch.allclose(logits["before", "forget"][0], logits["after", "forget"][0]))
    before_state, after_state = _state(metrics, "before", shape), _state(metrics, "after", shape)
    if not weights_changed or same_predictions:
        changed: bool | None = False
    elif shape == "class" and metrics["heldout_class_acc"]["after"] is not None \
            and metrics["heldout_class_acc"]["before"] is not None:
        a, b = metrics["heldout_class_acc"]["after"], metrics["heldout_class_acc"]["before"]
        changed = not (a["low"] <= b["value"] <= a["high"])
    elif change is not None:
        changed = not (change["low"] <= 0 <= change["high"])
    else:
        changed = None

    gap_after, gap_before = metrics["heldout_acc_gap"]["after"], metrics["heldout_acc_gap"]["before"]
    cls_after = metrics["heldout_class_acc"]["after"]
    if "after" in broken:
        verdict = "no_evidence"
        text = ("The unlearned model's outputs are NaN or infinite: the method destroyed the model. Do not deploy it; "
                "try another method or other parameters.")
    elif after_state == "no_evidence":
        verdict = "no_evidence"
        why = metrics["heldout_acc_gap"]["absent"] or "the golden-free metrics are absent"
        text = (f"{why[:1].upper() + why[1:]}. "
                f"Each statistic needs at least {MIN_HELDOUT} deleted records and {MIN_HELDOUT} held-out records of "
                "their classes.")
    elif after_state == "over_forgotten":
        verdict = "over_forgotten"
        text = ("The deleted records now look less familiar to the model than records it never saw "
                f"(heldout_acc_gap {_fmt(gap_after, ' pp')}, heldout_auc {_fmt(metrics['heldout_auc']['after'])}); "
                "that difference itself tells an attacker the records were special.")
    elif after_state == "trained_on":
        verdict = "not_forgotten"
        if shape == "class" and cls_after is not None:
            text = (f"The model still predicts the deleted class on held-out records "
                    f"(heldout_class_acc {_fmt(cls_after, '%')}); a model retrained without it would not.")
        else:
            text = ("The model still fits the deleted records better than records it never saw "
                    f"(heldout_acc_gap {_fmt(gap_after, ' pp')}, interval above 0).")
    elif before_state == "unseen":
        verdict = "unseen_before"
        text = ("The deleted records look like records the model never saw, but they already did before unlearning "
                f"(heldout_acc_gap before {_fmt(gap_before, ' pp')}, after {_fmt(gap_after, ' pp')}): the evidence "
                "can neither show that the method removed anything nor that anything needed removing.")
    elif changed is False or changed is None:
        verdict = "inconclusive"
        text = ("The deleted records now look like records the model never saw "
                f"(heldout_acc_gap {_fmt(gap_after, ' pp')}), but the change from before is within the noise "
                f"(Δ {_fmt(change, ' pp')}). A larger request or a larger held-out slice would decide.")
    else:
        verdict = "forgotten"
        if shape == "class" and cls_after is not None:
            text = (f"The model no longer predicts the deleted class on held-out records "
                    f"(heldout_class_acc {_fmt(cls_after, '%')}, before "
                    f"{_fmt(metrics['heldout_class_acc']['before'], '%')}), as a model retrained without it would.")
        else:
            text = ("The model now treats the deleted records like records it never saw "
                    f"(heldout_acc_gap {_fmt(gap_after, ' pp')}, before {_fmt(gap_before, ' pp')}; "
                    f"Δ {_fmt(change, ' pp')}).")

    warnings = []
    if not weights_changed:
        warnings.append("The weights did not change: the result is the model before unlearning, bit for bit.")
    elif same_predictions:
        warnings.append("The model's outputs on the deleted records did not change: the result is "
                        "indistinguishable from the model before unlearning.")
    elif changed is False:
        what = (f"heldout_class_acc after {_fmt(cls_after, '%')} contains its value before"
                if shape == "class" and cls_after is not None else f"Δ heldout_acc_gap {_fmt(change, ' pp')} contains 0")
        warnings.append(f"Indistinguishable from the model before unlearning: {what}. On this evidence the method "
                        "may have done nothing.")
    if metrics["heldout_auc"]["after"] is not None and metrics["heldout_auc"]["after"]["low"] > 0.5 \
            and verdict in ("forgotten", "unseen_before", "inconclusive"):
        warnings.append("The per-record losses still tell the deleted records from held-out ones (heldout_auc "
                        f"{_fmt(metrics['heldout_auc']['after'])}, interval above 0.5), although accuracy does not.")
    a = acc["heldout"]
    if a["before"] is not None and a["after"] is not None and a["before"] - a["after"] > UTILITY_DROP_PP:
        warnings.append(f"Accuracy on held-out records of the kept classes fell from {a['before']:.1f}% to "
                        f"{a['after']:.1f}% ({a['after'] - a['before']:+.1f} points): the model lost utility.")
    sizes = {"deleted": len(split.forget), "retained": len(split.retain),
             "heldout": len(subsets["val_kept"]) if "val_kept" in subsets else 0, "heldout_forget": n_v,
             "heldout_all": 0 if split.val is None else len(split.val)}
    return Evidence(shape=shape, classes=list(classes or []), sizes=sizes, metrics=metrics, change=change,
                    accuracy=acc, verdict=verdict, verdict_text=text, warnings=warnings,
                    heldout_note=split.dataset.val_note, seed=seed, destroyed="after" in broken)


def identical_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models have exactly the same parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


__all__ = ["CLASS_ACC_LIMIT", "EVIDENCE_METRICS", "Evidence", "UTILITY_DROP_PP", "VERDICT_TITLES",
           "compute_evidence", "identical_weights"]
