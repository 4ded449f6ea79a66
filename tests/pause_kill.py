"""Kill -9 a command once it sleeps at a pause hook: the crash tests of ``forget`` and the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest


def kill_at_pause(proc: subprocess.Popen, reached, step: str, *, poll_s: float = 0.05, limit_s: float = 120) -> None:
    """Wait until ``reached()`` holds (the process sits at the pause ``step``), then kill -9 its group.

    ``proc`` must have been started with ``start_new_session=True`` and ``stderr=subprocess.PIPE``.
    Fails the test when the process ends first or never reaches the pause.
    """
    deadline = time.time() + limit_s
    try:
        while not reached():
            if proc.poll() is not None:
                pytest.fail(f"forget ended before the pause at {step!r}: {proc.stderr.read().decode()}")
            if time.time() > deadline:
                pytest.fail(f"forget never reached the pause at {step!r}")
            time.sleep(poll_s)
        time.sleep(0.3)  # asleep at the pause now
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
