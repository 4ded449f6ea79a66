"""``plan_forget``: check a deletion request before anything runs (the first step of ``forget``).

Checks, in order: the data (a ``Dataset`` with record IDs), the IDs (unknown, repeated, empty), the
held-out slice, the seed, the ledger, the starting model (the ledger's latest, or the one given), the
IDs deleted before, the request's shape, the method, and whether the model takes the data's records.
Nothing is written here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from unlearnkit.data.class_order import shown
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.forget import ForgetSpec
from unlearnkit.data.records import check_request_ids, drop_train, with_heldout
from unlearnkit.data.split import make_split
from unlearnkit.deletion.auto import recommend, request_shape
from unlearnkit.deletion.ledger import Ledger
from unlearnkit.deletion.modelio import ArchSpec, weights_bytes
from unlearnkit.deletion.preflight import check_fit, resolve_request
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import make_method
from unlearnkit.metrics.context import compute_logits


@dataclass
class ForgetPlan:
    """A checked request, not yet run (``plan_forget``): the starting model, the records as they are
    now (``live``: without the records deleted before), the split, the request's shape and the method."""

    before: nn.Module
    arch: ArchSpec | None
    live: Dataset
    split: Any
    shape: str
    classes: list[str]
    ids: tuple[str, ...]
    already: dict[str, int]
    estimator: Any
    choice: dict[str, Any] | None
    ledger: Ledger | None
    seq: int
    before_bytes: bytes
    dropped: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_forget(model: nn.Module | None, data: Dataset, delete_ids: Iterable[Any], *, method: str = "auto",
                params: Mapping[str, Any] | None = None, heldout: Any = None, ledger: str | os.PathLike | Ledger | None = None,
                arch: ArchSpec | None = None, seed: int = 0, device: str = "cpu") -> ForgetPlan:
    """Check a request without running it (see ``forget``); returns what ``forget`` will do."""
    data, ids = _check_data(data, delete_ids, heldout, seed)
    led = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
    seq = 0
    if led is not None:
        led.check()
        seq = led.head()[0]
    model, arch = _starting_model(model, arch, led, seq)

    already = led.deleted_by(ids) if led is not None else {}
    new_ids = [i for i in ids if i not in already]
    if not new_ids:
        raise ConfigError(f"Every ID of the request was already deleted (by request(s) "
                          f"{shown(sorted(set(already.values())))}); there is nothing left to do.")
    live, dropped = _live_records(data, led, seq)
    positions = resolve_request(live, new_ids)
    shape, class_idx = request_shape(live.train_y.numpy(), positions)
    if shape == "class":
        split = make_split(live, ForgetSpec(kind="class", classes=tuple(class_idx)), seed=seed)
    else:
        split = make_split(live, ForgetSpec.of_ids(new_ids), seed=seed)

    est, choice = _estimator(method, params, shape)
    _check_model_takes(model, live, split, seed, device)
    before_bytes = weights_bytes(model)
    return ForgetPlan(model, arch, live, split, shape, [live.classes[c] for c in class_idx], tuple(new_ids), already, est,
                 choice, led, seq, before_bytes, dropped)


