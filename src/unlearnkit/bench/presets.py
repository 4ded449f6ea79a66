"""Presets: a method's tuned parameters as a TOML file (``[methods.<name>]`` plus a ``[tuned]``
table saying where they come from), written atomically and read back with validation."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from unlearnkit.config import Constraint, init_params
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import make_method
from unlearnkit.methods.registry import METHODS
from unlearnkit.fileio import atomic_write_bytes



def _toml_key(key: str) -> str:
    key = str(key)
    if key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key):
        return key
    return _toml_string(key)


def _toml_string(s: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, Path):
        return _toml_string(str(v))
    if v is None:
        return _toml_string("none")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ConfigError(f"Cannot write {v!r} ({type(v).__name__}) to a preset file.")


def preset_text(method: str, params: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The TOML text of a preset: ``[methods.<method>]`` with the parameters, then ``[tuned]``."""
    lines = ["# unlearnkit preset, written by `unlearnkit tune`; use it with `unlearnkit unlearn --preset FILE`",
             "", f"[methods.{_toml_key(method)}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in params.items()]
    if meta:
        lines += ["", "[tuned]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in meta.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_preset(path: str | Path, method: str, params: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
    """Write a preset file atomically (a temporary file and a rename); one method per file.

    Example of the file::

        [methods.finetune]
        lr = 0.0123
        epochs = 4

        [tuned]
        method = "finetune"
        dataset = "digits"
        trials = 20
        tuning_time_s = 14.2
        best_avg_gap = 1.37
    """
    make_method(method, dict(params))  # never write a preset that cannot be used
    target = Path(path)
    if not target.parent.is_dir():
        raise ConfigError(f"Cannot write {path}: directory {target.parent} does not exist.")
    atomic_write_bytes(target, preset_text(method, params, meta).encode("utf-8"))
    return target


def read_preset(path: str | Path, method: str) -> dict[str, Any]:
    """The parameters of ``method`` in a preset file, parsed to their types and validated.

    Raises ``ConfigError`` when the file is missing, not TOML, or has no ``[methods.<method>]``.
    """
    cls = METHODS.get(method)
    target = Path(path)
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Preset file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Preset file {path} is not a readable TOML file: {exc}") from None
    methods = data.get("methods")
    if not isinstance(methods, dict) or not isinstance(methods.get(method), dict):
        have = sorted(methods) if isinstance(methods, dict) else []
        raise ConfigError(f"Preset file {path} has no [methods.{method}] table"
                          + (f"; it has: {', '.join(have)}." if have else "."))
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    params: dict[str, Any] = {}
    for key, value in methods[method].items():
        if key not in valid:
            raise ConfigError(f"Preset file {path}: unknown parameter {key!r} for method {method!r}. "
                              f"Valid parameters: {', '.join(sorted(valid))}.")
        c = constraints.get(key)
        if isinstance(value, str) and c is not None:
            value = c.parse(value)
        params[key] = value
    try:
        make_method(method, params)
    except ConfigError as exc:
        raise ConfigError(f"Preset file {path}: {exc}") from None
    return params
