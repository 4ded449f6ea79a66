"""Writing files so that a reader never sees half of one: temporary file, fsync, rename."""

from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path

#: ``.<name>.<pid>@<host>.<random>.tmp``: a temporary file names the process that writes it.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)\.[^.]+\.tmp$")


def host_tag() -> str:
    """This host's name with every character outside ``[A-Za-z0-9_-]`` replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def temp_prefix(name: str) -> str:
    """The prefix of a temporary file for ``name`` written by this process: ``.<name>.<pid>@<host>.``."""
    return f".{name}.{os.getpid()}@{host_tag()}."


def temp_owner(filename: str) -> tuple[int, str] | None:
    """(pid, host tag) of the process that made the temporary file ``filename``; ``None`` when the name
    carries no owner (not a temporary file, or one named by an older version).

    Example:
        >>> temp_owner(".abc.json.123@box-1.x7y_z.tmp"), temp_owner(".w.k2j3.tmp")
        ((123, 'box-1'), None)
    """
    m = _TEMP.match(filename)
    return (int(m["pid"]), m["host"]) if m else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (killed, not yet waited for)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def abandoned_temp(path: Path, stale_s: float, now: float) -> bool:
    """Whether the temporary file ``path`` was left by a writer that is gone: its process (named in the
    file name, on this host) no longer exists, or, for a writer elsewhere or unnamed, the file is
    older than ``stale_s`` seconds."""
    who = temp_owner(path.name)
    if who is not None and who[1] == host_tag():
        return not pid_alive(who[0])
    try:
        return now - path.stat().st_mtime > stale_s
    except OSError:
        return False


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
