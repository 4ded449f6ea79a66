"""The ``unlearnkit`` command's argument parser: every sub-command and option, nothing else."""

from __future__ import annotations

import argparse

DEMO_METHODS = ("finetune", "grad_ascent", "neggrad_plus", "random_labels")
LISTABLE = ("methods", "metrics", "datasets", "models", "recipes")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _common(p: argparse.ArgumentParser, *, experiment: bool = True) -> None:
    p.add_argument("--home", help="where the model and run stores live (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if not experiment:
        return
    p.add_argument("--dataset", default="digits", help="dataset name (unlearnkit list datasets); default digits")
    p.add_argument("--model", default="mlp", help="architecture (unlearnkit list models); default mlp")
    p.add_argument("--seed", type=int, default=0, help="seeds split, training, method and attacks; default 0")
    p.add_argument("--recipe", help="training preset (unlearnkit list recipes); default: the dataset's own")
    p.add_argument("--set", dest="recipe_set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set epochs=5 (repeatable)")
    p.add_argument("--model-arg", dest="model_args", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture argument, e.g. --model-arg width=32 (repeatable)")
    p.add_argument("--data-dir", help="directory holding the dataset's files")
    p.add_argument("--download", action="store_true", help="download the dataset's files into --data-dir first")
    p.add_argument("--data-option", dest="data_options", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset loader option, e.g. --data-option label_column=target (repeatable)")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda; default cpu")


def _version() -> str:
    import platform

    import torch

    from unlearnkit import __version__

    return f"unlearnkit {__version__} (torch {torch.__version__}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="unlearnkit", description="Machine unlearning for PyTorch classifiers, judged against retraining.")
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the version of unlearnkit (and of torch and Python) and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="train, unlearn with several methods and print the table (digits, < 1 min)")
    _common(p)
    p.add_argument("--forget", default="class:3", help="forget spec; default class:3")
    p.add_argument("--methods", default=",".join(DEMO_METHODS), help="comma-separated method names")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("train", help="train (or fetch from the model store) the original model")
    _common(p)
    p.add_argument("--forget", help="also train the golden model of this forget spec")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("unlearn", help="run one method, evaluate it against the golden model and record the run")
    _common(p)
    p.add_argument("--forget", default="random:0.1", help="forget spec: random:0.1, class:3, subclass:Shirt, indices:FILE")
    p.add_argument("--method", required=True, help="method name (unlearnkit list methods)")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="method parameters, e.g. lr=0.01 epochs=3")
    p.add_argument("--metrics", help="comma-separated metric names; default the headline metrics")
    p.add_argument("--retain-fraction", type=float, help="give the method only this fraction of D_r")
    p.add_argument("--calibrate", metavar="KIND", help="heldout: end a loop method where D_f looks most like the "
                   "validation slice V (needs --data-option train_subset=N or val_size=N)")
    p.add_argument("--calibrate-every", type=int, metavar="K", help="with --calibrate: check every K steps "
                   "(default 4 checks per epoch)")
    p.add_argument("--preset", metavar="FILE", help="method parameters from a preset file (unlearnkit tune --preset-out); "
                   "KEY=VALUE parameters override it")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="evaluate a recorded run (or, without --run, the original model)")
    _common(p)
    p.add_argument("--forget", help="forget spec (default random:0.1); with --run, checked against the run's")
    p.add_argument("--run", help="run id (unlearnkit runs); --dataset/--model/--forget, if given, must match it")
    p.set_defaults(dataset=None, model=None)
    p.add_argument("--metrics", help="comma-separated metric names; default the headline metrics")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="run a TOML grid of runs, resumable; results go to the run store")
    _common(p, experiment=False)
    p.add_argument("grid", help="grid file, e.g. benchmarks/grids/default.toml")
    p.add_argument("--executor", default="local", help="local (default) or ray")
    p.add_argument("--address", help="Ray cluster address host:port (default: start Ray locally)")
    p.add_argument("--workers", type=int, help="CPUs of a local Ray instance (default: all)")
    p.add_argument("--threads", type=int, help="torch threads per task (ray default 1)")

    p = sub.add_parser("audit", help="per-example audit: forgetting quality, challenge score and LiRA with N-model banks")
    _common(p)
    p.add_argument("--forget", default="class:3")
    p.add_argument("--method", required=True)
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="method parameters")
    p.add_argument("--n-models", type=int, default=16, help="models per bank (default 16)")
    p.add_argument("--calibrate", metavar="KIND", help="heldout: calibrate every run of the unlearned bank on the "
                   "validation slice V (as unlearn --calibrate)")
    p.add_argument("--executor", default="local", help="local (default) or ray")
    p.add_argument("--address", help="Ray cluster address host:port")
    p.add_argument("--workers", type=int, help="CPUs of a local Ray instance")
    p.add_argument("--out", default="unlearnkit-audit", help="output directory (default ./unlearnkit-audit)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tune", help="search a method's parameters (Optuna) to minimise avg_gap to the golden model; resumable")
    _common(p)
    p.add_argument("--forget", default="random:0.1", help="the calibration forget spec; default random:0.1")
    p.add_argument("--method", required=True, help="method name (unlearnkit list methods)")
    p.add_argument("--space", action="append", default=[], metavar="NAME=KIND:...",
                   help="search range of one parameter (repeatable): lr=float:1e-4:1e-1:log, epochs=int:1:5, "
                        "optimizer=choice:sgd,adam; default lr and epochs")
    p.add_argument("--trials", type=int, default=20, help="trials to add to the study; default 20")
    p.add_argument("--study", help="study name; default a hash of the command, so the same command resumes")
    p.add_argument("--objective", default="avg_gap", help="avg_gap (default) or a metric whose gap to golden is minimised")
    p.add_argument("--preset-out", metavar="FILE", help="write the best parameters as a preset file (TOML)")
    p.add_argument("--json", action="store_true")

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

    p = sub.add_parser("list", help="list registered methods, metrics, datasets, models or recipes")
    p.add_argument("what", choices=LISTABLE)
    p.add_argument("--json", action="store_true", help="print the list as JSON (one object per entry)")

    p = sub.add_parser("runs", help="list recorded runs, or export them as CSV")
    _common(p, experiment=False)
    p.add_argument("--status", choices=("running", "done", "failed"))
    p.add_argument("--method")
    p.add_argument("--csv", metavar="FILE", help="write the runs as CSV to FILE ('-' for stdout)")

    p = sub.add_parser("report", help="write a Markdown report and a self-contained HTML page of the finished runs")
    _common(p, experiment=False)
    p.add_argument("--out", default="unlearnkit-report", help="output directory; default ./unlearnkit-report")
    p.add_argument("--title", default="unlearnkit report", help="title of the report")
    p.add_argument("--grid", dest="grids", action="append", default=[], metavar="FILE",
                   help="report only the runs planned by this grid file (repeatable: the runs of any of them)")
    p.add_argument("--spread", choices=("ci", "std"), default="ci",
                   help="after 'mean ±': ci, the 95%% t-interval half-width (default), or std, the sample "
                        "standard deviation over seeds")

    from unlearnkit.cli_forget import add_parsers

    add_parsers(sub)  # forget, ledger
    return parser
