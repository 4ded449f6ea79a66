"""``EvalContext``: the logits and labels of one model on the sets of one split, computed once.

It also holds what some metrics need beyond them: the golden model's logits, a seeded randomly
initialised copy (``zrf``) and the SVC attack's member choice. Every metric of one model reads
the same cached logits, so the model runs at most once per sample.

``prefetch_for_attacks`` scores the sets in a background thread, the SVC attack's first (D_t*, D_f
and the attack's members of D_r) and the rest of D_r last, so that the attack's fit (scikit-learn
releases the GIL) runs while D_r is scored. The members' logits are reused for D_r, and a sample's
logits do not depend on the batch it runs in, so the values are those of one pass over each set.
"""

from __future__ import annotations

import copy
import math
import threading
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.metrics import mia
from unlearnkit.metrics.cards import MetricAbsent
from unlearnkit.metrics.heldout import heldout_positions
from unlearnkit.seeding import derive_seed
from unlearnkit.training.loop import resolve_device

#: Inference batch. On a quiet 2-core machine the cnn's evaluation took 12.5 s at 256 against
#: 16.6 s at 512 (the SVC fit overlaps D_r's scoring better), with identical metric values
#: (docs/results/cost.md); under load the two were about even.
EVAL_BATCH_SIZE = 256

#: Context set name -> split subset name (``test_star`` is resolved through ``split.test_star_name``).
SET_NAMES = ("forget", "retain", "test_star", "test_forget", "val_forget")
SET_SYMBOLS = {"forget": "D_f", "retain": "D_r", "test_star": "D_t*", "test_forget": "D_t,f", "val_forget": "V_f"}


# ------------------------------------------------------------------------------------- logits
def _model_device(model: nn.Module) -> torch.device | None:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


