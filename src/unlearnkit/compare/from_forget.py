"""``collect_forget``: the models of ``forget`` output folders, with the model before the request.

A ``forget`` output holds the model after (``model.safetensors``), the evidence record and, with
``--retrain``, a golden model; the records are the user's own files, so they are given again
(``data``), exactly as ``forget`` read them. The model before comes from ``before`` (its weights
file) or from the request's ledger. Every weight file is checked against the SHA-256 the record
holds, and the records against the record's sizes, so the page shows the request that was made.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

from torch import nn

from unlearnkit.compare.sources import Collection, Compared, read_record, same_or_raise
from unlearnkit.data.dataset import Dataset
from unlearnkit.deletion.forget import plan_forget
from unlearnkit.deletion.ledger import Ledger
from unlearnkit.deletion.modelio import ArchSpec, load_weights_into, read_state_dict, weights_bytes
from unlearnkit.errors import ConfigError


def _sha(model: nn.Module) -> str:
    return hashlib.sha256(weights_bytes(model)).hexdigest()


def _arch(record: dict, folder: str) -> ArchSpec:
    arch = (record.get("model") or {}).get("arch")
    if not arch:
        raise ConfigError(f"The forget output {folder} records no importable architecture (it was made with a model "
                          "object, not --arch); the page cannot rebuild its models.")
    return ArchSpec.from_dict(arch)


def _load(arch: ArchSpec, record: dict, path: Path, expected: str, what: str) -> nn.Module:
    info = record["model"]
    model = arch.build(input_shape=tuple(info["input_shape"]), num_classes=info["num_classes"], seed=record["seed"])
    load_weights_into(model, read_state_dict(path), f"The weights {path}")
    if expected and _sha(model) != expected:
        raise ConfigError(f"{path} is not {what}: its SHA-256 differs from the one in the evidence record.")
    return model.eval()


def _before(arch: ArchSpec, record: dict, folder: str, before: str | os.PathLike | None) -> nn.Module:
    expected = record["model"]["before_sha256"]
    if before is not None:
        return _load(arch, record, Path(before), expected, f"the model before request {record['request']['request_id']}")
    led = record.get("ledger") or {}
    if led.get("path") and led.get("seq"):
        info = record["model"]
        model = arch.build(input_shape=tuple(info["input_shape"]), num_classes=info["num_classes"])
        state = Ledger(led["path"]).load_state(int(led["seq"]) - 1, expected)
        return load_weights_into(model, state, f"The weights before entry {led['seq']} of {led['path']}").eval()
    raise ConfigError(f"The forget output {folder} has no ledger to take the model before from; give its weights "
                      "(--before FILE, the --weights that forget was given).")


def collect_forget(folders: Sequence[str | os.PathLike], data: Dataset, *,
                   before: str | os.PathLike | None = None) -> Collection:
    """The models of ``forget`` output folders of one request, and the model before it.

    Args:
        folders: ``forget --out`` folders of the same request (same records, same model before),
            e.g. the request run with two methods.
        data: the records as ``forget`` read them (``load_records`` with the same ``heldout``,
            ``heldout_size`` and ``seed``), so that D_f, D_r and V are the request's.
        before: the weights of the model before the request; default: from the request's ledger.

    Returns:
        A ``Collection`` of kind ``forget``: ``before``, ``golden`` (when the first folder has one) and
        each folder's model after.

    Raises:
        ConfigError: folders of different requests or models, a record without IDs or architecture,
            weights or records that are not the request's.

    Example:
        >>> data = load_records("records.npz", seed=0)                               # doctest: +SKIP
        >>> c = collect_forget(["out-finetune", "out-eu_k"], data, before="w.pt")    # doctest: +SKIP
    """
    names = [str(f) for f in folders]
    records = {f: read_record(f) for f in names}
    same_or_raise({f: r["request"].get("ids_sha256") for f, r in records.items()}, "requests (deleted IDs)")
    same_or_raise({f: r["model"].get("before_sha256") for f, r in records.items()}, "models before the request")
    same_or_raise({f: r.get("seed") for f, r in records.items()}, "seeds")
    first, rec = names[0], records[names[0]]
    if not rec["request"].get("ids"):
        raise ConfigError(f"The forget output {first} keeps only hashes of the deleted IDs (--no-store-ids); the page "
                          "needs the IDs to find the records.")
    if rec["data"].get("n_deleted_before"):
        raise ConfigError(f"Request {rec['request']['request_id']} followed earlier requests of its ledger; the page "
                          "compares first requests only (records deleted before would count as retained).")
    n_train, n_val = len(data.train_y), (len(data.val_y) if data.val_y is not None else 0)
    if (n_train, n_val) != (rec["data"]["n_train"], rec["data"]["n_heldout"]):
        raise ConfigError(f"The records given ({n_train} training, {n_val} held-out) are not the request's "
                          f"({rec['data']['n_train']} training, {rec['data']['n_heldout']} held-out); give the same "
                          "--data, --heldout, --heldout-size and --seed as forget was given.")
    arch = _arch(rec, first)
    seed = int(rec["seed"])
    before_model = _before(arch, rec, first, before)
    plan = plan_forget(before_model, data, rec["request"]["ids"], method=rec["method"]["name"],
                       params=rec["method"].get("params") or {}, seed=seed)
    models = [Compared("before", "reference", before_model, {"sha256": rec["model"]["before_sha256"]})]
    with_golden = [f for f in names if (Path(f) / "golden.safetensors").is_file()]
    if with_golden:  # the first folder made with --retrain
        golden = Path(with_golden[0]) / "golden.safetensors"
        models.append(Compared("golden", "reference", _load(arch, rec, golden, "", "the golden model"),
                               {"folder": with_golden[0]}))
    labels = [records[f]["method"]["name"] for f in names]
    out_records = {}
    for f, label in zip(names, labels):
        if labels.count(label) > 1:
            label = f"{label} ({Path(f).name})"
        r = records[f]
        after = _load(_arch(r, f), r, Path(f) / "model.safetensors", r["model"]["after_sha256"], "the model after")
        models.append(Compared(label, "subject", after, {"folder": f, "method": r["method"]["name"],
                                                         "params": r["method"].get("params") or {}}))
        out_records[label] = r
    req = rec["request"]
    title = f"{rec['data']['name']} · request {req['request_id']} · {req['n_deleted']} records ({req['shape']})"
    return Collection("forget", plan.live, plan.split, models, seed, title, out_records)


__all__ = ["collect_forget"]
