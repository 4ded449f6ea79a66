"""``unlearnkit bench``: a grid on digits, resume after kill -9, executors, and bad grids."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unlearnkit.cli import main

GRID = """
datasets = ["digits"]
models = ["mlp"]
forget = ["class:3", "random:0.1"]
seeds = [0, 1]
[recipe]
epochs = 8
[methods.finetune]
epochs = 2
[methods.neggrad_plus]
beta = [0.05, 0.2]
"""
N_RUNS = 2 * 2 * 3


def write(tmp_path: Path, text: str, name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "runs.sqlite") as conn:
        return conn.execute("SELECT id, status, config_hash, metrics FROM runs ORDER BY created_at").fetchall()


def _start_then_kill(cmd, env, home, ready, *, timeout: float, poll: float) -> None:
    """Start ``bench`` as a real process and ``kill -9`` it once ``ready(run states)`` holds."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if (home / "runs.sqlite").exists() and ready([r[1] for r in rows(home)]):
                break
            if proc.poll() is not None:
                pytest.fail("bench finished before it could be killed")
            time.sleep(poll)
        else:
            pytest.fail("no run finished in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_grid_runs_then_skips(tmp_path, capsys):
    grid, home = write(tmp_path, GRID), tmp_path / "home"
    assert main(["bench", str(grid), "--home", str(home)]) == 0
    out = capsys.readouterr().out
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == [f"[{k}/{N_RUNS}" for k in range(1, N_RUNS + 1)]
    assert all(" elapsed, about " in line and line.endswith(" left") for line in progress[:-1])
    assert progress[-1].endswith(" elapsed"), "nothing left after the last run"
    first = rows(home)
    assert len(first) == N_RUNS and {r[1] for r in first} == {"done"}
    assert len({r[2] for r in first}) == N_RUNS
    assert main(["bench", str(grid), "--home", str(home)]) == 0
    assert "0 run(s) done, 12 skipped" in capsys.readouterr().out
    assert rows(home) == first


def test_kill_9_then_resume(tmp_path):
    """Kill the real process mid-grid; the re-run finishes the rest and counts nothing twice."""
    grid, home = write(tmp_path, GRID), tmp_path / "home"
    env = {**os.environ, "UNLEARNKIT_HOME": str(home)}
    cmd = [sys.executable, "-m", "unlearnkit", "bench", str(grid), "--home", str(home)]
    _start_then_kill(cmd, env, home, lambda states: states.count("done") >= 2, timeout=240, poll=0.05)
    before = {r[0]: r for r in rows(home) if r[1] == "done"}
    assert 2 <= len(before) < N_RUNS

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = rows(home)
    done = [r for r in after if r[1] == "done"]
    assert len(done) == N_RUNS, "every run finished exactly once"
    assert len({r[2] for r in done}) == N_RUNS, "no config counted twice"
    for run_id, row in before.items():
        assert row in after, f"finished run {run_id} was changed or lost"
    assert all(r[1] in ("done", "failed") for r in after), "interrupted runs are marked, not left running"


def test_concurrent_benches_do_every_run_exactly_once(tmp_path):
    """Issue 15: one bench killed mid-run, then two started together on the same grid and home.

    Every run is done exactly once, the killed process's run is marked interrupted and redone, no
    claim is left, and no unlearned model or temporary file is left without its run.
    """
    import json

    grid, home = write(tmp_path, GRID), tmp_path / "home"
    env = {**os.environ, "UNLEARNKIT_HOME": str(home)}
    cmd = [sys.executable, "-m", "unlearnkit", "bench", str(grid), "--home", str(home)]
    # killed in the middle of a run
    _start_then_kill(cmd, env, home, lambda states: states.count("done") >= 1 and "running" in states,
                     timeout=300, poll=0.02)
    killed = [r[0] for r in rows(home) if r[1] == "running"]
    done_before = sum(1 for r in rows(home) if r[1] == "done")
    assert killed, "a run was in progress when the process was killed"

    both = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in both]
    for p, (out, err) in zip(both, outs):
        assert p.returncode == 0, err
    after = rows(home)
    done = [r for r in after if r[1] == "done"]
    assert len(done) == N_RUNS and len({r[2] for r in done}) == N_RUNS, "every run done exactly once"
    assert all(r[1] in ("done", "failed") for r in after)
    assert {r[0] for r in after if r[1] == "failed"} == set(killed), "only the killed run is marked interrupted"
    with sqlite3.connect(home / "runs.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0, "no run left claimed"
        errors = [e for (e,) in conn.execute("SELECT error FROM runs WHERE status='failed'")]
    assert all(e.startswith("interrupted") for e in errors)
    finished_here = [int(out.strip().splitlines()[-1].split(" run(s) done")[0]) for out, _ in outs]
    assert sum(finished_here) == N_RUNS - done_before, f"no run done twice: {finished_here}"
    records = [json.loads(p.read_text()) for p in (home / "models").rglob("*.json")]
    unlearned = {r["spec"]["run"] for r in records if r["spec"].get("kind") == "unlearned"}
    assert unlearned == {r[0] for r in done}, "every unlearned model belongs to a done run"
    assert not list((home / "models").rglob(".*.tmp")), "no temporary file left"


def test_a_run_held_by_a_process_that_dies_meanwhile_is_taken_over(tmp_path, monkeypatch):
    """The runs skipped as held by another process are tried once more at the end of the grid."""
    from unlearnkit.bench import runner
    from unlearnkit.bench.executors import make_executor
    from unlearnkit.bench.grid import load_grid
    from unlearnkit.runs.experiment import Workspace

    text = GRID.replace("seeds = [0, 1]", "seeds = [0]").replace('forget = ["class:3", "random:0.1"]',
                                                                  'forget = ["class:3"]')
    grid, ws = load_grid(write(tmp_path, text)), Workspace(tmp_path / "home")
    real, asked = runner.run_task, []

    def held_once(home, spec, label=None, *, threads=None):  # the finetune run is held elsewhere at first
        asked.append(spec.label())
        if spec.method == "finetune" and asked.count(spec.label()) == 1:
            return None
        return real(home, spec, label, threads=threads)

    monkeypatch.setattr(runner, "run_task", held_once)
    lines: list[str] = []
    summary = runner.run_grid(grid, ws, make_executor("local"), log=lines.append)
    assert len(summary.done) == 3 and summary.elsewhere == 0 and not summary.failed
    assert any("taken over" in line and "/finetune" in line for line in lines)
    assert len(ws.runs.done_hashes()) == 3


BAD_GRID = """
datasets = ["digits", "nope"]
models = ["mlp"]
forget = ["class:3"]
seeds = [0]
[methods.finetune]
lr = -1.0
[methods.nomethod]
[methods.grad_ascent]
stepsize = 3
"""


def test_bad_grid_names_every_problem(tmp_path, capsys):
    home = tmp_path / "home"
    code = main(["bench", str(write(tmp_path, BAD_GRID)), "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 2
    for problem in ("unknown dataset 'nope'", "unknown method 'nomethod'", "unknown parameter 'stepsize'"):
        assert problem in err
    assert not (home / "runs.sqlite").exists() and not (home / "models").exists()


def test_bad_values_in_grid_all_reported(tmp_path, capsys):
    text = GRID.replace('forget = ["class:3", "random:0.1"]', 'forget = ["class:12", "random:1.5"]').replace(
        "epochs = 2", "epochs = 0")
    code = main(["bench", str(write(tmp_path, text)), "--home", str(tmp_path / "home")])
    err = capsys.readouterr().err
    assert code == 2 and "Class 12 does not exist" in err and "random:1.5" in err
    assert len(err.strip().splitlines()) == 1


SIX_PROBLEMS = """
datasets = ["digits", "nope"]
models = ["mlp"]
forget = ["class:12", "random:1.5", "class:3"]
metrics = ["ua", "bogus"]
seeds = [0]
[methods.finetune]
lr = -1.0
[methods.nomethod]
[methods.grad_ascent]
stepsize = 3
epochs = 0
"""


def test_every_problem_of_a_grid_at_once(tmp_path, capsys):
    """Issue 15, defect 7: unknown names, parameter values and forget specs in one report, not three attempts."""
    home = tmp_path / "home"
    code = main(["bench", str(write(tmp_path, SIX_PROBLEMS)), "--home", str(home)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    for problem in ("unknown dataset 'nope'", "unknown metric 'bogus'", "unknown method 'nomethod'",
                    "unknown parameter 'stepsize'", "'lr' parameter of FineTune", "'epochs' parameter of GradAscent",
                    "Class 12 does not exist", "random:1.5"):
        assert problem in err, problem
    assert "has 8 problem(s)" in err
    assert not home.exists()


def test_unreachable_ray_address_fails_fast(tmp_path, capsys):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a free local port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.time()
    code = main(["bench", str(write(tmp_path, GRID)), "--home", str(tmp_path / "home"),
                 "--executor", "ray", "--address", f"127.0.0.1:{port}"])
    assert code == 2 and "Cannot reach a Ray cluster" in capsys.readouterr().err
    assert time.time() - start < 30


def test_unknown_executor(tmp_path, capsys):
    code = main(["bench", str(write(tmp_path, GRID)), "--home", str(tmp_path / "home"), "--executor", "spark"])
    assert code == 2 and "Unknown executor 'spark'. Valid executors: local, ray" in capsys.readouterr().err


def test_ray_gives_the_same_results_as_local(tmp_path):
    pytest.importorskip("ray")
    import json

    text = GRID.replace("seeds = [0, 1]", "seeds = [0]").replace('forget = ["class:3", "random:0.1"]', 'forget = ["class:3"]')
    grid = write(tmp_path, text)
    assert main(["bench", str(grid), "--home", str(tmp_path / "local"), "--threads", "1"]) == 0
    assert main(["bench", str(grid), "--home", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"]) == 0

    def results(home):
        out = {}
        for _, status, config_hash, metrics in rows(home):
            unlearned = json.loads(metrics)["rows"]["unlearned"]
            out[config_hash] = {k: v for k, v in unlearned.items() if k not in ("runtime_s", "speedup", "cpu_s", "cpu_speedup")}
        return out

    local, ray = results(tmp_path / "local"), results(tmp_path / "ray")
    assert len(local) == 3 and local == ray
