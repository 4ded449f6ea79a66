"""``compare``: one self-contained HTML page comparing runs, or ``forget`` outputs; a thin handler over
``unlearnkit.compare``.

Exit codes as everywhere: 0 success, 2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
from typing import Any

from unlearnkit.cli.common import loose_pairs


def add_parsers(sub: Any) -> None:
    """Add ``compare`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("compare", help="an interactive HTML page comparing runs (or forget outputs) view by view")
    p.add_argument("sources", nargs="+", metavar="RUN_OR_FOLDER",
                   help="run ids of the run store (unlearnkit runs), or forget output folders of one request")
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML page to write (.html)")
    p.add_argument("--home", help="the run store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    p.add_argument("--data", metavar="PATH", help="forget outputs: the records, as given to forget --data")
    p.add_argument("--heldout", metavar="PATH", help="forget outputs: the held-out records, as given to forget")
    p.add_argument("--heldout-size", type=float, default=0.5, metavar="N",
                   help="forget outputs: as given to forget (default 0.5)")
    p.add_argument("--data-option", dest="data_options", action="append", default=[], metavar="KEY=VALUE",
                   help="forget outputs: as given to forget (repeatable)")
    p.add_argument("--seed", type=int, default=None,
                   help="forget outputs: the seed forget was given (default: the one it recorded)")
    p.add_argument("--before", metavar="FILE",
                   help="forget outputs without a ledger: the weights of the model before the request (forget --weights)")
    p.add_argument("--sample", type=int, default=2000, metavar="N",
                   help="records per set used by the views (a seeded sample of larger sets; default 2000)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=compare_command)


def compare_command(args: argparse.Namespace) -> int:
    from unlearnkit.compare import Budget, compare
    from unlearnkit.compare.sources import classify_sources, read_record
    from unlearnkit.data.record_files import load_records
    from unlearnkit.errors import ConfigError

    budget = Budget(records=args.sample)
    data = None
    if args.data is not None:
        if classify_sources(args.sources) != "forget":
            raise ConfigError("--data is for forget outputs; runs of the run store carry their data.")
        seed = args.seed if args.seed is not None else int(read_record(args.sources[0]).get("seed", 0))
        size = args.heldout_size
        heldout_size = int(size) if size > 1 and float(size).is_integer() else size
        data = load_records(args.data, heldout=args.heldout, heldout_size=heldout_size, seed=seed,
                            **loose_pairs(args.data_options))
    result = compare(args.sources, args.out, home=args.home, data=data, before=args.before, budget=budget)
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB; {', '.join(result.models)}) in "
          f"{result.wall_s:.1f} s ({result.cpu_s:.1f} CPU s)")
    return 0
