"""``unlearn``: the one way to run a method. It validates, copies, restricts data, and times."""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
import torch.nn as nn

from unlearnkit.config import Interval, init_params
from unlearnkit.data.dataset import Subset, detach_subset
from unlearnkit.data.split import Split
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Access, Method, UnlearnResult
from unlearnkit.methods.calibration import CalibrationStop, HeldoutCalibration, calibration_sets, check_calibration
from unlearnkit.methods.registry import METHODS
from unlearnkit.seeding import torch_generator
from unlearnkit.training.loop import observe_steps, resolve_device

_RHO = Interval(float, 0, 1, closed="right")


def make_method(method: str | Method, params: dict[str, Any] | None = None) -> Method:
    """A validated method object from a registry name and parameters (or a ready object).

    Example:
        >>> make_method("finetune", {"epochs": 2}).epochs
        2
    """
    params = dict(params or {})
    if isinstance(method, Method):
        if params:
            method = copy.deepcopy(method).set_params(**params)
        method.validate()
        return method
    cls = METHODS.get(method)
    valid = init_params(cls)
    for key in params:
        if key not in valid:
            raise ConfigError(f"Unknown parameter {key!r} for method {method!r}. Valid parameters: {', '.join(sorted(valid))}.")
    obj = cls(**params)
    obj.validate()
    return obj


def method_name(method: Method) -> str:
    for name, cls in METHODS.items():
        if type(method) is cls:
            return name
    return type(method).__name__.lower()


def unlearn(
    model: nn.Module,
    split: Split,
    method: str | Method = "finetune",
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    retain_fraction: float | None = None,
    calibrate: str | None = None,
    calibrate_every: int | None = None,
    calibrate_patience: int | None = None,
    **params: Any,
) -> UnlearnResult:
    """Make a copy of ``model`` forget ``split.forget``; the input model is never changed.

    The method sees only what its ``access`` allows: forget-only methods get ``retain=None``;
    partial-retain methods get a seeded fraction of the retain set (``retain_fraction``, default
    the method's ``rho``); full-retain methods get all of it unless ``retain_fraction`` is given.
    Methods with ``uses_holdout`` also get held-out non-members as ``holdout``: the validation
    slice V when the split has one, else D_t* (the run log says which). No other method sees V or
    D_t. Subsets are detached copies, so a method cannot reach samples it was not given.

    ``calibrate="heldout"`` (loop methods, splits with a validation slice) ends the method at the
    state where D_f looks most like unseen data, judged on D_f and V only
    (``unlearnkit.methods.calibration``); the method itself still never sees V.

    Args:
        model: the trained (original) model.
        split: the forget scenario from ``make_split``.
        method: a registry name (``unlearnkit list methods``) or a ``Method`` object.
        seed: seeds every random choice of the method.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        retain_fraction: run under a budget of this fraction of the retain set.
        calibrate: ``None`` or ``"heldout"``.
        calibrate_every: check every this many steps of each training loop (default: 4 checks per epoch).
        calibrate_patience: stop training after this many checks without improvement (``None``: never).
        **params: the method's hyper-parameters.

    Returns:
        ``UnlearnResult`` with the unlearned model and the method's runtime in seconds.

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> original = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> result = unlearn(original, split, "finetune", epochs=1)
        >>> result.model is original
        False
    """
    est = make_method(method, params)
    name = method_name(est)
    if retain_fraction is not None and not _RHO.accepts(retain_fraction):
        raise ConfigError(f"The 'retain_fraction' parameter of unlearn must be {_RHO.description}. Got {retain_fraction!r} instead.")
    check_calibration(est, split, calibrate, calibrate_every, calibrate_patience)
    check_holdout(est, split)
    est.check_model(model)
    dev = resolve_device(device)
    gen = torch_generator(seed, "unlearn", name)
    forget = detach_subset(split.subset("forget"))
    retain = _retain_for(est, split, retain_fraction, seed)
    work = copy.deepcopy(model).to(dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    extra, holdout_note = _holdout_for(est, split)
    calibration = (HeldoutCalibration(calibration_sets(split, seed), every=calibrate_every, patience=calibrate_patience,
                                      device=dev) if calibrate else None)
    out, calibration_log, runtime, cpu = _timed_run(est, calibration, work, forget=forget, retain=retain, generator=gen,
                                                    device=dev, **extra)
    if out is model:
        raise RuntimeError(f"{name} returned the caller's model object; methods must work on the copy")
    log = dict(getattr(est, "log_", {}) or {})
    log.update(access=est.access.value, n_forget=len(forget), n_retain_seen=0 if retain is None else len(retain))
    if holdout_note:
        log["holdout"] = holdout_note
    if calibration is not None:
        log["calibration"] = calibration_log
    return UnlearnResult(model=out.eval(), runtime_s=runtime, method=name, params=est.get_params(), log=log,
                         estimator=est, cpu_s=cpu)


def _timed_run(est: Method, calibration: HeldoutCalibration | None, work: nn.Module, *, device: torch.device,
               **kwargs: Any) -> tuple[nn.Module, dict | None, float, float]:
    """``(model, calibration log, wall s, CPU s)`` of the method alone (calibrated when asked)."""
    calibration_log = None
    start, cpu_start = time.perf_counter(), time.process_time()
    if calibration is None:
        out = est.run(work, device=device, **kwargs)
    else:
        out, calibration_log = _run_calibrated(est, calibration, work, device=device, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, calibration_log, time.perf_counter() - start, time.process_time() - cpu_start


def check_holdout(est: Method, split: Split) -> None:
    """Refuse a method that needs the validation slice V on a split without one (before any work)."""
    if est.needs_validation and getattr(split, "val", None) is None:
        raise ConfigError(
            f"{method_name(est)} calibrates on the validation slice V, which dataset {split.dataset.name!r} has not: "
            "load it with the option train_subset=N or val_size=N (--data-option val_size=N, [data_options] in a grid)."
        )


def _holdout_for(est: Method, split: Split) -> tuple[dict[str, Subset], str]:
    """The ``holdout`` keyword of methods that declare ``uses_holdout``, and what it is."""
    if not est.uses_holdout:
        return {}, ""
    if getattr(split, "val", None) is not None:
        return {"holdout": detach_subset(split.subset("val"))}, f"the validation slice V ({len(split.val)} samples)"
    name = split.test_star_name
    return ({"holdout": detach_subset(split.subset(name))},
            f"no validation slice: D_t* ({name}) stood in for held-out data")


def _run_calibrated(est: Method, calibration: HeldoutCalibration, work: nn.Module, **kwargs) -> tuple[nn.Module, dict]:
    """Run ``est`` under the calibration observer and hand back its best state."""
    calibration.begin(work)
    stopped = ""
    with observe_steps(calibration):
        try:
            out = est.run(work, **kwargs)
        except CalibrationStop as stop:
            out, stopped = work, str(stop)
    log = calibration.end(out)
    log["stopped_early"] = stopped
    return out, log


def _retain_for(est: Method, split: Split, retain_fraction: float | None, seed: int) -> Subset | None:
    if est.access is Access.FORGET_ONLY:
        return None
    full = split.subset("retain")
    rho = retain_fraction
    if rho is None and est.access is Access.PARTIAL_RETAIN:
        rho = getattr(est, "rho", 0.3)
    if rho is None or rho >= 1.0:
        return detach_subset(full)
    k = max(1, int(round(rho * len(full))))
    positions = torch.randperm(len(full), generator=torch_generator(seed, "retain-budget", rho))[:k].sort().values
    return detach_subset(full.take(positions))
