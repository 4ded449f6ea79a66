"""``run_audit``: forgetting quality, challenge score and LiRA for one method on one split."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from unlearnkit.audit.bank import golden_bank, lira_bank, pool_dataset, unlearned_bank
from unlearnkit.audit.confidence import logit_scaled_confidence
from unlearnkit.audit.epsilon import epsilons
from unlearnkit.audit.quality import bootstrap_interval, challenge_score, forgetting_quality
from unlearnkit.audit.lira import attack_metrics, bootstrap_attack_metrics, lira_scores
from unlearnkit.data.dataset import Subset
from unlearnkit.errors import ConfigError
from unlearnkit.methods.calibration import check_calibration
from unlearnkit.methods.front_door import make_method, method_name
from unlearnkit.metrics.accuracy import accuracy
from unlearnkit.metrics.context import compute_logits
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, load_context, original_model


@dataclass
class AuditResult:
    """Everything an audit measured; ``to_dict()`` is what ``audit.json`` holds."""

    config: dict[str, Any]
    method: str
    params: dict[str, Any]
    n_models: int
    forgetting_quality: float
    forgetting_quality_ci: tuple[float, float]
    challenge_score: float
    mean_ra: dict[str, float]
    mean_ta: dict[str, float]
    epsilon: list[float]
    forget_indices: list[int]
    hardest: list[int]
    lira: dict[str, dict[str, Any]]
    timings_s: dict[str, float] = field(default_factory=dict)
    hardest_note: str | None = None
    calibration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scores(models, subset: Subset, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Logit-scaled confidences (N, n) and accuracies (N,) of a bank on a subset."""
    conf, acc = [], []
    for m in models:
        logits = compute_logits(m.model, subset, device=device)  # (n, C)
        conf.append(logit_scaled_confidence(logits, subset.labels))
        acc.append(accuracy(logits, subset.labels))
    return np.stack(conf), np.asarray(acc)


def hardest_note(eps: np.ndarray, order: np.ndarray, n_models: int) -> str | None:
    """Why the hardest-to-forget list means little, or ``None`` when it is a ranking.

    ε takes few values with few models (at N = 3 most forget samples share the same ε), and a list
    cut inside a group of equal ε holds an arbitrary part of the group (the lowest indices).

    Example:
        >>> hardest_note(np.full(40, 50.0), np.arange(16), 3)[:75]
        'All 40 forget samples have the same ε (50.00) with N=3 models: the list of '
        >>> hardest_note(np.arange(40.0), np.arange(39, 23, -1), 3) is None
        True
    """
    if len(order) == 0:
        return None
    last = eps[order[-1]]
    tied = int(np.sum(eps == last))
    listed = int(np.sum(eps[order] == last))
    if tied == len(eps) and len(eps) > 1:
        return (f"All {len(eps)} forget samples have the same ε ({last:.2f}) with N={n_models} models: the list of the "
                f"{len(order)} \"hardest\" is the first {len(order)} by index, not a ranking. Use more models "
                f"(--n-models) to rank them.")
    if tied > listed:
        return (f"{tied} forget samples share ε = {last:.2f} (with N={n_models} models ε takes few values); the "
                f"hardest list holds {listed} of them, the first by index, so its last {listed} entries are an "
                f"arbitrary pick. Use more models (--n-models) to rank them.")
    return None


