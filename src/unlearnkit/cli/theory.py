"""``theory``: the closed-form fine-tuning lab (overparameterised linear regression)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unlearnkit.cli.common import emit_json
from unlearnkit.errors import ConfigError

def add_parsers(sub: Any) -> None:
    """Add ``theory`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("theory", help="the fine-tuning theory lab: overparameterised linear regression, 5 models x 4 losses")
    p.add_argument("--d", type=int, default=200, help="number of features; default 200")
    p.add_argument("--n-f", type=int, default=20, help="forget samples; default 20")
    p.add_argument("--n-r", type=int, default=60, help="remaining samples; default 60")
    p.add_argument("--size-f", type=int, default=40, help="|S_f|, features only forget samples use; default 40")
    p.add_argument("--size-o", type=int, default=20, help="|S_o|, features both use (0: distinct features); default 20")
    p.add_argument("--size-r", type=int, default=100, help="|S_r|, features only remaining samples use; default 100")
    p.add_argument("--noise", type=float, default=0.0, help="standard deviation of the label noise; default 0")
    p.add_argument("--seed", type=int, default=0, help="seeds w*, the samples and the noise; default 0")
    p.add_argument("--n-test", type=int, default=2000, help="fresh samples per distribution for the generalisation losses; default 2000")
    p.add_argument("--sweep", choices=("overlap",), help="also sweep the overlap ratio |S_o|/(|S_o|+|S_f|) from 0 to 1")
    p.add_argument("--repeats", type=int, default=10, help="seeds averaged at each point of the sweep; default 10")
    p.add_argument("--out", help="directory of the sweep's theory_overlap.png and .csv; default ./unlearnkit-theory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_theory)


def _theory(args) -> int:
    from unlearnkit.theory import TheoryConfig, describe_sweep, format_table, run, sweep_csv, sweep_overlap, sweep_png
    from unlearnkit.fileio import atomic_write_bytes

    if args.out is not None and args.sweep is None:
        raise ConfigError("--out is only used with --sweep overlap.")
    cfg = TheoryConfig(d=args.d, n_f=args.n_f, n_r=args.n_r, size_f=args.size_f, size_o=args.size_o,
                       size_r=args.size_r, noise=args.noise, seed=args.seed, n_test=args.n_test)
    table = run(cfg)
    if args.sweep is None:
        if args.json:
            emit_json(table)
        else:
            print(format_table(table))
        return 0
    out = Path(args.out or "unlearnkit-theory")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"Cannot write into {out}: it is not a directory.")
    rows = sweep_overlap(cfg, repeats=args.repeats)
    png, text = sweep_png(rows), sweep_csv(rows)  # everything is computed before anything is written
    paths = [out / "theory_overlap.png", out / "theory_overlap.csv"]
    atomic_write_bytes(paths[0], png)
    atomic_write_bytes(paths[1], text.encode())
    if args.json:
        emit_json({"table": table, "sweep": rows, "files": [str(p) for p in paths]})
        return 0
    print(format_table(table))
    print()
    for line in describe_sweep(rows):
        print(line)
    for path in paths:
        print(path)
    return 0
