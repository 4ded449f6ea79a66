"""The headline metrics of METRICS.md, registered in ``METRICS``: UA, RA, TA, TA_forget, the SVC
membership attack (``mia_efficacy`` and its variants, ``mia_member_recall``), runtime, CPU time,
the speed-ups and ``avg_gap``.

Imported (for its registrations) by ``unlearnkit.metrics``.

Example:
    >>> from unlearnkit.metrics import METRICS
    >>> METRICS.get("ua").card.direction
    'golden'
"""

from __future__ import annotations

from typing import Mapping

from unlearnkit.errors import ConfigError
from unlearnkit.metrics import accuracy as acc
from unlearnkit.metrics import mia
from unlearnkit.metrics.cards import AVG_GAP_METRICS, CLASS_SCENARIOS, MetricAbsent, MetricCard, register_metric


@register_metric(MetricCard("ua", "unlearning accuracy: 100 - acc(theta, D_f)", "golden", "%"))
def _ua(ctx) -> float:
    return acc.unlearning_accuracy(ctx.logits("forget"), ctx.labels("forget"))


@register_metric(MetricCard("ra", "remaining accuracy: acc(theta, D_r), on the retained training samples", "golden", "%"))
def _ra(ctx) -> float:
    return acc.remaining_accuracy(ctx.logits("retain"), ctx.labels("retain"))


@register_metric(
    MetricCard("ta", "test accuracy: acc(theta, D_t) in random scenarios, acc(theta, D_t,r) in class / sub-class scenarios", "golden", "%")
)
def _ta(ctx) -> float:
    return acc.test_accuracy(ctx.logits("test_star"), ctx.labels("test_star"))


@register_metric(
    MetricCard(
        "ta_forget",
        "acc(theta, D_t,f): test accuracy on the forgotten class(es); class / sub-class scenarios only",
        "golden",
        "%",
        CLASS_SCENARIOS,
    )
)
def _ta_forget(ctx) -> float:
    return acc.test_forget_accuracy(ctx.logits("test_forget"), ctx.labels("test_forget"))


def _svc_mia(ctx, feature: str) -> float:
    members = ctx.mia_member_positions()
    ctx.logits("test_star")  # D_t*'s absence is reported first
    failure: Exception | None = None
    try:  # needs only the members of D_r, which can be scored before the rest of it
        zf, yf = ctx.logits("forget"), ctx.labels("forget")
        if len(members) == 0:
            raise MetricAbsent("the SVC attack needs at least one member sample from D_r")
        member_feature, clf = _svc_fit(ctx, feature)
        value = mia.svc_attack(member_feature, None, mia.attack_feature(zf, yf, feature), clf=clf)
    except (MetricAbsent, ConfigError) as exc:
        failure = exc
    ctx.logits("retain")  # absent, with D_r's reason first, when D_r cannot be scored
    if failure is not None:
        raise failure
    return value


def _svc_fit(ctx, feature: str):
    """(the members' feature, the SVC attack fitted on it and D_t*'s), once per context and feature."""

    def fit(c):
        zm, ym = c.member_logits()
        members = mia.attack_feature(zm, ym, feature)
        nonmembers = mia.attack_feature(*c.nonmember_logits(), feature)
        return members, mia.fit_svc_attack(members, nonmembers)

    return ctx.cached(f"svc_attack:{feature}", fit)


_SVC_TEXT = (
    "SVC(C=3, gamma='auto', rbf) on {what}, fitted on equal classes, m = min(|D_t*|, |D_r|): members = seeded "
    "random subset of m samples of D_r (label 1, or the first m with members='first'), non-members = seeded random "
    "subset of m samples of D_t* (label 0); 100 x fraction of D_f predicted non-member"
)


@register_metric(MetricCard("mia_efficacy", _SVC_TEXT.format(what="p_y, the softmax probability of the true label"), "golden", "%"))
def _mia_efficacy(ctx) -> float:
    return _svc_mia(ctx, "confidence")


@register_metric(
    MetricCard(
        "mia_member_recall",
        "100 x fraction of the mia_efficacy attack's own members (its D_r subset) that it predicts member; "
        "a diagnostic of the attack, not of forgetting: near 0 the SVC has collapsed to 'everything "
        "non-member' and mia_efficacy reads 100 whatever D_f looks like (docs/results/random-deletion.md)",
        "golden",
        "%",
    )
)
def _mia_member_recall(ctx) -> float:
    if len(ctx.mia_member_positions()) == 0:
        raise MetricAbsent("the SVC attack needs at least one member sample from D_r")
    member_feature, clf = _svc_fit(ctx, "confidence")
    return mia.svc_member_recall(member_feature, None, clf=clf)


