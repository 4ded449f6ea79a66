"""Score models on a split: ``score_model`` (one model) and ``evaluate`` (unlearned vs golden vs original).

The logits come from an ``EvalContext`` (``unlearnkit.metrics.context``), computed once per set.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.metrics import mia
from unlearnkit.metrics.cards import HEADLINE, METRICS, SCENARIOS, MetricAbsent, MetricEntry
from unlearnkit.metrics.heldout import Estimate
from unlearnkit.metrics.report import ROWS, Report, Scores

from unlearnkit.metrics.context import EVAL_BATCH_SIZE, EvalContext, _check_runtime, _check_seed  # noqa: E402


# ------------------------------------------------------------------------------------ scoring
def resolve_metrics(metrics: str | Iterable[str] | None) -> tuple[str, ...]:
    """Requested metric names: ``None`` -> ``HEADLINE``; unknown names raise ``ConfigError`` listing the valid ones."""
    if metrics is None:
        return HEADLINE
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise ConfigError(f"metrics must name at least one metric. Valid metrics: {', '.join(METRICS.names())}.")
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"metric names must be strings; got {name!r}.")
        METRICS.get(name)  # ConfigError listing the valid names
        if name not in out:
            out.append(name)
    return tuple(out)


def _model_level(names: Iterable[str]) -> tuple[str, ...]:
    """The model-level metrics to compute for ``names`` (report-level ones replaced by what they need)."""
    out: list[str] = []
    for name in names:
        entry = METRICS.get(name)
        for n in (entry.needs if entry.level == "report" else (name,)):
            if n not in out:
                out.append(n)
    return tuple(out)


#: Metrics that fit an SVC on members of D_r: computed first, while D_r is scored in the background.
ATTACKS_FIRST = (
    "mia_efficacy", "mia_member_recall", "mia_efficacy_entropy", "mia_efficacy_mentropy", "mia_efficacy_correct",
)


def _score_context(ctx: EvalContext, names: Iterable[str]) -> Scores:
    names = list(names)
    values: dict[str, float] = {}
    absent: dict[str, str] = {}
    intervals: dict[str, tuple[float, float]] = {}
    kind = getattr(ctx.split, "kind", None)
    attacks = [n for n in names if n in ATTACKS_FIRST]
    if attacks:
        ctx.prefetch_for_attacks()  # the same logits, scored in an order that lets the SVC fit overlap D_r
    interrupted = False
    try:
        for name in attacks + [n for n in names if n not in attacks]:
            entry: MetricEntry = METRICS.get(name)
            if kind in SCENARIOS and kind not in entry.card.scenarios:
                absent[name] = f"{name} is defined only in {' / '.join(entry.card.scenarios)} scenarios; this split is {kind!r}"
                continue
            try:
                result = entry.compute(ctx)
            except MetricAbsent as e:
                absent[name] = e.reason
                continue
            values[name] = float(result)
            if isinstance(result, Estimate):
                intervals[name] = (result.low, result.high)
    except KeyboardInterrupt:
        interrupted = True  # stop at once, without waiting for the background scoring (a daemon thread)
        raise
    finally:
        if not interrupted:
            ctx.join_prefetch()  # no thread uses the model once its scores are returned
    values = {n: values[n] for n in names if n in values}
    absent = {n: absent[n] for n in names if n in absent}
    return Scores(
        values=values, absent=absent, seed=ctx.seed, split_fingerprint=str(getattr(ctx.split, "fingerprint", "")),
        mia_members=ctx.mia_members, intervals=intervals,
    )


def score_model(
    model: nn.Module,
    split,
    *,
    metrics: str | Iterable[str] | None = None,
    seed: int = 0,
    golden_model: nn.Module | None = None,
    runtime_s: float | None = None,
    cpu_s: float | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = EVAL_BATCH_SIZE,
    mia_members: str = "random",
) -> Scores:
    """The model-level metrics of one model, reusable as ``reference=`` / ``original=`` of ``evaluate``.

    Report-level metrics in ``metrics`` (``speedup``, ``avg_gap``) are replaced by the model-level
    metrics they are computed from (``runtime_s``; ``ua``, ``ra``, ``ta``, ``mia_efficacy``).

    Args:
        model: the model to score.
        split: the ``Split``.
        metrics: metric names; ``None`` means ``HEADLINE``.
        seed: seed of the attacks and of the random model of ``zrf``.
        golden_model: needed by ``js_to_golden`` and ``weight_distance`` (absent without it).
        runtime_s: the model's runtime (its training time for a golden model).
        cpu_s: the process CPU seconds of the same (``cpu_s``).
        device, batch_size: how to run the model.
        mia_members: ``"random"`` (seeded subset of D_r) or ``"first"`` for the SVC attacks.

    Returns:
        ``Scores`` with the values and the reasons of absent metrics.

    Example:
        >>> golden_scores = score_model(golden, split, seed=0, runtime_s=12.5)  # doctest: +SKIP
        >>> report = evaluate(unlearned, split, reference=golden_scores, runtime_s=0.8)  # doctest: +SKIP
    """
    names = _model_level(resolve_metrics(metrics))
    ctx = EvalContext(
        model, split, seed=seed, device=device, batch_size=batch_size, golden=golden_model, runtime_s=runtime_s,
        cpu_s=cpu_s, mia_members=mia_members,
    )
    return _score_context(ctx, names)


def _from_scores(scores: Scores, names: tuple[str, ...], split, seed: int, mia_members: str, what: str) -> Scores:
    if not isinstance(scores, Scores):
        raise ConfigError(f"{what} must be an nn.Module, a Scores from score_model, or None; got {type(scores).__name__}.")
    fp = str(getattr(split, "fingerprint", ""))
    if scores.split_fingerprint != fp:
        raise ConfigError(f"the {what} Scores were computed on split {scores.split_fingerprint!r}, not on this split {fp!r}.")
    if scores.seed != seed:
        raise ConfigError(f"the {what} Scores were computed with seed={scores.seed}; this evaluation uses seed={seed}.")
    if scores.mia_members != mia_members:
        raise ConfigError(
            f"the {what} Scores were computed with mia_members={scores.mia_members!r}; this evaluation uses {mia_members!r}."
        )
    values = {n: scores.values[n] for n in names if n in scores.values}
    absent = {
        n: scores.absent.get(n, f"not in the {what} Scores (score_model was called without {n!r})")
        for n in names
        if n not in values
    }
    intervals = {n: scores.intervals[n] for n in values if n in scores.intervals}
    return Scores(values=values, absent=absent, seed=seed, split_fingerprint=fp, mia_members=mia_members,
                  intervals=intervals)


def evaluate(
    model: nn.Module,
    split,
    *,
    reference: nn.Module | Scores | None = None,
    original: nn.Module | Scores | None = None,
    metrics: str | Iterable[str] | None = None,
    seed: int = 0,
    runtime_s: float | None = None,
    reference_runtime_s: float | None = None,
    cpu_s: float | None = None,
    reference_cpu_s: float | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = EVAL_BATCH_SIZE,
    mia_members: str = "random",
) -> Report:
    """Evaluate an unlearned model against the golden (retrained) model, and the original model.

    Args:
        model: the unlearned model θ_u.
        split: the ``Split`` it was unlearned on.
        reference: the golden model θ_g, as an ``nn.Module`` or precomputed ``Scores``
            (``js_to_golden`` and ``weight_distance`` need the module). ``None``: no golden row,
            no gaps, and the golden-referenced metrics are absent.
        original: the original model θ_o (module or ``Scores``), shown as a third row.
        metrics: metric names; ``None`` means ``HEADLINE``. Unknown names raise ``ConfigError``.
        seed: seed of the attacks and of ``zrf``'s random model; the same seed gives the same numbers.
        runtime_s: wall seconds of the unlearning method (``UnlearnResult.runtime_s``).
        reference_runtime_s: the golden model's training time (overrides one stored in ``reference`` Scores).
        cpu_s, reference_cpu_s: the same in process CPU seconds (``UnlearnResult.cpu_s``), for
            ``cpu_s`` and ``cpu_speedup``, which two jobs sharing the cores change far less than wall time.
        device, batch_size: how to run the models.
        mia_members: ``"random"`` (seeded subset of D_r) or ``"first"``, members of the SVC attacks.

    Returns:
        A ``Report``: rows for ``"unlearned"``, ``"golden"`` and ``"original"``, ``gaps``
        (|u − g|), ``absent`` reasons, and the metric cards.

    Example:
        >>> report = evaluate(result.model, split, reference=golden, original=original,  # doctest: +SKIP
        ...                   runtime_s=result.runtime_s, reference_runtime_s=golden_train_s)
        >>> report["ua"], report.gaps["ua"], report.avg_gap  # doctest: +SKIP
    """
    names = resolve_metrics(metrics)
    model_names = _model_level(names)
    seed = _check_seed(seed)
    times = {k: _check_runtime(v, k) for k, v in (("runtime_s", runtime_s), ("reference_runtime_s", reference_runtime_s),
                                                   ("cpu_s", cpu_s), ("reference_cpu_s", reference_cpu_s))}
    runtime_s, reference_runtime_s, cpu_s, reference_cpu_s = times.values()
    _check_members(mia_members)
    common = dict(seed=seed, device=device, batch_size=batch_size, mia_members=mia_members)

    golden_ctx, golden_scores, no_golden = _golden_row(reference, split, model_names, reference_runtime_s,
                                                       reference_cpu_s, common)

    def score(m: nn.Module, rt: float | None, cpu: float | None) -> Scores:
        ctx = EvalContext(m, split, golden=golden_ctx, runtime_s=rt, cpu_s=cpu, no_golden_reason=no_golden or "",
                          **common)
        return _score_context(ctx, model_names)

    unlearned_scores = score(model, runtime_s, cpu_s)
    if original is None:
        original_scores = None
    elif isinstance(original, nn.Module):
        original_scores = score(original, None, None)
    else:
        original_scores = _from_scores(original, model_names, split, seed, mia_members, "original")

    rows, row_absent, intervals = _report_rows(names, (unlearned_scores, golden_scores, original_scores))
    gaps = {n: abs(rows["unlearned"][n] - rows["golden"][n]) for n in names if n in rows["unlearned"] and n in rows["golden"]}
    return Report(
        metrics=names, rows=rows, gaps=gaps, absent=dict(row_absent["unlearned"]), row_absent=row_absent,
        intervals=intervals, cards={n: METRICS.get(n).card for n in names}, scenario=str(getattr(split, "kind", "")),
        split_fingerprint=str(getattr(split, "fingerprint", "")), seed=seed,
    )


def _check_members(mia_members: str) -> None:
    if mia_members not in mia.MEMBER_CHOICES:
        raise ConfigError(f"mia_members must be one of {', '.join(map(repr, mia.MEMBER_CHOICES))}; got {mia_members!r}.")


def _golden_row(reference: nn.Module | Scores | None, split, model_names: list[str], reference_runtime_s: float | None,
                reference_cpu_s: float | None, common: dict) -> tuple[EvalContext | None, Scores | None, str]:
    """``(golden context, golden scores, why golden-model metrics are absent)`` from ``reference``."""
    seed, mia_members = common["seed"], common["mia_members"]
    if isinstance(reference, nn.Module):
        golden_ctx = EvalContext(reference, split, golden=None, runtime_s=reference_runtime_s, cpu_s=reference_cpu_s,
                                 **common)
        golden_ctx._golden = golden_ctx
        return golden_ctx, _score_context(golden_ctx, model_names), ""
    if reference is None:
        return None, None, "needs a reference (golden) model: pass reference= an nn.Module"
    golden_scores = _from_scores(reference, model_names, split, seed, mia_members, "reference")
    for name, given in (("runtime_s", reference_runtime_s), ("cpu_s", reference_cpu_s)):
        if given is not None and name in model_names:
            golden_scores.values[name] = given
            golden_scores.absent.pop(name, None)
    return None, golden_scores, "needs the golden model itself; reference= was precomputed Scores, pass the nn.Module instead"


def _report_rows(names: list[str], scores: tuple[Scores | None, ...]) -> tuple[dict, dict, dict]:
    """``(rows, row_absent, intervals)`` of the report: each row's values of ``names``, report-level
    metrics (``speedup``, ``avg_gap``) derived from the row and the golden row, and why a value is absent."""
    golden_scores = scores[1]
    golden_values = dict(golden_scores.values) if golden_scores is not None else None
    rows: dict[str, dict[str, float]] = {}
    row_absent: dict[str, dict[str, str]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for row, sc in zip(ROWS, scores):
        if sc is not None:
            intervals[row] = {n: iv for n, iv in sc.intervals.items() if n in names}
        vals: dict[str, float] = {}
        why: dict[str, str] = {}
        if sc is None:
            reason = "no reference (golden) model given" if row == "golden" else "no original model given"
            why = {n: reason for n in names}
        else:
            for n in names:
                entry = METRICS.get(n)
                if entry.level == "report":
                    try:
                        vals[n] = float(entry.compute(sc.values, golden_values))
                    except MetricAbsent as e:
                        why[n] = e.reason
                elif n in sc.values:
                    vals[n] = sc.values[n]
                else:
                    why[n] = sc.absent.get(n, "not computed")
        rows[row] = vals
        row_absent[row] = why
    return rows, row_absent, intervals