def _check_data(data: Dataset, delete_ids: Iterable[Any], heldout: Any, seed: int) -> tuple[Dataset, list[str]]:
    """The data (with record IDs and a held-out slice), the request's IDs and the seed."""
    if not isinstance(data, Dataset):
        raise ConfigError(f"data must be a unlearnkit Dataset (Dataset.from_arrays(x, y, ids=...)); got "
                          f"{type(data).__name__}.")
    if data.train_ids is None:
        raise ConfigError(f"Dataset {data.name!r} has no record IDs; build it with Dataset.from_arrays(x, y, ids=...) "
                          "so that requests can name records.")
    ids = check_request_ids(delete_ids)
    if heldout is not None:
        data = with_heldout(data, heldout)
    if not data.has_val:
        raise ConfigError(
            "No held-out records for the evidence: give heldout= (records the model never trained on; "
            "--heldout FILE) or a test part to carve them from (test= in Dataset.from_arrays; x_test/y_test, "
            "test.csv or a test/ folder)."
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an int; got {seed!r}.")
    return data, ids


def _starting_model(model: nn.Module | None, arch: ArchSpec | None, led: Ledger | None,
                    seq: int) -> tuple[nn.Module, ArchSpec | None]:
    """The model the request starts from (the ledger's latest, or the one given, which must be it) and its
    architecture."""
    if arch is None and model is not None and getattr(model, "arch_name", None):
        arch = ArchSpec(model.arch_name, dict(model.arch_kwargs))
    if seq:
        head = led.find(seq)
        recorded = head.get("model", {}).get("arch")
        if arch is not None and recorded and ArchSpec.from_dict(recorded) != arch:
            raise ConfigError(f"The architecture {arch} is not the ledger's ({ArchSpec.from_dict(recorded)}); a ledger "
                              "records one model.")
        if model is None:
            model = led.load_model(seq)
            arch = ArchSpec.from_dict(recorded) if recorded else arch
        else:
            sha = sha256_hex(weights_bytes(model))
            if sha != head["model_after_sha256"]:
                raise ConfigError(
                    f"The model given is not the ledger's latest (the model after request {seq}, "
                    f"{head['request_id']}): its weights hash {sha[:12]}... differs from {head['model_after_sha256'][:12]}.... "
                    "Leave out the model (--weights) to continue from the ledger."
                )
            if arch is None and recorded:
                arch = ArchSpec.from_dict(recorded)
    elif model is None:
        raise ConfigError("The first request needs the model (--arch and --weights): the ledger holds no model yet.")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    return model.to("cpu").eval(), arch


def _live_records(data: Dataset, led: Ledger | None, seq: int) -> tuple[Dataset, int]:
    """The records as they are now: without those deleted by earlier requests (and without the test records
    of classes deleted whole); and how many were left out."""
    dropped_pos: list[int] = []
    if led is not None and seq:
        prev_ids, prev_hashes = led.deleted()
        for k, rid in enumerate(data.train_ids):
            if rid in prev_ids or (prev_hashes and led.id_hash(rid) in prev_hashes):
                dropped_pos.append(k)
    live = drop_train(data, dropped_pos) if dropped_pos else data
    gone = sorted(set(data.train_y.unique().tolist()) - set(live.train_y.unique().tolist()))
    if gone and len(live.test_y):  # classes deleted whole before: their test records judge nothing any more
        keep = torch.nonzero(~torch.isin(live.test_y, torch.tensor(gone))).flatten()
        live = dataclasses.replace(live, test_x=live.test_x[keep], test_y=live.test_y[keep],
                                   test_ids=None if live.test_ids is None else tuple(live.test_ids[int(i)] for i in keep),
                                   test_note=f"{live.test_note}; without the {len(live.test_y) - len(keep)} test records "
                                             f"of class(es) {', '.join(live.classes[c] for c in gone)}, deleted before")
    return live, len(dropped_pos)


def _estimator(method: str, params: Mapping[str, Any] | None, shape: str) -> tuple[Any, dict[str, Any] | None]:
    """The method's estimator, and with ``"auto"`` the rule's recommendation for the request's shape."""
    params = dict(params or {})
    choice = None
    if method == "auto":
        rec = recommend(shape)
        est = make_method(rec.method, {**rec.params, **params})
        choice = {**rec.to_dict(), "params": est.get_params()}
    else:
        est = make_method(method, params)
    return est, choice


def _check_model_takes(model: nn.Module, live: Dataset, split: Any, seed: int, device: str) -> None:
    """One record through the model: it must run, and return one logit per class in the data's order."""
    try:
        probe = compute_logits(model, split.subset("forget").take(torch.arange(1)), device=device)
    except ConfigError:
        raise
    except Exception as exc:  # the user's forward pass: say what it was given, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"The model cannot take the data's records (one record has shape {live.input_shape}, "
                          f"dtype float32): {type(exc).__name__}: {first[:200]}") from None
    if probe.shape[1] != split.num_classes:
        raise ConfigError(
            f"The model returns {probe.shape[1]} logits per record, but the data has {split.num_classes} classes "
            f"({', '.join(live.classes[:12])}{', ...' if len(live.classes) > 12 else ''}); give the class names in "
            "logit order (classes= / a 'classes' array) so that they match."
        )
    check_fit(model, live, seed=seed, device=device)  # a permuted label order is refused here, before any work


__all__ = ["ForgetPlan", "plan_forget", "sha256_hex"]
