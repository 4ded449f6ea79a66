"""The ``unlearnkit`` command: one module per command group, each adding its parsers and handlers.

Exit codes: 0 success, 2 bad input (one line on stderr naming the problem and the valid
choices), 130 interrupted; ``ledger verify`` exits 1 when the ledger does not verify.
"""

from unlearnkit.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
