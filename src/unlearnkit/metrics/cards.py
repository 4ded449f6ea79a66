"""Metric cards and the ``METRICS`` registry: one name, one definition, one direction per metric.

Every metric of METRICS.md ("Headline" and "Secondary" sections) is registered here as a
``MetricEntry``: its ``MetricCard`` plus the function that computes it; the golden-free evidence
metrics (``heldout_*``) are registered beside their statistics in ``unlearnkit.metrics.heldout``. Model-level metrics are
computed from an evaluation context of one model (``unlearnkit.metrics.context.EvalContext``);
report-level metrics (``speedup``, ``avg_gap``) are derived from a model's row and the golden row.

Adding a metric is one ``@register_metric(MetricCard(...))`` on a function of the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from unlearnkit.errors import ConfigError
from unlearnkit.metrics import accuracy as acc
from unlearnkit.metrics import divergence as div
from unlearnkit.metrics import mia
from unlearnkit.registry import Registry

SCENARIOS = ("random", "class", "subclass", "indices")
CLASS_SCENARIOS = ("class", "subclass")
LEVELS = ("model", "report")


class MetricAbsent(Exception):
    """Raised by a metric's compute function when the metric cannot be computed; carries the reason.

    ``evaluate`` turns it into an entry of ``Report.absent`` (never a value of 0).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MetricCard:
    """What a metric means, printed next to every table that shows it.

    Attributes:
        name: the registry name, e.g. ``"ua"``.
        definition: the definition of METRICS.md in one or two sentences.
        direction: ``"golden"`` (closer to the golden model is better), ``"lower"``, ``"higher"``
            or ``"target:<number>"`` (closer to that number is better).
        unit: ``"%"``, ``"s"``, ``"x"``, ``"nats"``, ``"pp"`` (percentage points) or ``""``.
        scenarios: the forget scenarios in which the metric is defined.

    Example:
        >>> card = MetricCard("ua", "100 - acc(theta, D_f)", "golden", "%")
        >>> card.direction_text
        'closer to the golden model is better'
        >>> MetricCard("x", "d", "target:50", "%").target
        50.0
    """

    name: str
    definition: str
    direction: str
    unit: str
    scenarios: tuple[str, ...] = SCENARIOS

    def __post_init__(self) -> None:
        if self.direction not in ("golden", "lower", "higher"):
            ok = False
            if self.direction.startswith("target:"):
                try:
                    float(self.direction.split(":", 1)[1])
                    ok = True
                except ValueError:
                    ok = False
            if not ok:
                raise ConfigError(
                    f"MetricCard {self.name!r}: direction must be 'golden', 'lower', 'higher' or 'target:<number>'; "
                    f"got {self.direction!r}."
                )
        bad = [s for s in self.scenarios if s not in SCENARIOS]
        if bad or not self.scenarios:
            raise ConfigError(f"MetricCard {self.name!r}: scenarios must be a non-empty subset of {SCENARIOS}; got {self.scenarios!r}.")
        object.__setattr__(self, "scenarios", tuple(self.scenarios))

    @property
    def target(self) -> float | None:
        """The target value of a ``"target:<x>"`` direction, else ``None``."""
        return float(self.direction.split(":", 1)[1]) if self.direction.startswith("target:") else None

    @property
    def direction_text(self) -> str:
        """The direction in words."""
        if self.direction == "golden":
            return "closer to the golden model is better"
        if self.direction == "lower":
            return "lower is better"
        if self.direction == "higher":
            return "higher is better"
        return f"closer to {self.target:g} is better"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "definition": self.definition,
            "direction": self.direction,
            "unit": self.unit,
            "scenarios": list(self.scenarios),
        }

    def __str__(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.name}{unit}: {self.definition} ({self.direction_text})"


@dataclass(frozen=True)
class MetricEntry:
    """A registered metric: its card and how to compute it.

    Attributes:
        card: the ``MetricCard``.
        compute: for ``level="model"``, ``compute(ctx) -> float`` on an evaluation context of one
            model; for ``level="report"``, ``compute(row, golden_row) -> float`` on metric rows.
            Either raises ``MetricAbsent(reason)`` when the value cannot be computed.
        level: ``"model"`` or ``"report"``.
        needs: model-level metrics a report-level metric is derived from.
        needs_golden_model: whether the golden model itself (not only its scores) is required.
    """

    card: MetricCard
    compute: Callable[..., float]
    level: str = "model"
    needs: tuple[str, ...] = field(default=())
    needs_golden_model: bool = False

    @property
    def name(self) -> str:
        return self.card.name


#: name -> ``MetricEntry``; ``METRICS.names()`` lists every metric.
METRICS: Registry[MetricEntry] = Registry("metric")

#: The headline protocol of the fine-tuning papers (UA / RA / TA / MIA-Efficacy / RTE) plus the gap.
HEADLINE = ("ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s", "speedup", "avg_gap")
#: The four metrics averaged by ``avg_gap``.
AVG_GAP_METRICS = ("ua", "ra", "ta", "mia_efficacy")


