"""Reference-model banks for the per-example audits, trained through an executor and cached in
the model store, so a bank is trained once and reused by every method audited on the same split.

- golden bank: N models retrained from scratch on D_r, training seeds 0..N-1 (split fixed);
- unlearned bank: N runs of a method from the original model, method seeds 0..N-1;
- LiRA bank: N models trained on random halves of the pool D_train ∪ D_t*, so every pool sample
  is "in" for about half of them (``random_halves``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from unlearnkit.audit.lira import random_halves
from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.methods.front_door import make_method, method_name, unlearn
from unlearnkit.progress import progress_label
from unlearnkit.runs.experiment import (
    Context, ExperimentConfig, Workspace, build, load_context, original_model, trained_model,
)
from unlearnkit.training.store import content_key

_WORKSPACES: dict[str, Workspace] = {}


def _workspace(home: str, threads: int | None) -> Workspace:
    if threads:
        torch.set_num_threads(threads)
    return _WORKSPACES.setdefault(home, Workspace(home))


@dataclass
class BankModel:
    model: nn.Module
    key: str
    seed: int
    runtime_s: float


def pool_dataset(ctx: Context) -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    """The LiRA pool: every training sample followed by D_t*, as one in-memory dataset.

    Returns the dataset and the pool positions of D_f and of D_t* (the held-out non-members).
    """
    ds, split = ctx.dataset, ctx.split
    test_star = getattr(split, split.test_star_name)
    n_train = len(ds.train_y)
    pool = Dataset(
        name=ds.name,
        train_x=torch.cat([ds.train_x, ds.test_x[test_star]]),
        train_y=torch.cat([ds.labels("train", split.label_set), ds.labels("test", split.label_set)[test_star]]),
        test_x=ds.test_x[:0],
        test_y=ds.test_y[:0],
        classes=ds.class_names(split.label_set),
        scale=ds.scale, mean=tuple(ds.mean), std=tuple(ds.std), test_note="LiRA pool", source=ds.source,
    )
    return pool, split.forget.clone(), n_train + torch.arange(len(test_star))


def lira_masks(ctx: Context, n_models: int, seed: int) -> np.ndarray:
    pool, _, _ = pool_dataset(ctx)
    return random_halves(len(pool.train_y), n_models, seed)


# ------------------------------------------------------------------ tasks (run by an executor)
def golden_task(home: str, cfg: ExperimentConfig, seed: int, n_models: int | None = None, *,
                threads: int | None = None) -> str:
    """Train (or find) golden model ``seed`` of the bank; its progress bar says which of ``n_models``."""
    ws = _workspace(home, threads)
    ctx = load_context(cfg)
    with progress_label(f"golden bank, model {seed + 1} of {n_models or '?'}"):
        return trained_model(ws, ctx, "golden", ctx.split.subset("retain"), seed=seed).key


def lira_task(home: str, cfg: ExperimentConfig, index: int, n_models: int, bank_seed: int, *,
              threads: int | None = None) -> str:
    """Train (or find) LiRA reference model ``index`` of ``n_models`` on its random half of the pool."""
    ws = _workspace(home, threads)
    ctx = load_context(cfg)
    pool, _, _ = pool_dataset(ctx)
    mask = random_halves(len(pool.train_y), n_models, bank_seed)[index]
    tag = "lira:" + hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()[:16]
    data = Subset(pool, "train", torch.from_numpy(np.flatnonzero(mask)))
    with progress_label(f"LiRA bank, model {index + 1} of {n_models}"):
        return trained_model(ws, ctx, "lira", data, seed=index, data_tag=tag).key


def unlearned_task(home: str, cfg: ExperimentConfig, method: str, params: dict[str, Any], seed: int,
                   n_models: int | None = None, calibration: dict[str, Any] | None = None, *,
                   threads: int | None = None) -> tuple[str, float]:
    """Run (or find) the unlearning of bank member ``seed``; its progress bar says which of ``n_models``."""
    ws = _workspace(home, threads)
    ctx = load_context(cfg)
    original = original_model(ws, ctx)
    est = make_method(method, params)
    spec = {"kind": "unlearned-bank", "original": original.key, "split": ctx.split.fingerprint,
            "method": method_name(est), "params": est.get_params(), "seed": seed}
    if calibration:
        spec["calibration"] = calibration
    key = content_key(spec)
    if ws.models.has(key):
        return key, float(ws.models.meta(key)["meta"]["runtime_s"])
    with progress_label(f"unlearned bank, run {seed + 1} of {n_models or '?'}"):
        result = unlearn(original.model, ctx.split, est, seed=seed, device=cfg.device, **(calibration or {}))
    ws.models.put(spec, result.model, {"runtime_s": result.runtime_s})
    return key, result.runtime_s


# ------------------------------------------------------------------ banks
def _run(executor, fn, args: list[tuple]) -> list[Any]:
    out: list[Any] = [None] * len(args)
    for i, value, exc in executor.map_unordered(fn, args):
        if exc is not None:
            raise exc
        out[i] = value
    return out


def _load(ws: Workspace, ctx: Context, keys: list[str], seeds: list[int], runtimes: list[float]) -> list[BankModel]:
    return [BankModel(ws.models.load_into(k, build(ctx, s)), k, s, t) for k, s, t in zip(keys, seeds, runtimes)]


def golden_bank(ws: Workspace, ctx: Context, n: int, executor) -> list[BankModel]:
    """N golden models (training seeds 0..N-1) on the fixed split."""
    keys = _run(executor, golden_task, [(str(ws.home), ctx.config, s, n) for s in range(n)])
    runtimes = [float(ws.models.meta(k)["meta"]["train_time_s"]) for k in keys]
    return _load(ws, ctx, keys, list(range(n)), runtimes)


def unlearned_bank(ws: Workspace, ctx: Context, method: str, params: dict[str, Any], n: int, executor,
                   calibration: dict[str, Any] | None = None) -> list[BankModel]:
    """N runs of ``method`` from the original model (method seeds 0..N-1), calibrated when asked."""
    out = _run(executor, unlearned_task, [(str(ws.home), ctx.config, method, params, s, n, calibration)
                                          for s in range(n)])
    original_seed = ctx.config.seed
    return _load(ws, ctx, [k for k, _ in out], [original_seed] * n, [t for _, t in out])


def lira_bank(ws: Workspace, ctx: Context, n: int, bank_seed: int, executor) -> tuple[list[BankModel], np.ndarray]:
    """N models on random halves of the pool, and the (N, pool size) membership mask."""
    keys = _run(executor, lira_task, [(str(ws.home), ctx.config, i, n, bank_seed) for i in range(n)])
    runtimes = [float(ws.models.meta(k)["meta"]["train_time_s"]) for k in keys]
    return _load(ws, ctx, keys, list(range(n)), runtimes), lira_masks(ctx, n, bank_seed)
