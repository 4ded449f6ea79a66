"""A loaded experiment (dataset, split, recipe) and its reference models: the original and the golden
model, trained once and taken from the model store after that, and their cached scores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch.nn as nn

from unlearnkit.data import Split, load_dataset, make_split
from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.metrics import Scores, score_model
from unlearnkit.models import build_model
from unlearnkit.runs.config import ExperimentConfig
from unlearnkit.runs.workspace import Workspace
from unlearnkit.training import TRAINING_CODE_VERSION, Recipe, resolve_device, train
from unlearnkit.training.store import content_key
from unlearnkit.version import __version__


@dataclass
class TrainedModel:
    model: nn.Module
    key: str
    train_time_s: float
    cached: bool
    train_cpu_s: float | None = None


@dataclass
class Context:
    """A loaded experiment: dataset, split and recipe."""

    config: ExperimentConfig
    dataset: Dataset
    split: Split
    recipe: Recipe


def load_context(cfg: ExperimentConfig) -> Context:
    """Load the dataset, resolve the split and the recipe; every name is checked here."""
    recipe = cfg.resolved_recipe()
    resolve_device(cfg.device)
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download, **cfg.data_options)
    split = make_split(ds, cfg.forget, seed=cfg.seed)
    build_model(cfg.model, input_shape=ds.input_shape, num_classes=split.num_classes, **cfg.model_kwargs)
    return Context(cfg, ds, split, recipe)


def model_spec(ctx: Context, kind: str, *, seed: int | None = None, data: str | None = None) -> dict[str, Any]:
    """What determines a trained model's weights; its hash is the model-store key.

    ``data`` names the training samples: "full" for the original, the split fingerprint for the
    golden model, or a caller's tag (e.g. a LiRA half); ``seed`` defaults to the config's.
    """
    cfg = ctx.config
    return {
        "kind": kind,
        "dataset": cfg.dataset,
        "dataset_fingerprint": ctx.dataset.fingerprint(),
        "label_set": ctx.split.label_set,
        "data": data if data is not None else (ctx.split.fingerprint if kind == "golden" else "full"),
        "model": cfg.model,
        "model_kwargs": cfg.model_kwargs,
        "recipe": ctx.recipe.to_dict(),
        "seed": cfg.seed if seed is None else seed,
        "training_code": TRAINING_CODE_VERSION,
    }


def build(ctx: Context, seed: int | None = None) -> nn.Module:
    """A freshly initialised model of the experiment's architecture (seeded)."""
    cfg = ctx.config
    return build_model(cfg.model, input_shape=ctx.dataset.input_shape, num_classes=ctx.split.num_classes,
                       seed=cfg.seed if seed is None else seed, **cfg.model_kwargs)


def trained_model(ws: Workspace, ctx: Context, kind: str, data: Subset, *, seed: int | None = None,
                  data_tag: str | None = None) -> TrainedModel:
    """Train a model on ``data`` with the experiment's recipe, or take it from the model store."""
    spec = model_spec(ctx, kind, seed=seed, data=data_tag)
    seed = ctx.config.seed if seed is None else seed
    key = content_key(spec)
    if ws.models.has(key):
        record = ws.models.meta(key)
        model = ws.models.load_into(key, build(ctx, seed))
        cpu = record["meta"].get("train_cpu_s")
        return TrainedModel(model, key, float(record["meta"].get("train_time_s", float("nan"))), cached=True,
                            train_cpu_s=None if cpu is None else float(cpu))
    ws.check_writable()  # before the training, not after it
    model = build(ctx, seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, data, ctx.recipe, seed=seed, device=ctx.config.device, description=f"{kind} model")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    ws.models.put(spec, model, {"train_time_s": elapsed, "train_cpu_s": cpu, "n_train": len(data),
                                "version": __version__})
    return TrainedModel(model.to("cpu").eval(), key, elapsed, cached=False, train_cpu_s=cpu)


def original_model(ws: Workspace, ctx: Context) -> TrainedModel:
    """The model trained on the whole training set (labels of the split's label set), cached."""
    return trained_model(ws, ctx, "original", ctx.split.subset("train"))


def golden_model(ws: Workspace, ctx: Context) -> TrainedModel:
    """The model retrained from scratch on D_r with the same recipe and seed, cached."""
    return trained_model(ws, ctx, "golden", ctx.split.subset("retain"))


def reference_keys(ctx: Context) -> dict[str, str]:
    """The model-store keys of the original and golden models of ``ctx``."""
    return {kind: content_key(model_spec(ctx, kind)) for kind in ("original", "golden")}


def verify_reference_models(ws: Workspace, ctx: Context) -> None:
    """Check the original and golden models of ``ctx`` that are in the model store (record and
    weights checksum), so a corrupt entry is reported before any work; reads only."""
    for key in reference_keys(ctx).values():
        if ws.models.has(key):
            ws.models.verify(key)


def reference_scores(ws: Workspace, ctx: Context, which: TrainedModel, metrics: Sequence[str],
                     golden: TrainedModel | None = None) -> Scores:
    """Scores of the golden or original model, computed once per workspace."""
    key = (which.key, ctx.split.fingerprint, tuple(metrics), ctx.config.seed)
    if key not in ws._scores:
        ws._scores[key] = score_model(which.model, ctx.split, metrics=list(metrics), seed=ctx.config.seed,
                                      golden_model=golden.model if golden is not None else None,
                                      device=ctx.config.device)
    return ws._scores[key]
