"""``list``: what is registered (methods, metrics, datasets, models, recipes)."""

from __future__ import annotations

from typing import Any

from unlearnkit.cli.common import emit_json

LISTABLE = ("methods", "metrics", "datasets", "models", "recipes")

def add_parsers(sub: Any) -> None:
    """Add ``list`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("list", help="list registered methods, metrics, datasets, models or recipes")
    p.add_argument("what", choices=LISTABLE)
    p.add_argument("--json", action="store_true", help="print the list as JSON (one object per entry)")
    p.set_defaults(handler=_list)


def _list(args) -> int:
    entries = list_entries(args.what)
    if args.json:
        emit_json(entries)
        return 0
    for e in entries:
        if args.what == "methods":
            print(f"{e['name']:16s} access={e['access']:15s} {e['summary']}")
        elif args.what == "metrics":
            print(f"{e['name']:26s} [{e['direction_text']}] {e['definition']}")
        elif args.what == "recipes":
            print(f"{e['name']:16s} " + " ".join(f"{k}={v}" for k, v in e["fields"].items()))
        else:
            print(f"{e['name']:16s} {e['summary']}")
    return 0


def list_entries(what: str) -> list[dict[str, Any]]:
    """The entries of ``unlearnkit list WHAT`` (``methods``, ``metrics``, ``datasets``, ``models`` or
    ``recipes``), one dict each, as ``--json`` prints them."""
    import inspect

    from unlearnkit.data import DATASETS
    from unlearnkit.methods import METHODS
    from unlearnkit.metrics import METRICS
    from unlearnkit.models import MODELS
    from unlearnkit.training import RECIPES

    def defaults(cls) -> dict[str, Any]:
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}

    if what == "methods":
        return [{"name": name, "access": cls.access.value, "summary": _first_line(cls.__doc__),
                 "defaults": defaults(cls)} for name, cls in METHODS.items()]
    if what == "metrics":
        return [{**entry.card.to_dict(), "direction_text": entry.card.direction_text} for _, entry in METRICS.items()]
    if what == "datasets":
        return [{"name": name, "summary": _first_line(loader.__doc__)} for name, loader in DATASETS.items()]
    if what == "models":
        return [{"name": name, "summary": _first_line(cls.__doc__), "defaults": defaults(cls)}
                for name, cls in MODELS.items()]
    return [{"name": name, "fields": dict(fields)} for name, fields in sorted(RECIPES.items())]


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""