def run_audit(ws: Workspace, cfg: ExperimentConfig, method: str, params: dict[str, Any] | None = None, *,
              n_models: int = 16, executor, n_boot: int = 1000, n_hardest: int = 16,
              calibration: dict[str, Any] | None = None, log=lambda line: None) -> AuditResult:
    """Audit ``method`` on ``cfg``'s split with banks of ``n_models`` models.

    Args:
        ws: workspace (model store) where banks are cached.
        cfg: the experiment; its seed fixes the original model, the bootstrap and the LiRA halves.
        method, params: the method audited.
        n_models: N, the size of every bank (at least 3: forgetting quality needs ln(N−1) > 0).
        executor: a ``bench.executors`` executor (``local`` or ``ray``) that trains the banks.
        n_boot: bootstrap resamples for the 95% intervals.
        n_hardest: how many of the highest-ε forget samples to list.
        calibration: ``unlearn``'s ``calibrate`` (and ``calibrate_every``, ``calibrate_patience``) for
            every run of the unlearned bank; ``None``: uncalibrated.
    """
    params = dict(params or {})
    est = make_method(method, params)
    if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 3:
        raise ConfigError(f"The 'n_models' parameter of run_audit must be an int in [3, inf). Got {n_models!r} instead.")
    ctx = load_context(cfg)
    if calibration:
        check_calibration(est, ctx.split, **calibration)
    timings: dict[str, float] = {}
    original_model(ws, ctx)

    t = time.perf_counter()
    log(f"golden bank: {n_models} models retrained on D_r")
    golden = golden_bank(ws, ctx, n_models, executor)
    timings["golden_bank"] = time.perf_counter() - t
    t = time.perf_counter()
    log(f"unlearned bank: {n_models} runs of {method_name(est)}")
    unlearned = unlearned_bank(ws, ctx, method_name(est), est.get_params(), n_models, executor, calibration)
    timings["unlearned_bank"] = time.perf_counter() - t
    t = time.perf_counter()
    log(f"LiRA bank: {n_models} models on random halves of D_train ∪ D_t*")
    lira_models, in_mask = lira_bank(ws, ctx, n_models, cfg.seed, executor)
    timings["lira_bank"] = time.perf_counter() - t

    t = time.perf_counter()
    split, device = ctx.split, cfg.device
    forget, retain = split.subset("forget"), split.subset("retain")
    test_star = split.subset(split.test_star_name)
    u, _ = _scores(unlearned, forget, device)  # (N, n_f)
    r, _ = _scores(golden, forget, device)  # (N, n_f)
    _, ra_u = _scores(unlearned, retain, device)
    _, ra_g = _scores(golden, retain, device)
    _, ta_u = _scores(unlearned, test_star, device)
    _, ta_g = _scores(golden, test_star, device)
    eps = epsilons(u, r)  # (n_f,)
    fq = forgetting_quality(eps, n_models)
    fq_ci = bootstrap_interval(eps, lambda e: forgetting_quality(e, n_models), seed=cfg.seed, n_boot=n_boot)
    order = np.argsort(-eps, kind="stable")[:n_hardest]
    note = hardest_note(eps, order, n_models)

    pool, f_pos, nm_pos = pool_dataset(ctx)
    targets = Subset(pool, "train", torch.cat([f_pos, nm_pos]))
    ref, _ = _scores(lira_models, targets, device)  # (N, n_f + n_nm)
    ref_in = in_mask[:, targets.indices.numpy()]
    n_f = len(f_pos)
    lira = {}
    for name, model in (("unlearned", unlearned[0]), ("golden", golden[0])):
        s, _ = _scores([model], targets, device)
        scores = lira_scores(ref, ref_in, s[0])
        lira[name] = {
            **attack_metrics(scores[:n_f], scores[n_f:]),
            "ci": {k: list(v) for k, v in bootstrap_attack_metrics(scores[:n_f], scores[n_f:], seed=cfg.seed,
                                                                   n_boot=n_boot).items()},
        }
    timings["scoring"] = time.perf_counter() - t
    return AuditResult(
        config=cfg.to_dict(), method=method_name(est), params=est.get_params(), calibration=calibration,
        n_models=n_models,
        forgetting_quality=fq, forgetting_quality_ci=tuple(fq_ci),
        challenge_score=challenge_score(fq, ra_u, ra_g, ta_u, ta_g),
        mean_ra={"unlearned": float(ra_u.mean()), "golden": float(ra_g.mean())},
        mean_ta={"unlearned": float(ta_u.mean()), "golden": float(ta_g.mean())},
        epsilon=[float(e) for e in eps], forget_indices=[int(i) for i in split.forget],
        hardest=[int(split.forget[i]) for i in order], lira=lira, timings_s=timings, hardest_note=note,
    )