def register_metric(
    card: MetricCard, *, level: str = "model", needs: tuple[str, ...] = (), needs_golden_model: bool = False
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator registering ``compute`` under ``card.name`` in ``METRICS``.

    Example:
        >>> @register_metric(MetricCard("doc_example", "always 1", "higher", ""))  # doctest: +SKIP
        ... def _one(ctx):
        ...     return 1.0
    """
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}; got {level!r}")

    def decorator(compute: Callable[..., float]) -> Callable[..., float]:
        METRICS.register(card.name)(
            MetricEntry(card=card, compute=compute, level=level, needs=tuple(needs), needs_golden_model=needs_golden_model)
        )
        return compute

    return decorator


def cards(names=None) -> dict[str, MetricCard]:
    """The cards of ``names`` (all registered metrics when ``None``), in the given order."""
    names = METRICS.names() if names is None else list(names)
    return {n: METRICS.get(n).card for n in names}


# ============================================================================ headline metrics
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


# =========================================================================== secondary metrics
@register_metric(
    MetricCard(
        "mia_entropy_member_rate",
        "LogisticRegression(class_weight='balanced') on the entropy of p, trained on D_r (1) vs D_t* (0); "
        "100 x fraction of D_f predicted member (the zero-shot paper's 'MIA')",
        "golden",
        "%",
    )
)
def _mia_entropy_member_rate(ctx) -> float:
    return mia.entropy_member_rate(ctx.logits("retain"), ctx.logits("test_star"), ctx.logits("forget"))


@register_metric(
    MetricCard(
        "mia_loss_cv_accuracy",
        "per-sample cross-entropy on D_f (1) and D_t* (0), the larger set subsampled (seeded) to the size of the "
        f"smaller; default LogisticRegression; mean accuracy over {mia.CV_SPLITS} seeded StratifiedShuffleSplit "
        f"splits with test_size={mia.CV_TEST_SIZE} (scikit-learn's default would be 0.1). 50 = chance, the ideal "
        "when D_f behaves like unseen data; in class scenarios the golden model itself is far from 50",
        "golden",
        "%",
    )
)
def _mia_loss_cv_accuracy(ctx) -> float:
    return ctx.cached("mia_loss_cv_accuracy", _loss_cv)


def _loss_cv(ctx) -> float:
    zf, zt = ctx.logits("forget"), ctx.logits("test_star")
    if min(len(zf), len(zt)) < 3:
        raise MetricAbsent(f"mia_loss_cv_accuracy needs at least 3 samples in each of D_f and D_t*; got {len(zf)} and {len(zt)}")
    return mia.loss_cv_accuracy(zf, ctx.labels("forget"), zt, ctx.labels("test_star"), seed=ctx.seed)


@register_metric(
    MetricCard(
        "indiscernibility",
        "1 - |mia_loss_cv_accuracy/100 - 0.5| / 0.5; 1 = D_f indistinguishable from D_t* by its loss",
        "target:1",
        "",
    )
)
def _indiscernibility(ctx) -> float:
    return mia.indiscernibility(ctx.cached("mia_loss_cv_accuracy", _loss_cv))


@register_metric(
    MetricCard(
        "js_to_golden",
        "mean over D_f of the Jensen-Shannon divergence (natural log) between p_theta(x) and p_theta_g(x); needs the golden model itself",
        "lower",
        "nats",
    ),
    needs_golden_model=True,
)
def _js_to_golden(ctx) -> float:
    return div.js_to_golden(ctx.logits("forget"), ctx.golden_logits("forget"))


@register_metric(
    MetricCard(
        "zrf",
        "zero retrain forgetting: 1 - mean over D_f of JS(p_theta(x), p_rand(x)), textbook JS in nats (so in "
        "[1 - ln 2, 1]); p_rand from a deep copy of the model with reset_parameters() called on every module, "
        "seeded by derive_seed(seed, 'zrf'); parameters of modules without reset_parameters() keep their values",
        "golden",
        "",
    )
)
def _zrf(ctx) -> float:
    return div.zrf(ctx.logits("forget"), ctx.random_logits("forget"))


@register_metric(MetricCard("forget_entropy", "mean entropy of p over D_f", "golden", "nats"))
def _forget_entropy(ctx) -> float:
    return div.forget_entropy(ctx.logits("forget"))


@register_metric(
    MetricCard(
        "weight_distance",
        "||theta - theta_g||_2 / ||theta_g||_2 over all parameters (buffers excluded). CAVEAT: only meaningful "
        "when both models start from the same initialisation; otherwise it mostly measures two random inits",
        "lower",
        "",
    ),
    needs_golden_model=True,
)
def _weight_distance(ctx) -> float:
    return div.weight_distance(ctx.model, ctx.golden_module())
