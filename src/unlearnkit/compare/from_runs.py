"""``collect_runs``: the models of runs of the run store, with their shared original and golden models."""

from __future__ import annotations

import os
from typing import Sequence

from unlearnkit.compare.sources import Collection, Compared, same_or_raise
from unlearnkit.errors import ConfigError, StoreError
from unlearnkit.report.aggregate import variant_key, variant_labels
from unlearnkit.runs.experiment import Workspace, build, config_from_run, load_context, reference_keys

#: Config fields that must agree between compared runs, in the order they are checked (first the
#: dataset, then the split, then what fixes the original model).
SHARED_FIELDS = (("dataset", ("dataset", "data_options")), ("split", ("forget", "split")),
                 ("original model", ("model", "model_kwargs", "resolved_recipe", "seed")))


def collect_runs(run_ids: Sequence[str], *, home: str | os.PathLike | None = None) -> Collection:
    """The unlearned models of ``run_ids``, the original model and (when stored) the golden model.

    Every run must be finished and share the dataset, the split and the original model (architecture,
    recipe, seed); the golden model is shown when the model store still holds it.

    Args:
        run_ids: ids of the run store (``unlearnkit runs``).
        home: the run store's home (default ``$UNLEARNKIT_HOME``).

    Returns:
        A ``Collection`` of kind ``runs``.

    Raises:
        StoreError: no run store, or an unknown run id. ConfigError: an unfinished run, runs of
            different datasets, splits or original models, an original model no longer stored.

    Example:
        >>> c = collect_runs(["738609b7158a", "ca79cfe1f4e3"], home="/tmp/home")  # doctest: +SKIP
        >>> [m.label for m in c.models]                                             # doctest: +SKIP
        ['original', 'golden', 'finetune', 'eu_k']
    """
    ws = Workspace(home)
    store = ws.existing_runs()
    if store is None:
        raise StoreError(f"No run store in {ws.home} (no runs.sqlite); give --home where the runs were made.")
    rows = [store.get(str(r)) for r in run_ids]
    for row in rows:
        if row["status"] != "done" or not row.get("unlearned_key"):
            raise ConfigError(f"Run {row['id']} has status {row['status']!r}; only finished runs can be compared.")
    for what, keys in SHARED_FIELDS:
        same_or_raise({r["id"]: {k: (r["config"] or {}).get(k) for k in keys} for r in rows}, what)
    ctx = load_context(config_from_run(rows[0]))
    if ctx.split.fingerprint != rows[0]["split_fingerprint"]:
        raise ConfigError(f"Run {rows[0]['id']}'s split no longer matches its dataset (fingerprint "
                          f"{ctx.split.fingerprint} against the recorded {rows[0]['split_fingerprint']}); the data changed.")
    keys = reference_keys(ctx)
    if not ws.models.has(keys["original"]):
        raise ConfigError(f"The original model of run {rows[0]['id']} is no longer in the model store "
                          f"{ws.models.root}; re-run 'unlearnkit train' with the run's config to restore it.")
    models = [Compared("original", "reference", ws.models.load_into(keys["original"], build(ctx)).eval(),
                       {"key": keys["original"]})]
    if ws.models.has(keys["golden"]):
        models.append(Compared("golden", "reference", ws.models.load_into(keys["golden"], build(ctx)).eval(),
                               {"key": keys["golden"]}))
    labels = variant_labels(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[labels[variant_key(row)]] = counts.get(labels[variant_key(row)], 0) + 1
    for row in rows:
        label = labels[variant_key(row)]
        if counts[label] > 1:
            label = f"{label} {row['id']}"
        model = ws.models.load_into(row["unlearned_key"], build(ctx)).eval()
        models.append(Compared(label, "subject", model, {
            "run_id": row["id"], "method": row["method"], "params": row.get("params") or {},
            "metrics": row.get("metrics") or {}, "runtime_s": row.get("runtime_s"), "row": row}))
    cfg = ctx.config
    title = f"{cfg.dataset} · {cfg.model} · forget {ctx.split.spec} · seed {cfg.seed}"
    return Collection("runs", ctx.dataset, ctx.split, models, cfg.seed, title)


__all__ = ["SHARED_FIELDS", "collect_runs"]