@register_metric(MetricCard("mia_efficacy_entropy", _SVC_TEXT.format(what="the entropy of p"), "golden", "%"))
def _mia_efficacy_entropy(ctx) -> float:
    return _svc_mia(ctx, "entropy")


@register_metric(
    MetricCard(
        "mia_efficacy_mentropy",
        _SVC_TEXT.format(what="the modified entropy of Song & Mittal, -(1-p_y) log p_y - sum_{k!=y} p_k log(1-p_k), per row"),
        "golden",
        "%",
    )
)
def _mia_efficacy_mentropy(ctx) -> float:
    return _svc_mia(ctx, "mentropy")


@register_metric(MetricCard("mia_efficacy_correct", _SVC_TEXT.format(what="correctness 1[argmax p = y]"), "golden", "%"))
def _mia_efficacy_correct(ctx) -> float:
    return _svc_mia(ctx, "correct")


@register_metric(
    MetricCard(
        "runtime_s",
        "wall seconds of the unlearning method alone (no evaluation, no data loading before it starts); "
        "for the golden model its training time",
        "lower",
        "s",
    )
)
def _runtime_s(ctx) -> float:
    if ctx.runtime_s is None:
        raise MetricAbsent("runtime_s was not given (pass runtime_s= for the model, reference_runtime_s= for the golden model)")
    return float(ctx.runtime_s)


@register_metric(
    MetricCard("speedup", "runtime_s(golden) / runtime_s(theta): how much cheaper than retraining", "higher", "x"),
    level="report",
    needs=("runtime_s",),
)
def _speedup(row: Mapping[str, float], golden: Mapping[str, float] | None) -> float:
    if golden is None:
        raise MetricAbsent("speedup needs a reference (golden) model with its runtime")
    if "runtime_s" not in golden:
        raise MetricAbsent("speedup needs the golden model's training time (pass reference_runtime_s=)")
    if "runtime_s" not in row:
        raise MetricAbsent("speedup needs this model's runtime_s (pass runtime_s=)")
    if row["runtime_s"] <= 0:
        raise MetricAbsent(f"speedup is undefined for runtime_s = {row['runtime_s']}")
    return golden["runtime_s"] / row["runtime_s"]


@register_metric(
    MetricCard(
        "avg_gap",
        "mean of |ua - ua_g|, |ra - ra_g|, |ta - ta_g|, |mia_efficacy - mia_efficacy_g|: one number to rank methods",
        "lower",
        "pp",
    ),
    level="report",
    needs=AVG_GAP_METRICS,
)
def _avg_gap(row: Mapping[str, float], golden: Mapping[str, float] | None) -> float:
    if golden is None:
        raise MetricAbsent("avg_gap needs a reference (golden) model")
    missing = [m for m in AVG_GAP_METRICS if m not in row or m not in golden]
    if missing:
        raise MetricAbsent(f"avg_gap needs {', '.join(missing)} for both this model and the golden model")
    return sum(abs(row[m] - golden[m]) for m in AVG_GAP_METRICS) / len(AVG_GAP_METRICS)


@register_metric(
    MetricCard(
        "cpu_s",
        "process CPU seconds of the unlearning method alone (every thread of the process; for the golden model its "
        "training); unlike runtime_s, two jobs sharing the cores barely change it",
        "lower",
        "s",
    )
)
def _cpu_s(ctx) -> float:
    if ctx.cpu_s is None:
        raise MetricAbsent("cpu_s was not given (pass cpu_s= for the model, reference_cpu_s= for the golden model)")
    return float(ctx.cpu_s)


@register_metric(
    MetricCard("cpu_speedup", "cpu_s(golden) / cpu_s(theta): how much cheaper than retraining, in CPU time", "higher", "x"),
    level="report",
    needs=("cpu_s",),
)
def _cpu_speedup(row: Mapping[str, float], golden: Mapping[str, float] | None) -> float:
    if golden is None or "cpu_s" not in golden:
        raise MetricAbsent("cpu_speedup needs the golden model's training CPU time (pass reference_cpu_s=)")
    if row.get("cpu_s", 0.0) <= 0:
        raise MetricAbsent("cpu_speedup needs this model's cpu_s > 0 (pass cpu_s=)")
    return golden["cpu_s"] / row["cpu_s"]
