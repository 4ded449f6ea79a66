"""The evidence of one deletion request: the verdict (``unlearnkit.deletion.verdict``) and the
numbers a reader checks it with.

Without a retrained model the verdict is golden-free: D_f against V_f (every held-out record of
D_f's classes, weighted to D_f's class proportions) under the unlearned model, and the kept
records under the unlearned model against the model before. With a retrained (golden) model the
verdict comes from the comparison with it, and the golden-free verdict is kept beside it. Every
sentence of ``verdict_text`` is built from the intervals it cites, so none contradicts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.deletion.judge import check_heldout, model_scores, verdict_from_scores, verdict_parts
from unlearnkit.deletion.margins import Margins, load_margins
from unlearnkit.deletion.verdict import VERDICT_TITLES, Verdict, forget_question
from unlearnkit.metrics.context import compute_logits

#: The statistics of the verdict (the "Forgotten?" and the "kept" questions), as the report names them.
EVIDENCE_METRICS = ("acc_gap", "loss_auc", "retained_acc_lost", "retained_conf_lost", "heldout_acc_lost")
LABELS = {"acc_gap": "accuracy gap, deleted − held-out", "loss_auc": "loss AUC, deleted vs held-out",
          "acc_vs_golden": "accuracy on deleted records, after − retrained",
          "heldout_class_acc": "accuracy on held-out records of the deleted classes",
          "retained_acc_lost": "accuracy lost on retained records", "retained_conf_lost":
          "confidence lost on retained records", "heldout_acc_lost": "accuracy lost on held-out records"}


@dataclass
class Evidence:
    """The evidence of one deletion request.

    Attributes:
        shape: ``"class"`` (every training record of some classes) or ``"scattered"``.
        classes: the class names of a whole-class request.
        sizes: records in D_f (``deleted``), D_r (``retained``) and its sample (``retained_sample``), V of
            the kept classes (``heldout``), V_f (``heldout_forget``) and all of V (``heldout_all``).
        verdict: a key of ``VERDICT_TITLES``; ``verdict_text`` says it in sentences.
        basis: ``"golden-free"`` or ``"golden"`` (from the comparison with a retrained model).
        detail: the ``Verdict`` as a dict (both questions, every interval, the margins).
        golden_free: with a golden model, the golden-free verdict beside it (a dict), else ``None``.
        before: the "Forgotten?" statistics of the model before unlearning (a dict).
        accuracy: ``{"deleted" | "retained" | "heldout" | "heldout_forget": {"before": %, "after": %}}``
            (V_f weighted to D_f's class proportions).
        warnings: plain sentences. ``margins``: the one-line statement of the margins and their source.
        destroyed: the unlearned model's outputs are NaN or infinite.
    """

    shape: str
    classes: list[str]
    sizes: dict[str, int]
    verdict: str
    verdict_text: str
    basis: str
    detail: dict[str, Any]
    golden_free: dict[str, Any] | None
    before: dict[str, Any] | None
    accuracy: dict[str, dict[str, float | None]]
    margins: str
    warnings: list[str] = field(default_factory=list)
    heldout_note: str = ""
    seed: int = 0
    destroyed: bool = False

    @property
    def title(self) -> str:
        return VERDICT_TITLES.get(self.verdict, "No verdict")

    def stat(self, name: str) -> dict[str, Any] | None:
        """One statistic of the verdict (``acc_gap``, ``heldout_acc_lost``...) as a dict, or ``None``."""
        for q in ("forget", "kept"):
            for s in self.detail.get(q, {}).get("stats", []):
                if s["name"] == name:
                    return s
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "classes": list(self.classes), "sizes": dict(self.sizes),
                "verdict": self.verdict, "verdict_title": self.title, "verdict_text": self.verdict_text,
                "basis": self.basis, "detail": self.detail, "golden_free": self.golden_free, "before": self.before,
                "accuracy": self.accuracy, "margins": self.margins, "warnings": list(self.warnings),
                "heldout_note": self.heldout_note, "seed": self.seed, "destroyed": self.destroyed}


def fmt(s: dict[str, Any]) -> str:
    """``value [low, high]`` with the statistic's unit."""
    d = 3 if s.get("unit", " pp") == "" else 1
    return f"{s['value']:.{d}f}{s.get('unit', ' pp')} [{s['low']:.{d}f}, {s['high']:.{d}f}]"


def _zone(s: dict[str, Any]) -> str:
    t, m = s["target"], s["margin"]
    if s["side"] == "both":
        return f"±{m:g} pp" if s["unit"] else f"{t:g} ± {m:g}"
    return f"{t + m:g}{s['unit']}" if s["side"] == "upper" else f"{t - m:g}"


def _needed(v: dict[str, Any]) -> str:
    parts = []
    for key, n in v["needed"].items():
        if n is None:
            parts.append("one interval is centred on its margin: no number of records would decide it")
        else:
            what = {"deleted": "deleted records", "retained": "retained records (sampled)",
                    "heldout": "held-out records of the kept classes",
                    "heldout_forget": "held-out records of the deleted classes"}.get(key, key)
            parts.append(f"about {n:,} {what} (with as many held-out records of their classes as now)"
                         if key == "deleted" else f"about {n:,} {what}")
    return "; ".join(parts)


def verdict_text(v: dict[str, Any]) -> str:
    """The verdict in sentences, each citing the interval it rests on (``Verdict.to_dict()``)."""
    by = {s["name"]: s for q in ("forget", "kept") for s in v[q]["stats"]}
    golden = v["basis"] == "golden"
    first = by["acc_vs_golden"] if golden else by["acc_gap"]
    lead = "Compared with the model retrained without the deleted records (--retrain): " if golden else ""
    if v["verdict"] == "not_forgotten":
        hit = [s for s in v["forget"]["stats"] if s["position"] == "above"] or [first]
        text = (f"{lead}the model still fits the deleted records better than "
                f"{'the retrained model does' if golden else 'a model retrained without them would'}: "
                + "; ".join(f"{LABELS[s['name']]} {fmt(s)}, wholly above its {_zone(s)} margin" for s in hit) + ".")
    elif v["verdict"] == "over_forgotten":
        low = [s for s in v["forget"]["stats"] if s["position"] == "below"]
        text = (f"{lead}the deleted records now look less familiar than records the model never saw "
                "(" + "; ".join(f"{LABELS[s['name']]} {fmt(s)}, wholly below {_zone(s)}" for s in low)
                + "); that difference itself tells an attacker the records were special.")
    elif v["verdict"] == "damaged":
        hit = [s for s in v["kept"]["stats"] if s["position"] == "above"]
        text = (f"{lead}the model lost what it should have kept: "
                + "; ".join(f"{LABELS[s['name']]} {fmt(s)}, wholly above its {_zone(s)} margin" for s in hit) + ".")
    elif v["verdict"] == "forgotten":
        kept = ", ".join(f"{LABELS[s['name']]} {fmt(s)}" for s in v["kept"]["stats"])
        inside = "; ".join(f"{LABELS[s['name']]} {fmt(s)}" for s in v["forget"]["stats"])
        text = (f"{lead}the deleted records look as a model retrained without them would see them ({inside}: inside "
                f"the margins), and the model kept what it should ({kept}: each below its margin).")
    else:
        open_ = [s for q in ("forget", "kept") for s in v[q]["stats"] if s["position"] == "straddles"]
        text = (f"{lead}the evidence cannot decide: "
                + "; ".join(f"{LABELS[s['name']]} {fmt(s)} straddles its {_zone(s)} margin" for s in open_)
                + f". To decide it: {_needed(v)}.")
    flags = [f for f in v["flags"] if f != v["verdict"]]
    if flags:
        text += " Also " + " and ".join(VERDICT_TITLES[f].lower() for f in flags) + " (see below)."
    return text[0].upper() + text[1:]


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _accuracy(scores: dict[str, dict], weights_v: np.ndarray) -> dict[str, float | None]:
    out = {}
    for label, part in (("deleted", "forget"), ("retained", "retain"), ("heldout", "val_kept")):
        c = scores[part]["correct"]
        out[label] = 100 * float(c.mean()) if len(c) else None
    c = scores["val_forget"]["correct"]
    out["heldout_forget"] = 100 * float(np.average(c, weights=weights_v)) if len(c) else None
    return out


def compute_evidence(before: nn.Module, after: nn.Module, split, *, shape: str, classes: list[str] | None = None,
                     seed: int = 0, device: str | torch.device = "cpu", weights_changed: bool = True,
                     golden: nn.Module | None = None, margins: Margins | None = None) -> Evidence:
    """The evidence of one request: the verdict of ``after`` and the accuracies of both models.

    Args:
        before: the model the request started from.
        after: the unlearned model.
        split: the request's ``Split`` (D_f = the deleted records; the dataset carries V).
        shape: ``"class"`` or ``"scattered"`` (``unlearnkit.deletion.auto.request_shape``).
        classes: the names of the classes of a whole-class request.
        seed: seeds the D_r sample and the bootstrap intervals.
        device: where the models run.
        weights_changed: ``False`` when ``after`` has exactly the weights of ``before``.
        golden: a model retrained without the deleted records: the verdict then comes from it.
        margins: the verdict's margins (default: the package's, ``load_margins()``).

    Returns:
        The ``Evidence`` with its verdict.

    Raises:
        ConfigError: the held-out slice lacks a class of D_f, or holds too few records of them.

    Example:
        >>> ev = compute_evidence(original, unlearned, split, shape="scattered")  # doctest: +SKIP
        >>> ev.verdict, ev.stat("acc_gap")["value"]  # doctest: +SKIP
        ('forgotten', 0.67)
    """
    margins = margins or load_margins()
    check_heldout(split, margins)
    parts = verdict_parts(split, seed)
    sizes = {"deleted": len(split.forget), "retained": len(split.retain), "retained_sample": len(parts.retain),
             "heldout": len(parts.val_kept), "heldout_forget": len(parts.val_forget),
             "heldout_all": len(split.dataset.val_y)}
    base = dict(shape=shape, classes=list(classes or []), sizes=sizes, heldout_note=split.dataset.val_note, seed=seed,
                margins=margins.describe())
    probe = compute_logits(after, split.subset("forget"), device=device)
    if not bool(torch.isfinite(probe).all()):
        text = ("The unlearned model's outputs are NaN or infinite: the method destroyed the model. Do not deploy it; "
                "try another method or other parameters.")
        return Evidence(verdict="destroyed", verdict_text=text, basis="golden-free", detail={}, golden_free=None,
                        before=None, accuracy={}, destroyed=True, **base)
    s_before, s_after = model_scores(before, split, parts, device), model_scores(after, split, parts, device)
    free = verdict_from_scores(s_after, s_before, parts, margins=margins, seed=seed)
    verdict: Verdict = free
    if golden is not None:
        verdict = verdict_from_scores(s_after, model_scores(golden, split, parts, device), parts, margins=margins,
                                      seed=seed, golden=True)
    f_before = forget_question(s_before["forget"]["correct"], s_before["val_forget"]["correct"], parts.weights_v,
                               s_before["forget"]["loss"], s_before["val_forget"]["loss"], margins=margins, seed=seed,
                               whole_class=parts.whole_class)
    acc_b, acc_a = _accuracy(s_before, parts.weights_v), _accuracy(s_after, parts.weights_v)
    accuracy = {k: {"before": acc_b[k], "after": acc_a[k]} for k in acc_b}
    detail = verdict.to_dict()
    warnings = []
    if not weights_changed:
        warnings.append("The weights did not change: the result is the model before unlearning, bit for bit.")
    elif torch.equal(probe, compute_logits(before, split.subset("forget"), device=device)):
        warnings.append("The model's outputs on the deleted records did not change: the result is "
                        "indistinguishable from the model before unlearning on them.")
    for flag in verdict.flags:
        if flag != verdict.verdict:
            warnings.append(f"Also {VERDICT_TITLES[flag].lower()}: " + _lower(verdict_text({**detail, "verdict": flag,
                                                                                              "flags": []})))
    if golden is not None and free.verdict != verdict.verdict:
        warnings.append(f"Without the retrained model the verdict would read {free.title.lower()}: "
                        + _lower(verdict_text({**free.to_dict(), "flags": []})))
    return Evidence(verdict=verdict.verdict, verdict_text=verdict_text(detail), basis=verdict.basis, detail=detail,
                    golden_free=None if golden is None else free.to_dict(), before=f_before.to_dict(),
                    accuracy=accuracy, warnings=warnings, **base)


def identical_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models have exactly the same parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


__all__ = ["EVIDENCE_METRICS", "Evidence", "LABELS", "VERDICT_TITLES", "compute_evidence", "fmt", "identical_weights",
           "verdict_text"]
