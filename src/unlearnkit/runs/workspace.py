"""The home directory of an experiment: its model store and run store, checked before anything is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from unlearnkit.errors import StoreError
from unlearnkit.metrics import Scores
from unlearnkit.runs.store import RunStore
from unlearnkit.training import ModelStore, default_home
from unlearnkit.training.store import content_key


RUNS_FILE = "runs.sqlite"
MODELS_DIR = "models"


class Workspace:
    """The model store and run store under one home directory (``$UNLEARNKIT_HOME``).

    Golden and original scores are kept in memory for the life of the workspace, so a demo that
    compares several methods evaluates each reference model once.

    Raises:
        StoreError: ``home`` (or a folder on its way) is a file, or a store inside it has the wrong
            kind (``models`` a file, ``runs.sqlite`` a folder).
    """

    def __init__(self, home: str | Path | None = None):
        self.home = Path(home) if home is not None else default_home()
        check_home(self.home)
        self.models = ModelStore(self.home / MODELS_DIR)
        self._runs: RunStore | None = None
        self._scores: dict[tuple, Scores] = {}
        self._tidied = False

    @property
    def runs(self) -> RunStore:
        """The run store, for writing: created when missing (after ``check_writable``)."""
        if self._runs is None:
            self.check_writable()
            self._runs = RunStore(self.home / RUNS_FILE)
        return self._runs

    def existing_runs(self) -> RunStore | None:
        """The run store for reading, or ``None`` when this home has none yet; creates nothing."""
        if self._runs is not None:
            return self._runs
        path = self.home / RUNS_FILE
        return RunStore(path, create=False) if path.exists() else None

    def check_writable(self) -> None:
        """Raise ``StoreError`` unless the home (or the folder it will be made in) and its stores can be written.

        Called before any work of a command that writes, so that a read-only home fails at once with
        nothing trained."""
        existing = self.home
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        for path in (existing, self.home / MODELS_DIR, self.home / RUNS_FILE):
            if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
                raise StoreError(f"Cannot write to the home {self.home}: {path} is read-only; make it writable or "
                                 f"choose another --home (or $UNLEARNKIT_HOME).")

    def tidy(self) -> list[str]:
        """Clean up after killed processes, once per workspace: mark the runs of gone owners interrupted,
        remove the unlearned models of interrupted runs, and remove abandoned temporary files of the
        model store. Returns the ids of the runs marked interrupted now."""
        if self._tidied:
            return []
        self._tidied = True
        reaped = self.runs.reap()
        self.drop_unlearned([r["id"] for r in self.runs.list(status="failed")])
        self.models.remove_abandoned_temp_files()
        return reaped

    def drop_unlearned(self, run_ids: Sequence[str]) -> int:
        """Remove the unlearned models of these (unfinished) runs from the model store; returns how many existed."""
        return sum(self.models.delete(content_key(unlearned_spec(rid))) for rid in run_ids)


def unlearned_spec(run_id: str) -> dict[str, str]:
    """The model-store spec of a run's unlearned model."""
    return {"kind": "unlearned", "run": run_id}


def check_home(home: Path) -> None:
    """Raise ``StoreError`` when ``home`` cannot be a home directory: it, or a folder on its way, is a
    file; or ``models`` inside it is a file, or ``runs.sqlite`` a folder. Writes nothing."""
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        if existing == home:
            raise StoreError(f"The home {home} is a file, not a directory; give a directory as --home "
                             f"(or $UNLEARNKIT_HOME), e.g. {home.parent / 'unlearnkit-home'}.")
        raise StoreError(f"The home {home} cannot be created: {existing} is a file, not a directory.")
    if (home / MODELS_DIR).exists() and not (home / MODELS_DIR).is_dir():
        raise StoreError(f"The model store {home / MODELS_DIR} is a file, not a directory; move it away or choose "
                         f"another --home.")
    if (home / RUNS_FILE).is_dir():
        raise StoreError(f"The run store {home / RUNS_FILE} is a directory, not a file; move it away or choose "
                         f"another --home.")
