"""``forget``: delete records from the user's own model; a thin handler over ``unlearnkit.deletion``.

Exit codes as everywhere: 0 success, 2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from unlearnkit.cli.common import loose_pairs
from unlearnkit.errors import ConfigError

def add_parsers(sub: Any) -> None:
    """Add ``forget`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("forget", help="delete records from your own model: weights, evidence report, ledger entry")
    p.add_argument("--data", required=True, metavar="PATH",
                   help="the model's training records with IDs: data.npz (x, y, ids [, x_test, y_test]), a .csv or "
                        ".parquet table with an id column, or a folder (train.csv [+ test.csv], or images in class "
                        "sub-folders, optionally under train/ and test/)")
    p.add_argument("--request", required=True, metavar="FILE", help="the IDs to delete, one per line")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory to create (must not exist)")
    p.add_argument("--arch", metavar="SPEC", help="your model: an import path package.module:build (or file.py:build) "
                   "returning the nn.Module, or a built-in model name; from the ledger on later requests")
    p.add_argument("--arch-arg", dest="arch_args", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument of the factory / model (repeatable)")
    p.add_argument("--weights", metavar="FILE", help="the trained weights: .safetensors, or a .pt/.pth state dict "
                   "(read with torch.load(weights_only=True)); on later requests the ledger's latest model is used")
    p.add_argument("--heldout", metavar="PATH", help="records the model never trained on, for the evidence (same "
                   "formats as --data); default: carved out of the data's test part")
    p.add_argument("--heldout-size", type=float, default=0.5, metavar="N",
                   help="without --heldout: the share (0-1] or count (> 1) of the test part carved out; default 0.5")
    p.add_argument("--data-option", dest="data_options", action="append", default=[], metavar="KEY=VALUE",
                   help="id_column, label_column, image_size, grayscale, scale, mean, std, classes (repeatable)")
    p.add_argument("--classes", metavar="FILE", help="the class names in the model's logit order, one per line "
                   "(image folders and tables otherwise sort them by name)")
    p.add_argument("--method", default="auto", help="a method name (unlearnkit list methods) or auto (default): "
                   "measure the model's memorisation, try the rule's candidates within --budget, keep the one the "
                   "golden-free verdict rates best (docs/results/auto.md)")
    p.add_argument("--budget", metavar="SHARE", help="--method auto: the share (0, 1] of an estimated retrain's CPU "
                   "time its candidates may spend; default 0.1")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="method parameters (not with --method auto)")
    p.add_argument("--ledger", metavar="DIR", help="the deletion ledger: start from its latest model, skip IDs deleted "
                   "before, append this request")
    p.add_argument("--dry-run", action="store_true", help="with --ledger: write the output but record nothing")
    p.add_argument("--no-store-ids", action="store_true", help="keep only hashes of the deleted IDs in the ledger")
    p.add_argument("--retrain", action="store_true", help="also retrain a golden model on the retained records (with "
                   "--recipe / --set) and add the headline table")
    p.add_argument("--recipe", help="the model's training recipe, for --retrain and for --method auto's retrain "
                   "estimate: a preset (unlearnkit list recipes; default digits) or a "
                   "TOML file of recipe fields (optimizer, lr, epochs, batch_size, ...)")
    p.add_argument("--set", dest="recipe_set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the recipe (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seeds the method, the carving of V and the intervals")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda; default cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the evidence record as JSON")
    p.set_defaults(handler=forget_command)


def forget_command(args: argparse.Namespace) -> int:
    from unlearnkit.config import parse_overrides
    from unlearnkit.data.record_files import load_records
    from unlearnkit.data.records import read_ids_file
    from unlearnkit.deletion import ArchSpec, Ledger, forget, load_weights_into, read_state_dict
    from unlearnkit.deletion.recovery import check_writable
    from unlearnkit.methods import METHODS
    from unlearnkit.models import MODELS

    from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET
    from unlearnkit.deletion.auto_select import check_budget

    if args.budget is not None and args.method != "auto":
        raise ConfigError("--budget only applies with --method auto (the share of a retrain's CPU its candidates may "
                          "spend).")
    budget = DEFAULT_BUDGET if args.budget is None else check_budget(args.budget)
    if args.method == "auto" and args.params:
        raise ConfigError("--method auto takes no KEY=VALUE parameters (they depend on the method it picks); name "
                          "the method to set them.")
    params = {} if args.method == "auto" else parse_overrides(args.params, METHODS.get(args.method),
                                                              owner=f"method {args.method!r}")
    if (args.recipe or args.recipe_set) and not (args.retrain or args.method == "auto"):
        raise ConfigError("--recipe and --set only apply with --retrain or --method auto.")
    recipe = _recipe(args.recipe, args.recipe_set) if args.retrain else None
    trained_with = _recipe(args.recipe, args.recipe_set) if args.recipe or args.recipe_set else None
    if args.dry_run and not args.ledger:
        raise ConfigError("--dry-run needs --ledger (without a ledger nothing is recorded anyway).")
    out = Path(args.out)
    ledger = Ledger(args.ledger) if args.ledger else None
    if _recover(ledger, out, args.request):
        return 0
    if out.exists():
        raise ConfigError(f"Output directory {out} already exists; give a new one (nothing is overwritten).")
    check_writable(out)
    latest = 0
    if ledger is not None:
        latest = ledger.check().n_entries
    ids = read_ids_file(args.request)
    size = args.heldout_size
    heldout_size = int(size) if size > 1 and float(size).is_integer() else size
    options = loose_pairs(args.data_options)
    if args.classes is not None:
        if "classes" in options:
            raise ConfigError("Give the class order once: --classes FILE or --data-option classes=..., not both.")
        if not Path(args.classes).is_file():
            raise ConfigError(f"Classes file {args.classes} does not exist (one class name per line, logit order).")
        options["classes"] = args.classes
    data = load_records(args.data, heldout=args.heldout, heldout_size=heldout_size, seed=args.seed, **options)
    arch_kwargs = loose_pairs(args.arch_args)
    arch = None
    if args.arch:
        arch = ArchSpec.parse(args.arch)
        if arch.is_builtin:
            arch_kwargs = parse_overrides(args.arch_args, MODELS.get(arch.target), owner=f"model {arch.target!r}")
        arch = ArchSpec.parse(args.arch, arch_kwargs)
    elif args.arch_args:
        raise ConfigError("--arch-arg needs --arch.")
    model = None
    if args.weights:
        if arch is None:
            if not latest:
                raise ConfigError("--weights needs --arch: the import path of your model's factory "
                                  "(package.module:build) or a built-in model name.")
            recorded = (ledger.find(latest).get("model") or {}).get("arch")
            if not recorded:
                raise ConfigError("--weights needs --arch: the ledger records no importable architecture.")
            arch = ArchSpec.from_dict(recorded)
        model = arch.build(input_shape=data.input_shape, num_classes=data.num_classes, seed=args.seed)
        load_weights_into(model, read_state_dict(args.weights), f"The weights {args.weights}")
    elif not latest:
        raise ConfigError("The first request needs the model: --arch (package.module:build) and --weights FILE.")
    result = forget(model, data, ids, method=args.method, params=params, ledger=ledger, out=out, arch=arch,
                    retrain=recipe, seed=args.seed, device=args.device, store_ids=not args.no_store_ids,
                    dry_run=args.dry_run, budget=budget, recipe=trained_with)
    if args.json:
        print(json.dumps(result.record, indent=2, sort_keys=True, default=str))
        return 0
    _print_result(result)
    return 0


def _recover(ledger, out: Path, request: str) -> bool:
    """Finish or remove what killed requests left (notes on stderr); True when ``out`` now holds this very request."""
    import sys

    from unlearnkit.data.records import read_ids_file
    from unlearnkit.deletion.ledger import ids_sha256
    from unlearnkit.deletion.recovery import recover

    existed = out.exists()
    for note in recover(ledger, out.parent):
        print(f"note: {note}", file=sys.stderr)
    entry_file = out / "ledger-entry.json"
    if existed or not entry_file.is_file() or not Path(request).is_file():
        return False
    try:
        entry = json.loads(entry_file.read_text())
    except ValueError:
        return False
    if entry.get("ids_sha256") != ids_sha256(read_ids_file(request)):
        raise ConfigError(f"Output directory {out} now holds request {entry.get('request_id')}, finished from an "
                          "interrupted run; give a new --out for this request.")
    print(f"{out} holds this request, recorded as {entry.get('request_id')} (entry {entry.get('seq')}, hash "
          f"{entry.get('hash')}); nothing more to do.")
    return True


def _recipe(name: str | None, overrides: list[str]):
    """The ``--retrain`` recipe: a preset name, or a TOML file of ``Recipe`` fields (top level or ``[recipe]``)."""
    import tomllib

    from unlearnkit.config import init_params, parse_overrides
    from unlearnkit.training import Recipe, get_recipe

    if name is None or not name.endswith(".toml"):
        return get_recipe(name or "digits", overrides)
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f"Recipe file {name} does not exist.")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Recipe file {name} is not valid TOML ({exc}).") from None
    fields = table.get("recipe", table)
    valid = init_params(Recipe)
    unknown = [k for k in fields if k not in valid]
    if unknown or not isinstance(fields, dict):
        raise ConfigError(f"Recipe file {name}: unknown field {unknown[0] if unknown else fields!r}. Valid fields: "
                          f"{', '.join(sorted(valid))}.")
    return Recipe(**{**fields, **parse_overrides(overrides, Recipe, owner=f"recipe {name}")})


def _print_result(result) -> None:
    r = result.record
    req, method, ev = r["request"], r["method"], r["evidence"]
    shape = f"every record of class {', '.join(req['classes'])}" if req["shape"] == "class" else "scattered"
    print(f"request {req['request_id']}: {req['n_deleted']} record(s) deleted ({shape})")
    if req.get("already_deleted"):
        by = ", ".join(sorted({str(s) for s in req["already_deleted"].values()}))
        shown = ", ".join(list(req["already_deleted"])[:5]) + (", ..." if len(req["already_deleted"]) > 5 else "")
        print(f"  {len(req['already_deleted'])} ID(s) already deleted by request(s) {by}, skipped: {shown}")
    params = " ".join(f"{k}={v}" for k, v in method["params"].items())
    print(f"method: {method['name']} {params} ({method['runtime_s']:.2f} s)")
    if method.get("choice"):
        print(f"  chosen by --method auto: {method['choice']['why']} (see {method['choice']['source']})")
    print(f"verdict: {ev['verdict_title']}. {ev['verdict_text']}")
    print(f"  {'from the comparison with the retrained model' if ev['basis'] == 'golden' else 'golden-free'}; "
          f"{ev['margins']}")
    for w in ev["warnings"]:
        print(f"warning: {w}")
    from unlearnkit.deletion.evidence import LABELS, fmt

    print(f"{'':42s} {'interval':>28s}  position")
    for q in ("forget", "kept"):
        for st in ev["detail"].get(q, {}).get("stats", []):
            print(f"{LABELS.get(st['name'], st['name']):42s} {fmt(st):>28s}  {st['position']}")
    labels = {"deleted": "acc deleted", "retained": "acc retained", "heldout": "acc held-out",
              "heldout_forget": "acc held-out V_f"}
    print(f"{'':18s} {'before':>24s} {'after':>24s}")
    for key, label in labels.items():
        a = ev["accuracy"].get(key, {"before": None, "after": None})
        if a["before"] is not None or a["after"] is not None:
            cells = [f"{v:>23.2f}%" if v is not None else f"{'—':>24s}" for v in (a["before"], a["after"])]
            print(f"{label:18s} {cells[0]} {cells[1]}")
    if r.get("headline"):
        h = r["headline"]
        print("against the retrained (golden) model: " + ", ".join(
            f"{m} {h['rows']['unlearned'][m]:.2f} (golden {h['rows']['golden'][m]:.2f})"
            for m in ("ua", "ra", "ta", "mia_efficacy", "avg_gap") if m in h["rows"].get("unlearned", {})
            and m in h["rows"].get("golden", {})))
    print(f"held-out slice: {r['data']['heldout_note']}")
    if result.out is not None:
        print(f"written: {result.out}/ (model.safetensors, evidence.md, evidence.html, evidence.json)")
    led = r.get("ledger")
    if led and not led["dry_run"]:
        print(f"ledger: {led['path']} entry {led['seq']}, hash {led['entry_hash']}")
        if led.get("keep_head"):
            print(f"  {led['keep_head']}")
    elif led:
        print(f"ledger: {led['path']} (dry run: nothing recorded)")
