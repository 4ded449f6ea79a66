"""``load_run_model``: the model of any recorded run, from the run store or from a deletion ledger."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from unlearnkit.errors import ConfigError


def load_run_model(run_id: str | int, *, home: str | os.PathLike | None = None,
                   ledger: str | os.PathLike | None = None, model: nn.Module | None = None) -> nn.Module:
    """The unlearned model of a recorded run, weights checked against their recorded SHA-256.

    Args:
        run_id: a run id of the run store (``unlearnkit runs``), or with ``ledger`` a request id
            (``unlearnkit ledger show``), a request number or ``"latest"``.
        home: the run store's home (default ``$UNLEARNKIT_HOME`` or ``~/.cache/unlearnkit``).
        ledger: a deletion ledger directory (``unlearnkit forget --ledger``).
        model: a module of the right architecture to load into; by default it is rebuilt (a
            built-in architecture, or the ledger's recorded import path).

    Returns:
        The model, in eval mode on the CPU.

    Raises:
        ConfigError / StoreError: an unknown run, a run that did not finish, weights that changed.

    Example:
        >>> model = load_run_model("3f2a9c1d0b7e")                         # doctest: +SKIP
        >>> model = load_run_model("latest", ledger="deletions/ledger")     # doctest: +SKIP
    """
    if ledger is not None:
        from unlearnkit.deletion.ledger import Ledger

        led = Ledger(ledger)
        if not led.exists:
            raise ConfigError(f"{ledger} is not a deletion ledger (no LEDGER file).")
        led.check()
        return led.load_model(run_id, model)
    from unlearnkit.runs.experiment import Workspace, build, config_from_run, load_context

    ws = Workspace(home)
    if not (Path(ws.home) / "runs.sqlite").is_file():
        raise ConfigError(f"No run store in {ws.home} (no runs.sqlite); give home= (--home) where the runs were made.")
    row = ws.runs.get(str(run_id))
    if row["status"] != "done" or not row.get("unlearned_key"):
        raise ConfigError(f"Run {run_id} has status {row['status']!r} and no stored model; only finished runs have one.")
    if model is None:
        model = build(load_context(config_from_run(row)))
    return ws.models.load_into(row["unlearned_key"], model)
