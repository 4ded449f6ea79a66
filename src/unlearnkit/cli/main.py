"""The entry point: build the parser from the command groups, dispatch, map errors to exit codes."""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Sequence

from unlearnkit.cli import bench, catalogue, compare, experiment, forget, ledger, theory
from unlearnkit.cli.common import Parser
from unlearnkit.errors import UnlearnkitError

#: The command groups, in the order ``unlearnkit --help`` lists them.
GROUPS = (experiment, bench, theory, catalogue, forget, ledger, compare)

#: Errors of the file system a user causes (a read-only or full disk, a file where a folder
#: belongs): one line and exit code 2, like bad input.
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                errno.EEXIST}


def _version() -> str:
    import platform

    import torch

    from unlearnkit import __version__

    return f"unlearnkit {__version__} (torch {torch.__version__}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    """The ``unlearnkit`` parser: every command group's sub-commands; each sets ``handler``."""
    parser = Parser(prog="unlearnkit", description="Machine unlearning for PyTorch classifiers, judged against retraining.")
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the version of unlearnkit (and of torch and Python) and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``unlearnkit`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Example:
        >>> main(["list", "recipes"])  # doctest: +SKIP
        0
    """
    args = build_parser().parse_args(argv)
    try:
        from unlearnkit.progress import set_progress

        set_progress(not getattr(args, "quiet", True))
        return args.handler(args)
    except UnlearnkitError as exc:
        print(f"unlearnkit: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"unlearnkit: error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unlearnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
