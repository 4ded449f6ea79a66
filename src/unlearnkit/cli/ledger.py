"""``ledger show`` and ``ledger verify``: read a deletion ledger.

``ledger show`` and ``ledger verify`` exit 1 when the ledger does not verify (``verify`` also when
``--model`` or an ``--out`` folder does not match); bad input exits 2. ``verify`` reports requests
that were killed (``unlearnkit.deletion.recovery``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from unlearnkit.errors import ConfigError

def add_parsers(sub: Any) -> None:
    """Add ``ledger`` (``show``, ``verify``) to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("ledger", help="show or verify a deletion ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True, parser_class=type(p))
    q = lsub.add_parser("show", help="list the requests of a ledger; exit 1 when it does not verify")
    q.add_argument("ledger", metavar="DIR")
    q.add_argument("--json", action="store_true")
    q = lsub.add_parser("verify", help="recompute the hash chain and the weight hashes; exit 1 when they fail")
    q.add_argument("ledger", metavar="DIR")
    q.add_argument("--expect-head", metavar="HASH", help="the head hash you kept: detects removed last entries")
    q.add_argument("--model", metavar="FILE", help="also check that these weights are the ledger's latest model")
    q.add_argument("--out", dest="outputs", action="append", default=[], metavar="DIR",
                   help="also check that this output folder's model, evidence and entry belong together and to the "
                        "ledger (repeatable)")
    q.add_argument("--json", action="store_true")
    p.set_defaults(handler=ledger_command)


def ledger_command(args: argparse.Namespace) -> int:
    from unlearnkit.deletion import Ledger, read_state_dict, weights_sha256
    from unlearnkit.deletion.outputs import check_output
    from unlearnkit.deletion.recovery import describe, pending

    ledger = Ledger(args.ledger)
    if not Path(args.ledger).is_dir():
        raise ConfigError(f"No ledger at {args.ledger}: the directory does not exist.")
    if not ledger.exists:
        left = [line for line in map(describe, pending(ledger)) if line]
        raise ConfigError(f"{args.ledger} is not a ledger (no LEDGER file; a ledger is made by 'unlearnkit forget "
                          "--ledger DIR')" + (f"; {left[0]}" if left else "") + ".")
    if args.ledger_command == "show":
        entries = ledger.entries()
        seq, head = ledger.head()
        if args.json:
            v = ledger.verify()
            print(json.dumps({"entries": entries, "head": {"seq": seq, "hash": head}, "verified": v.ok,
                              "problem": v.problem}, indent=2, sort_keys=True))
            return 0 if v.ok else 1
        print(f"{'#':>3s}  {'request':22s} {'time':20s} {'deleted':>7s}  {'shape':9s} {'method':14s} "
              f"{'verdict':14s} weights after")
        for e in entries:
            verdict = (e.get("evidence") or {}).get("verdict", "?")
            print(f"{e.get('seq', '?')!s:>3s}  {e.get('request_id', '?')!s:22s} {e.get('time', '?')!s:20s} "
                  f"{e.get('n_deleted', '?')!s:>7s}  {e.get('shape', '?')!s:9s} {e.get('method', '?')!s:14s} "
                  f"{verdict!s:14s} {str(e.get('model_after_sha256', '?'))[:16]}")
        v = ledger.verify()
        print(f"head: entry {seq}, hash {head}" if seq else "the ledger has no entries")
        if not v.ok:
            print(f"error: the ledger does not verify: {v.problem}", file=sys.stderr)
        return 0 if v.ok else 1
    v = ledger.verify(expect_head=args.expect_head)
    model_line, model_ok = None, True
    if args.model and v.ok:
        sha = weights_sha256(read_state_dict(args.model))
        entries = ledger.entries()
        match = [e["seq"] for e in entries if e["model_after_sha256"] == sha]
        if entries and entries[0]["model_before_sha256"] == sha:
            match = [0] + match
        if entries and match and match[-1] == entries[-1]["seq"]:
            model_line = f"{args.model} is the ledger's latest model (after request {entries[-1]['seq']})"
        elif match:
            model_ok = False
            model_line = (f"{args.model} is the model " + ("before request 1" if match[-1] == 0 else
                          f"after request {match[-1]}") + f", not the latest (after request {entries[-1]['seq']})")
        else:
            model_ok = False
            model_line = f"{args.model} is not a model of this ledger (its weights match no entry)"
    notes = list(v.notes) + [line for line in map(describe, pending(ledger)) if line]
    outputs = [check_output(out, ledger) for out in args.outputs]
    ok = v.ok and model_ok and all(good for good, _ in outputs)
    if args.json:
        print(json.dumps({**v.to_dict(), "notes": notes, "model": model_line, "model_ok": model_ok,
                          "outputs": [{"ok": good, "line": line} for good, line in outputs]}, indent=2, sort_keys=True))
        return 0 if ok else 1
    if v.ok:
        print(f"ledger {args.ledger}: OK, {v.n_entries} entries, chain and weights verified; head {v.head_hash}")
        if args.expect_head is None and v.n_entries:
            print("note: without --expect-head (the head you kept elsewhere) removed or forged last entries cannot "
                  "be seen")
    else:
        print(f"ledger {args.ledger}: FAILED: {v.problem}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}")
    if model_line:
        print(model_line, file=sys.stdout if model_ok else sys.stderr)
    for good, line in outputs:
        print(line if good else f"FAILED: {line}", file=sys.stdout if good else sys.stderr)
    return 0 if ok else 1
