"""The secondary metrics of METRICS.md, registered in ``METRICS``: the other membership attacks,
indiscernibility, divergences to the golden and a random model, forget-set entropy, weight distance.

Imported (for its registrations) by ``unlearnkit.metrics``.

Example:
    >>> from unlearnkit.metrics import METRICS
    >>> METRICS.get("js_to_golden").card.direction
    'lower'
"""

from __future__ import annotations

from unlearnkit.metrics import divergence as div
from unlearnkit.metrics import mia
from unlearnkit.metrics.cards import MetricAbsent, MetricCard, register_metric


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
