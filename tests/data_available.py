"""Which optional real data this machine has, for tests that need it (they skip, with the reason,
where it is missing: ``make test`` passes on a fresh machine)."""

from __future__ import annotations

import pytest

from unlearnkit.data import idx

FASHION_MNIST_REASON = ("needs the real Fashion-MNIST files of the Debian package dataset-fashion-mnist "
                        "(/usr/share/datasets/fashion-mnist); CI's .ci/run installs it")


def fashion_mnist_installed() -> bool:
    """Whether the Debian package's Fashion-MNIST folder exists (``tests.fresh_machine`` hides it)."""
    return idx.FASHION_DEBIAN_DIR.is_dir()


#: Skip a test on a machine without the Debian Fashion-MNIST package.
requires_fashion_mnist = pytest.mark.skipif(not fashion_mnist_installed(), reason=FASHION_MNIST_REASON)
