"""Recording runs: the SQLite run store and the experiment pipeline that fills it."""

from unlearnkit.runs.store import RunStore

__all__ = ["RunStore"]
