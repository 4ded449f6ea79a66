"""The reliability sweep of issue 22 as one command: bad inputs against the real CLI, a pass/fail table.

Every case runs ``python -m unlearnkit ...`` in a fresh process on files made here (a user's own
model and records with string IDs, an image folder whose sorted class order is not the model's,
hostile run stores, a huge grid, a ledger with two requests and a swapped output folder) and
checks what a user sees: the exit code, one line on stderr naming the problem, no traceback, no
ANSI codes, no library warning, a short message, and (where it matters) that the refusal came
before any work. The table ends with the process CPU seconds of all cases.

Usage:
    python benchmarks/reliability_sweep.py                # every case
    python benchmarks/reliability_sweep.py --only store   # the cases whose name contains "store"
    python benchmarks/reliability_sweep.py --keep DIR     # keep the files made (default: a temp dir)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

REPO = Path(__file__).resolve().parents[1]
NETS = '''import torch
from torch import nn


def user(hidden: int = 24):
    return nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, 3))


def pets():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
'''
PET_ORDER = ["zebra", "apple", "mango", "kiwi"]  # the pets model's logits; sorted is apple, kiwi, mango, zebra


@dataclass
class Case:
    """One bad input: the CLI arguments, the exit code and a phrase the message must hold."""

    name: str
    args: list[str]
    code: int
    phrase: str
    max_chars: int = 400
    max_cpu_s: float | None = None  # refused before any work: the process's CPU seconds stay below this
    one_line: bool = True
    absent: str = ""  # a phrase the message must not hold


def _train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):  # the user's own loop, full batch
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def make_user_files(root: Path) -> None:
    """data.npz (600 training records with string IDs, 1,500 test), trained weights, requests."""
    rng = np.random.default_rng(0)
    y = np.arange(2100) % 3
    x = (rng.normal(size=(3, 8))[y] * 1.2 + rng.normal(size=(2100, 8))).astype(np.float32)
    ids = np.array([f"user-{i:04d}" for i in range(600)])
    np.savez(root / "data.npz", x=x[:600], y=y[:600], ids=ids, x_test=x[600:], y_test=y[600:])
    sys.path.insert(0, str(root))
    from nets import user  # noqa: E402 (the model file written above)

    save_file(_train(user(), torch.from_numpy(x[:600]), torch.from_numpy(y[:600]), 100).state_dict(),
              str(root / "weights.safetensors"))
    (root / "req1.txt").write_text("\n".join(ids[:40]) + "\n")
    (root / "req2.txt").write_text("\n".join(ids[100:130]) + "\n")
    (root / "all.txt").write_text("\n".join(ids) + "\n")


def make_pets(root: Path) -> None:
    """pets/ (train/ and test/ class folders), a model trained with PET_ORDER, a symlink case, a wide CSV."""
    rng = np.random.default_rng(0)
    colours = {"zebra": (220, 30, 30), "apple": (30, 220, 30), "mango": (30, 30, 220), "kiwi": (200, 200, 40)}
    xs, ys = [], []
    for split, n in (("train", 30), ("test", 100)):
        for name, colour in colours.items():
            (root / "pets" / split / name).mkdir(parents=True)
            for i in range(n):
                img = np.clip(np.array(colour) + rng.normal(0, 25, (8, 8, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / "pets" / split / name / f"{name}{i}.png")
                if split == "train":
                    xs.append(img.transpose(2, 0, 1) / 255.0)
                    ys.append(PET_ORDER.index(name))
    from nets import pets  # noqa: E402

    x, y = torch.tensor(np.stack(xs), dtype=torch.float32), torch.tensor(ys)
    save_file(_train(pets(), x, y, 60).state_dict(), str(root / "pets.safetensors"))
    (root / "pets_request.txt").write_text("train/kiwi/kiwi1.png\ntrain/mango/mango2.png\n")
    (root / "pets_plain.txt").write_text("kiwi1\n")
    (root / "classes.txt").write_text("\n".join(PET_ORDER) + "\n")
    linked = root / "linked"
    shutil.copytree(root / "pets", linked)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(root / "outside.png")
    os.symlink(root / "outside.png", linked / "train" / "kiwi" / "extra.png")
    header = ["id"] + [f"pixel{i}" for i in range(786)]
    rows = [",".join(header)] + [",".join([f"r{k}"] + ["0"] * 786) for k in range(4)]
    (root / "wide.csv").write_text("\n".join(rows) + "\n")


def make_weights(root: Path) -> None:
    """Bad weights: objects in a .pt, a plain pickle, a safetensors file with a 10 MB header."""
    import pickle
    import struct

    from safetensors.torch import save

    torch.save({"w": torch.ones(2), "o": Case("x", [], 0, "")}, root / "objects.pt")
    with open(root / "raw.pt", "wb") as fh:
        pickle.dump({"w": torch.ones(2)}, fh, protocol=4)
    data = save({"w": torch.ones(2)})
    n = int.from_bytes(data[:8], "little")
    size = 10_000_000 + 0x80 - (10_000_000 % 256)  # its first byte is 0x80, like a pickle's
    header = data[8:8 + n].rstrip(b" ")
    (root / "big.safetensors").write_bytes(struct.pack("<Q", size) + header + b" " * (size - len(header))
                                           + data[8 + n:])


def make_stores(root: Path) -> None:
    """One home per hostile run store, each with one finished run, then edited."""
    sys.path.insert(0, str(REPO / "src"))
    from unlearnkit.runs.store import RunStore

    edits = {"column": "ALTER TABLE runs DROP COLUMN error", "json": "UPDATE runs SET metrics='{not json'",
             "config": "UPDATE runs SET config='[1, 2'",
             "abort": "CREATE TRIGGER t BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'no'); END",
             "extension": "CREATE TRIGGER e AFTER UPDATE ON runs BEGIN SELECT load_extension('x'); END"}
    for name, sql in edits.items():
        store = RunStore(root / f"store-{name}" / "runs.sqlite")
        rid = store.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="ab", seed=0,
                          method="finetune", params={}, config={}, config_hash="h", version="0")
        store.finish(rid, metrics={"ua": 1.0}, runtime_s=0.1, unlearned_key=None)
        conn = sqlite3.connect(store.path)
        conn.executescript(sql)
        conn.close()
    (root / "huge.toml").write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\n'
                                    f"seeds = [{', '.join(map(str, range(1_000_000)))}]\n[methods.finetune]\n")


def _cli(args: list[str]) -> tuple[int, str, str, float, float]:
    """Run the CLI in a fresh process: (exit code, stdout, stderr, wall s, CPU s of the process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "unlearnkit", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, proc.stdout, proc.stderr, wall, cpu


def make_ledger(root: Path) -> None:
    """A ledger with two requests, their output folders, a swapped copy and a tampered copy."""
    for req, out, first in (("req1.txt", "r1", True), ("req2.txt", "r2", False)):
        model = ["--arch", f"{root / 'nets.py'}:user", "--weights", str(root / "weights.safetensors")] if first else []
        code, _, err, _, _ = _cli(["forget", "--data", str(root / "data.npz"), "--request", str(root / req), "--out",
                                   str(root / out), "--ledger", str(root / "ledger"), "--method", "finetune",
                                   "epochs=1", "--quiet", *model])
        if code:
            raise SystemExit(f"setting up the ledger failed: {err.strip()}")
    shutil.copytree(root / "r1", root / "swapped")
    shutil.copy(root / "r2" / "model.safetensors", root / "swapped" / "model.safetensors")
    shutil.copytree(root / "ledger", root / "tampered")
    entry = root / "tampered" / "entries" / "000002.json"
    entry.write_text(entry.read_text().replace('"n_deleted": 30', '"n_deleted": 3'))


def cases(root: Path) -> list[Case]:
    r = str(root)
    model = ["--arch", f"{r}/nets.py:user", "--weights", f"{r}/weights.safetensors", "--method", "finetune", "--quiet"]
    user = ["--data", f"{r}/data.npz", *model]
    pets = ["--arch", f"{r}/nets.py:pets", "--weights", f"{r}/pets.safetensors", "--method", "finetune", "--quiet",
            "--heldout-size", "0.9"]
    fast = ["--set", "epochs=8", "--method", "finetune", "--home", f"{r}/home-fast"]
    out = ["--out", f"{r}/never"]
    return [
        Case("forget: permuted image folder", ["forget", "--data", f"{r}/pets", "--request",
             f"{r}/pets_request.txt", *pets, *out], 2, "Wrong label order?", 500),
        Case("forget: plain image ID", ["forget", "--data", f"{r}/pets", "--request", f"{r}/pets_plain.txt",
             "--classes", f"{r}/classes.txt", *pets, *out], 2, "did you mean 'train/kiwi/kiwi1.png'"),
        Case("forget: symlink out of the folder", ["forget", "--data", f"{r}/linked", "--request",
             f"{r}/pets_request.txt", *pets, *out], 2, "outside the data directory"),
        Case("forget: CSV of 786 columns, no label", ["forget", "--data", f"{r}/wide.csv", "--request",
             f"{r}/req1.txt", *model, *out], 2, "(and 782 more)"),
        Case("forget: objects in a .pt", ["forget", "--request", f"{r}/req1.txt", *user[:4], "--weights",
             f"{r}/objects.pt", *out], 2, "Unsupported global"),
        Case("forget: a plain pickle .pt", ["forget", "--request", f"{r}/req1.txt", *user[:4], "--weights",
             f"{r}/raw.pt", *out], 2, "plain pickle"),
        Case("forget: 10 MB safetensors header", ["forget", "--request", f"{r}/req1.txt", *user[:4], "--weights",
             f"{r}/big.safetensors", *out], 2, "The weights", absent="pickle"),
        Case("forget: read-only --out", ["forget", "--request", f"{r}/req1.txt", *user, "--out",
             "/sys/unlearnkit-sweep/out"], 2, "Cannot write the output directory", max_cpu_s=8),
        Case("forget: every record", ["forget", "--request", f"{r}/all.txt", *user, *out], 2,
             "every one of the 600 training records"),
        Case("forget: --classes file missing", ["forget", "--request", f"{r}/req1.txt", *user, *out, "--classes",
             f"{r}/nope.txt"], 2, "does not exist"),
        Case("forget: already deleted", ["forget", "--data", f"{r}/data.npz", "--request", f"{r}/req1.txt",
             "--ledger", f"{r}/ledger", "--quiet", *out], 2, "already deleted"),
        Case("ledger verify --out: swapped model", ["ledger", "verify", f"{r}/ledger", "--out", f"{r}/swapped"], 1,
             "is not the model of this folder's evidence"),
        Case("ledger show: tampered entry", ["ledger", "show", f"{r}/tampered"], 1, "does not verify"),
        Case("unlearn: --calibrate-every alone", ["unlearn", *fast, "--calibrate-every", "5"], 2,
             "only applies with --calibrate"),
        Case("unlearn: repeated --data-option", ["unlearn", *fast, "--data-option", "train_subset=100",
             "--data-option", "train_subset=200"], 2, "given twice"),
        Case("unlearn: subset_seed=-1", ["unlearn", *fast, "--data-option", "train_subset=300", "--data-option",
             "subset_seed=-1"], 2, "subset_seed"),
        Case("unlearn: 4301-digit train_subset", ["unlearn", *fast, "--data-option", f"train_subset={'9' * 4301}"],
             2, "4301 digits"),
        Case("unlearn: train_subset=0.001", ["unlearn", *fast, "--data-option", "train_subset=0.001"], 2,
             "option 0.001 keeps 1"),
        *[Case(f"runs: hostile store ({n})", ["runs", "--home", f"{r}/store-{n}"], 2, phrase)
          for n, phrase in (("column", "lacks column(s) error"), ("json", "no JSON object"),
                            ("config", "no JSON object"), ("abort", "holds a trigger"),
                            ("extension", "holds a trigger"))],
        Case("bench: a grid of 10^6 seeds", ["bench", f"{r}/huge.toml", "--home", f"{r}/home-grid"], 2,
             "plans 1,000,000 runs", max_cpu_s=20),
    ]


def check(case: Case, code: int, stdout: str, stderr: str, cpu: float) -> str:
    """``""`` when the case behaves, else what is wrong."""
    problems = []
    if code != case.code:
        problems.append(f"exit {code}, expected {case.code}")
    text = stderr.strip()
    if case.phrase not in stderr:
        problems.append(f"no {case.phrase!r}")
    if "Traceback" in stderr or "\x1b" in stderr or "Warning" in stderr:
        problems.append("traceback, ANSI code or warning")
    if case.one_line and len(text.splitlines()) != 1:
        problems.append(f"{len(text.splitlines())} lines on stderr")
    if len(text) > case.max_chars:
        problems.append(f"{len(text)} characters")
    if case.max_cpu_s is not None and cpu > case.max_cpu_s:
        problems.append(f"{cpu:.1f} CPU s: not refused before the work")
    if case.absent and case.absent in stderr:
        problems.append(f"says {case.absent!r}")
    if "weights_only` set to `False`" in stderr or "add_safe_globals" in stderr:
        problems.append("advice to unpickle")
    return "; ".join(problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--keep", metavar="DIR", help="make the files in DIR (new) and keep them")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="unlearnkit-sweep-"))
    root.mkdir(parents=True, exist_ok=bool(not args.keep))
    (root / "nets.py").write_text(NETS)
    for make in (make_user_files, make_pets, make_weights, make_stores, make_ledger):
        make(root)
    selected = [c for c in cases(root) if not args.only or args.only in c.name]
    failed, total_cpu = 0, 0.0
    print(f"{'case':40s} {'exit':>4s} {'wall s':>7s} {'CPU s':>6s}  result")
    for case in selected:
        code, stdout, stderr, wall, cpu = _cli(case.args)
        total_cpu += cpu
        problem = check(case, code, stdout, stderr, cpu)
        failed += bool(problem)
        print(f"{case.name:40s} {code:>4d} {wall:>7.1f} {cpu:>6.1f}  {'FAIL: ' + problem if problem else 'pass'}")
        if problem:
            print(f"    stderr: {stderr.strip()[:300]!r}")
    print(f"{len(selected) - failed}/{len(selected)} passed; {total_cpu:.1f} process CPU s in the cases; files in {root}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