def compute_logits(model: nn.Module, subset, *, device: str | torch.device = "cpu", batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """The model's logits on every sample of ``subset``, in order, as a CPU tensor of shape (n, C).

    The model runs in eval mode under ``torch.inference_mode()``; afterwards every module's train/eval
    flag is restored, and so is the model's device if it had to be moved to ``device``. The result is
    an ordinary tensor (not an inference tensor).

    Args:
        model: a classifier returning logits of shape (batch, classes).
        subset: a ``Subset`` (anything with ``len()`` and ``batch(positions) -> (x, y)``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:<n>"`` or ``"auto"``.
        batch_size: samples per forward pass.

    Example:
        >>> import torch
        >>> from unlearnkit.data import Subset, load_dataset
        >>> ds = load_dataset("digits")
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        >>> compute_logits(model, Subset(ds, "test", torch.arange(5))).shape
        torch.Size([5, 10])
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"The 'batch_size' parameter of compute_logits must be an int in [1, inf). Got {batch_size!r} instead.")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"compute_logits needs an nn.Module; got {type(model).__name__}.")
    dev = resolve_device(device)
    modes = [(m, m.training) for m in model.modules()]
    home = _model_device(model)
    moved = home is not None and home != dev
    n = len(subset)
    outs: list[torch.Tensor] = []
    try:
        if moved:
            model.to(dev)
        model.eval()
        with torch.inference_mode():
            for start, stop in _batches(n, batch_size):
                x, _ = subset.batch(slice(start, stop))
                out = model(x.to(dev))
                if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(x):
                    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ConfigError(f"the model must return logits of shape (batch, classes); got {shape}.")
                outs.append(out.detach().to("cpu"))
    finally:
        if moved:
            model.to(home)
        for m, was_training in modes:
            m.training = was_training
    if not outs:
        return torch.empty((0, int(getattr(subset, "num_classes", 0))), dtype=torch.float32)
    return torch.cat(outs)  # outside inference mode: an ordinary tensor


#: A last batch smaller than this joins the one before: the matrix kernels of a very small batch (a
#: dozen samples or fewer) round differently, and a sample's logits should not depend on its batch.
MIN_TAIL = 16


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch of ``n`` samples; a tail below ``MIN_TAIL`` joins the batch before.

    Example:
        >>> _batches(1030, 512), _batches(1100, 512), _batches(5, 512)
        ([(0, 512), (512, 1030)], [(0, 512), (512, 1024), (1024, 1100)], [(0, 5)])
    """
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < MIN_TAIL:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def random_init_copy(model: nn.Module, seed: int) -> nn.Module:
    """A deep copy of ``model`` with ``reset_parameters()`` called on every module that has one.

    Runs on the CPU under ``torch.random.fork_rng(devices=[])`` with the CPU generator seeded by
    ``derive_seed(seed, "zrf")``, so the result depends on the architecture and the seed only and
    the caller's random state is untouched. Parameters owned by modules without
    ``reset_parameters()`` keep the values of ``model``; a model can define its own
    ``reset_parameters()`` on the root module to cover them.
    """
    rand = copy.deepcopy(model).to("cpu")
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(derive_seed(seed, "zrf"))
        for module in rand.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    return rand


# ------------------------------------------------------------------------------------ context
class EvalContext:
    """Lazily computed, cached logits and labels of one model on the sets of one split.

    Metric functions registered in ``METRICS`` read from it; see ``unlearnkit.metrics.cards``.

    Args:
        model: the model evaluated.
        split: a ``Split``.
        seed: seed of the attacks and of the random model.
        device, batch_size: how to run the model.
        golden: the golden model (an ``nn.Module`` or its own ``EvalContext``), or ``None``.
        runtime_s: the model's runtime, reported as ``runtime_s``.
        cpu_s: the process CPU seconds of that run, reported as ``cpu_s``.
        mia_members: ``"random"`` or ``"first"``, the SVC attack's member choice.
        no_golden_reason: the absent-reason used when a metric needs the golden model and there is none.
    """

    def __init__(
        self,
        model: nn.Module,
        split,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
        batch_size: int = EVAL_BATCH_SIZE,
        golden: "nn.Module | EvalContext | None" = None,
        runtime_s: float | None = None,
        cpu_s: float | None = None,
        mia_members: str = "random",
        no_golden_reason: str = "needs the golden model itself (golden_model= / reference= an nn.Module)",
    ):
        if not isinstance(model, nn.Module):
            raise ConfigError(f"the model must be an nn.Module; got {type(model).__name__}.")
        if mia_members not in mia.MEMBER_CHOICES:
            raise ConfigError(f"mia_members must be one of {', '.join(map(repr, mia.MEMBER_CHOICES))}; got {mia_members!r}.")
        self.model = model
        self.split = split
        self.seed = _check_seed(seed)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.runtime_s = _check_runtime(runtime_s, "runtime_s")
        self.cpu_s = _check_runtime(cpu_s, "cpu_s")
        self.mia_members = mia_members
        self.no_golden_reason = no_golden_reason
        if golden is not None and not isinstance(golden, (nn.Module, EvalContext)):
            raise ConfigError(f"golden must be an nn.Module or None; got {type(golden).__name__}.")
        self._golden = golden
        self._logits: dict[str, torch.Tensor] = {}
        self._labels: dict[str, torch.Tensor] = {}
        self._missing: dict[str, str] = {}
        self._cache: dict[str, Any] = {}
        self._random_ctx: EvalContext | None = None
        self._lock = threading.Lock()  # one forward pass at a time on this model
        self._members: tuple[torch.Tensor, torch.Tensor] | None = None  # (positions, logits) before D_r is complete
        self._prefetcher: threading.Thread | None = None
        self._classes: tuple[np.ndarray, np.ndarray] | None = None  # fine classes of D_f and V_f

    # -- sets
    def _subset_name(self, name: str) -> str:
        if name not in SET_NAMES:
            raise ValueError(f"unknown set {name!r}; valid: {SET_NAMES}")
        return self.split.test_star_name if name == "test_star" else name

    def _load(self, name: str) -> None:
        if name in self._logits or name in self._missing:
            return
        with self._lock:
            if name in self._logits or name in self._missing:  # scored meanwhile by the prefetcher
                return
            sub_name = self._subset_name(name)
            if sub_name == "val_forget" and getattr(self.split, "val", None) is None:
                self._missing[name] = (
                    "needs a validation slice V, which this split's dataset has not (dataset option train_subset=N or "
                    "val_size=N, --data-option val_size=N)"
                )
                return
            if sub_name in ("test_forget", "test_retain") and getattr(self.split, sub_name) is None:
                symbol = "D_t,f" if sub_name == "test_forget" else "D_t,r"
                self._missing[name] = f"{symbol} exists only in class and sub-class scenarios; this split is {self.split.kind!r}"
                return
            try:
                subset = self._heldout_subset() if sub_name == "val_forget" else self.split.subset(sub_name)
            except ConfigError as e:  # V lacks a class of D_f: named in the reason
                self._missing[name] = str(e).rstrip(".")
                return
            if len(subset) == 0:
                self._missing[name] = f"{SET_SYMBOLS[name]} is empty"
                return
            if name == "retain" and self._members is not None:  # the members were scored first: the rest only
                positions, member_logits = self._members
                rest = torch.ones(len(subset), dtype=torch.bool)
                rest[positions] = False
                rest = torch.nonzero(rest).squeeze(1)
                logits = torch.empty((len(subset), member_logits.shape[1]), dtype=member_logits.dtype)
                logits[positions] = member_logits
                if len(rest):
                    logits[rest] = compute_logits(self.model, subset.take(rest), device=self.device,
                                                  batch_size=self.batch_size)
            else:
                logits = compute_logits(self.model, subset, device=self.device, batch_size=self.batch_size)
            if not bool(torch.isfinite(logits).all()):
                self._missing[name] = f"the model's logits on {SET_SYMBOLS[name]} contain NaN or inf"
                return
            self._labels[name] = torch.as_tensor(subset.labels, dtype=torch.int64).cpu()
            self._logits[name] = logits

    def _heldout_subset(self):
        """V_f of METRICS.md: every record of V whose (fine) class is one of D_f's; sets ``heldout_classes``."""
        ds = self.split.dataset
        classes_f = ds.labels("train")[self.split.forget].numpy()
        classes_val = ds.labels("val").numpy()
        positions = heldout_positions(classes_f, classes_val, ds.class_names())
        self._classes = (classes_f, classes_val[positions])
        return self.split.subset("val").take(torch.from_numpy(positions))

    def heldout_classes(self) -> tuple[np.ndarray, np.ndarray]:
        """The fine classes of D_f and of V_f (they set V_f's weights); ``MetricAbsent`` when V_f is unavailable."""
        self.logits("val_forget")
        return self._classes

    def logits(self, name: str) -> torch.Tensor:
        """Logits on ``name`` (``forget``, ``retain``, ``test_star``, ``test_forget``); ``MetricAbsent`` if unavailable."""
        self._load(name)
        if name in self._missing:
            raise MetricAbsent(self._missing[name])
        return self._logits[name]

    def labels(self, name: str) -> torch.Tensor:
        """Labels of ``name`` in the split's label set; ``MetricAbsent`` if unavailable."""
        self.logits(name)
        return self._labels[name]

    # -- shared pieces
    def cached(self, key: str, fn: Callable[["EvalContext"], Any]) -> Any:
        """``fn(self)``, computed once per context (an absent result is cached too)."""
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", fn(self))
            except MetricAbsent as e:
                self._cache[key] = ("absent", e.reason)
        status, value = self._cache[key]
        if status == "absent":
            raise MetricAbsent(value)
        return value

    def mia_member_positions(self) -> torch.Tensor:
        """Positions in D_r of the SVC attack's members (shared by all ``mia_efficacy*`` variants).

        Needs D_t*'s logits and the size of D_r (not its logits: the members can be scored first)."""

        def choose(ctx: EvalContext) -> torch.Tensor:
            n_test = len(ctx.logits("test_star"))
            n_retain = len(ctx.split.subset("retain"))
            return torch.as_tensor(mia.select_members(n_retain, n_test, seed=ctx.seed, members=ctx.mia_members))

        return self.cached("mia_members", choose)

    def mia_nonmember_positions(self) -> torch.Tensor:
        """Positions in D_t* of the SVC attack's non-members: as many as its members (equal classes)."""

        def choose(ctx: EvalContext) -> torch.Tensor:
            n_test = len(ctx.logits("test_star"))
            n_retain = len(ctx.split.subset("retain"))
            return torch.as_tensor(mia.select_nonmembers(n_retain, n_test, seed=ctx.seed))

        return self.cached("mia_nonmembers", choose)

    def nonmember_logits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and labels of the SVC attack's non-members of D_t*."""
        positions = self.mia_nonmember_positions()
        return self.logits("test_star")[positions], self.labels("test_star")[positions]

    def member_logits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and labels of the SVC attack's members of D_r.

        Taken from D_r's logits when they are there; else the members are scored on their own (and
        reused when D_r is scored, so no sample runs twice). The caller checks D_r itself
        (``logits("retain")``): when D_r cannot be scored, neither can an attack on it.
        """
        positions = self.mia_member_positions()
        if "retain" not in self._logits:
            with self._lock:
                if "retain" not in self._logits and self._members is None:
                    subset = self.split.subset("retain")
                    logits = compute_logits(self.model, subset.take(positions), device=self.device,
                                            batch_size=self.batch_size)
                    self._members = (positions, logits)
        if "retain" in self._logits:
            return self._logits["retain"][positions], self._labels["retain"][positions]
        labels = torch.as_tensor(self.split.subset("retain").labels, dtype=torch.int64).cpu()
        return self._members[1], labels[positions]

    def prefetch_for_attacks(self) -> None:
        """Score, in a background thread, D_t*, D_f and the SVC attack's members of D_r, then the rest of
        D_r, so an attack can be fitted while D_r is scored. Errors are left for the caller to meet
        when it asks for the set; ``join_prefetch`` waits for the thread."""
        if self._prefetcher is not None:
            return

        def run() -> None:
            steps = (lambda: self._load("test_star"), lambda: self._load("forget"), self.member_logits,
                     lambda: self._load("retain"))
            for step in steps:
                try:
                    step()
                except Exception:  # noqa: BLE001 - the caller meets the same error when it asks
                    pass

        self._prefetcher = threading.Thread(target=run, name="unlearnkit-logits", daemon=True)
        self._prefetcher.start()

    def join_prefetch(self) -> None:
        """Wait until the background scoring of ``prefetch_for_attacks`` (if any) is over."""
        if self._prefetcher is not None:
            self._prefetcher.join()

    def golden_context(self) -> "EvalContext":
        """The golden model's context (created on first use); ``MetricAbsent`` when there is none."""
        if self._golden is None:
            raise MetricAbsent(self.no_golden_reason)
        if isinstance(self._golden, nn.Module):
            if self._golden is self.model:
                self._golden = self
            else:
                self._golden = EvalContext(
                    self._golden, self.split, seed=self.seed, device=self.device, batch_size=self.batch_size,
                    mia_members=self.mia_members,
                )
        return self._golden

    def golden_logits(self, name: str) -> torch.Tensor:
        return self.golden_context().logits(name)

    def golden_module(self) -> nn.Module:
        return self.golden_context().model

    def random_logits(self, name: str) -> torch.Tensor:
        """Logits of the seeded randomly initialised copy of the model (``zrf``)."""
        if self._random_ctx is None:
            rand = random_init_copy(self.model, self.seed)
            self._random_ctx = EvalContext(
                rand, self.split, seed=self.seed, device=self.device, batch_size=self.batch_size, mia_members=self.mia_members
            )
        return self._random_ctx.logits(name)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an int; got {seed!r}.")
    return seed


def _check_runtime(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{what} must be None or a finite number of seconds >= 0; got {value!r}.")
    return float(value)
