"""Publishing ``forget``'s output folder so that a killed process never leaves the user guessing.

``forget`` writes its output in a hidden staging folder next to ``--out``
(``.<out name>.tmp-<pid>@<host>-<random>``), then commits the ledger entry, then renames the
staging folder to ``--out``. Killed (even ``kill -9``) at any step:

- **before the ledger commit**: nothing was recorded; the staging folder is a leftover that the
  next ``forget`` with the same ledger removes (without a ledger: the next ``forget`` writing
  next to it);
- **between the ledger commit and the rename**: the request *was* recorded and its complete
  output waits in the staging folder. The next ``forget`` with the same ledger finishes the
  rename and says so; ``ledger verify`` reports it until then.

To know which, ``publish`` leaves a marker in the ledger (``.pending/<entry hash>.json``: the entry,
the staging folder and ``--out``) from before the staging folder is filled until the rename is
done; only the ledger can say whether the entry was committed, so a staging folder holding a
ledger entry is settled through its marker alone. A staging folder is touched only when the
process that made it (named in its name) is gone, and never while its ledger cannot be read.

For tests, ``UNLEARNKIT_FORGET_PAUSE="<step>:<seconds>"`` sleeps at one step (``staged``: files
written, before the commit; ``committed``: after the commit, before the rename), so that a test
can kill the process there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from unlearnkit.deletion.ledger import Ledger, LedgerError
from unlearnkit.errors import ConfigError
from unlearnkit.fileio import atomic_write_bytes, host_tag, pid_alive

PAUSE_ENV = "UNLEARNKIT_FORGET_PAUSE"
#: ``.<out name>.tmp-<pid>@<host>-<random>``: a staging folder names the process that writes it
#: (older versions wrote ``.<out name>.tmp-<random>``, without the owner).
_STAGE = re.compile(r"^\.(?P<name>.+)\.tmp-(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)-)?[A-Za-z0-9_]+$")
PENDING_DIR = ".pending"
#: The files a staging folder holds (``forget``'s output and the ledger entry).
OUTPUT_NAMES = frozenset({"model.safetensors", "golden.safetensors", "evidence.json", "evidence.md", "evidence.html",
                          "ledger-entry.json"})
#: A staging folder of a writer on another host (or unnamed) counts as abandoned after this long.
STALE_S = 24 * 3600.0


def _pause(step: str) -> None:
    name, _, seconds = os.environ.get(PAUSE_ENV, "").partition(":")
    if name == step:
        time.sleep(float(seconds or 5))


def check_writable(out: Path) -> None:
    """Refuse, before any work, an ``out`` whose folder cannot be created: tried with a temporary folder.

    Raises:
        ConfigError: naming ``out`` and why (read-only, not a directory, no permission).

    Example:
        >>> check_writable(Path("/sys/unlearnkit-out"))  # doctest: +SKIP
        Traceback (most recent call last):
        unlearnkit.errors.ConfigError: Cannot write the output directory /sys/unlearnkit-out: ...
    """
    base = out.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    try:
        if not base.is_dir():
            raise NotADirectoryError(f"{base} is a file")
        Path(tempfile.mkdtemp(prefix=f".probe.tmp-{os.getpid()}@{host_tag()}-", dir=base)).rmdir()
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ConfigError(f"Cannot write the output directory {out}: {why} ({base}). Give --out a folder you can "
                          "write; nothing was done.") from None


def make_stage(out: Path) -> Path:
    """A new staging folder for ``out``, next to it (its parents are created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}@{host_tag()}-", dir=out.parent))


