"""A pytest plugin that makes this machine look like a fresh one without the Debian package
``dataset-fashion-mnist``: ``python -m pytest -p tests.fresh_machine``.

It points ``unlearnkit.data.idx.FASHION_DEBIAN_DIR`` at a folder that does not exist before any
test module is imported, so the tests that need the real Fashion-MNIST files skip (with their
reason) exactly as they do where the package is not installed, and ``load_dataset("fashion-mnist")``
without ``data_dir`` fails as it does there.
"""

from __future__ import annotations

from pathlib import Path

from unlearnkit.data import idx

idx.FASHION_DEBIAN_DIR = Path("/nonexistent/unlearnkit-fresh-machine/fashion-mnist")