def publish(out: Path, files: dict[str, bytes], ledger: Ledger | None, entry: dict[str, Any] | None,
            weights_after: bytes, weights_before: bytes | None) -> None:
    """Write ``files`` into a staging folder, commit ``entry`` to ``ledger``, rename the folder to ``out``.

    Raises:
        ConfigError: ``out`` appeared meanwhile (the committed output then stays in the staging
            folder, named); any error of ``Ledger.append`` (nothing is left then).
    """
    stage = make_stage(out)
    marker = None if entry is None else ledger.path / PENDING_DIR / f"{entry['hash']}.json"
    committed = False
    try:
        if entry is not None:  # the marker first: a staging folder with a ledger entry always has one
            info = {"seq": entry["seq"], "request_id": entry["request_id"], "entry_hash": entry["hash"],
                    "stage": str(stage.resolve()), "out": str(out.resolve())}
            atomic_write_bytes(marker, (json.dumps(info, indent=2) + "\n").encode())
        for name, data in files.items():
            with open(stage / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(stage, 0o755)
        _pause("staged")
        if entry is not None:
            ledger.append(entry, weights_after, weights_before)
            committed = True
            _pause("committed")
        if out.exists() or out.is_symlink():
            raise ConfigError(f"Output directory {out} appeared while the request ran; the result stays in {stage}.")
        os.replace(stage, out)
    except BaseException:
        if not committed:
            shutil.rmtree(stage, ignore_errors=True)
            if marker is not None:
                marker.unlink(missing_ok=True)
        raise
    if marker is not None:
        marker.unlink(missing_ok=True)


def _committed(ledger: Ledger, seq: int, entry_hash: str) -> bool | None:
    """Whether entry ``seq`` of ``ledger`` is committed with ``entry_hash``; ``None`` when the ledger cannot
    be read (then nothing is touched: the user must see the broken ledger first)."""
    try:
        head, _ = ledger.head()
        return 1 <= seq <= head and ledger.find(seq).get("hash") == entry_hash
    except (LedgerError, OSError):
        return None


def _owner_gone(stage: Path) -> bool:
    """Whether the process that made ``stage`` is gone (by its pid on this host, else by age)."""
    m = _STAGE.match(stage.name)
    if m and m["pid"] and m["host"] == host_tag():
        return not pid_alive(int(m["pid"]))
    try:
        return time.time() - stage.stat().st_mtime > STALE_S
    except OSError:
        return True


def pending(ledger: Ledger) -> list[dict[str, Any]]:
    """The ledger's interrupted requests: markers with ``committed`` (bool) and ``running`` (bool) added."""
    folder = ledger.path / PENDING_DIR
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            info = json.loads(path.read_text())
            info = {**info, "seq": int(info["seq"]), "stage": Path(info["stage"]), "out": Path(info["out"])}
        except (OSError, ValueError, KeyError, TypeError):
            info = {"seq": 0, "entry_hash": "", "stage": None, "out": None, "request_id": "?"}
        info["marker"] = path
        info["committed"] = _committed(ledger, info["seq"], info.get("entry_hash", ""))
        info["running"] = info["stage"] is not None and not _owner_gone(info["stage"])
        out.append(info)
    return out


def describe(info: dict[str, Any]) -> str | None:
    """One line on an interrupted request (``ledger verify``); ``None`` while its process still runs."""
    if info["running"]:
        return None
    stage, out = info["stage"], info["out"]
    if info["committed"] is None:
        return None
    if not info["committed"]:
        return (f"an interrupted request ({info.get('request_id', '?')}) was not recorded; its leftovers "
                f"({stage}) are removed by the next 'unlearnkit forget' with this ledger")
    if out is not None and out.exists():
        return None
    if stage is not None and stage.is_dir():
        return (f"request {info['seq']} ({info['request_id']}) was recorded but its output was not moved into place: "
                f"the complete output waits in {stage}; the next 'unlearnkit forget' with this ledger moves it to {out}")
    return (f"request {info['seq']} ({info['request_id']}) was recorded but its output folder {out} is missing; "
            f"its model is in the ledger (weights/{info['seq']:06d}.safetensors)")


def recover(ledger: Ledger | None, parent: Path | None) -> list[str]:
    """Finish or clean up after killed requests: those of ``ledger``, and staging folders in ``parent``.

    A committed request's staging folder is renamed to its ``--out`` (when that does not exist);
    an uncommitted one is removed. Folders of running processes are left alone.

    Returns:
        One line per thing done, for the user.

    Example:
        >>> recover(Ledger("ledger"), Path("results"))  # doctest: +SKIP
        ['finished the output of request 3 (req-0003-1a2b3c4d), recorded when the process stopped: results/r3']
    """
    notes: list[str] = []
    if ledger is not None and (ledger.path / PENDING_DIR).is_dir():  # also before the first commit made LEDGER
        for info in pending(ledger):
            if info["running"] or info["committed"] is None:
                continue
            notes += _settle(info)
            info["marker"].unlink(missing_ok=True)
    if parent is not None and parent.is_dir():
        for stage in sorted(parent.iterdir()):
            if stage.is_dir() and _STAGE.match(stage.name) and _only_output(stage) and _owner_gone(stage):
                notes += _settle_stage(stage)
    return notes


def _only_output(stage: Path) -> bool:
    """Whether ``stage`` holds nothing but ``forget`` output files (so it is a staging folder of ours)."""
    try:
        return all(p.name in OUTPUT_NAMES and p.is_file() for p in stage.iterdir())
    except OSError:
        return False


def _settle(info: dict[str, Any]) -> list[str]:
    stage, out = info["stage"], info["out"]
    if stage is None or not stage.is_dir():
        return []
    if not info["committed"]:
        shutil.rmtree(stage, ignore_errors=True)
        return [f"removed {stage}: the leftovers of an interrupted request that was not recorded"]
    if out.exists() or out.is_symlink():
        return [f"request {info['seq']} ({info['request_id']}) was recorded but {out} exists; its output stays in "
                f"{stage}"]
    os.replace(stage, out)
    return [f"finished the output of request {info['seq']} ({info['request_id']}), recorded when its process "
            f"stopped: {out}"]


def _settle_stage(stage: Path) -> list[str]:
    """An abandoned staging folder found next to ``--out``: one of a request without a ledger is removed
    (nothing was recorded); one with a ledger entry is left to its ledger's marker (``recover`` with
    that ledger finishes or removes it), since only the ledger knows whether it was committed."""
    if (stage / "ledger-entry.json").exists():
        return []
    shutil.rmtree(stage, ignore_errors=True)
    return [f"removed {stage}: the leftovers of an interrupted request that was not recorded"]


def keep_head_note(ledger_path: Path | str, head: str) -> str:
    """Why and how to keep the ledger head elsewhere (printed with every recorded request).

    Example:
        >>> keep_head_note("ledger", "ab" * 32)[:40]
        'Keep this ledger head somewhere the ledg'
    """
    return (f"Keep this ledger head somewhere the ledger's owner cannot edit (a ticket, an e-mail): {head}. The ledger "
            "alone cannot show that its last entries were removed or forged; 'unlearnkit ledger verify "
            f"{ledger_path} --expect-head {head}' can.")
