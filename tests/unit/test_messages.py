"""Issue 22, messages: one line, capped, no ANSI codes, no advice to unpickle, no library warnings."""

from __future__ import annotations

import pickle
import struct
import warnings

import pytest
import torch
from safetensors.torch import save

from unlearnkit.deletion.modelio import read_state_dict
from unlearnkit.errors import DataError


class Opaque:
    """Not a tensor: torch.load(weights_only=True) refuses it."""


def _message(path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a library warning would fail the test
        with pytest.raises(DataError) as exc:
            read_state_dict(path)
    return str(exc.value)


def test_weights_messages_are_one_clean_line(tmp_path):
    torch.save({"w": torch.ones(2), "o": Opaque()}, tmp_path / "objects.pt")
    with open(tmp_path / "raw.pt", "wb") as fh:
        pickle.dump({"w": torch.ones(2)}, fh, protocol=4)
    for name, expected in (("objects.pt", "Unsupported global: GLOBAL tests.unit.test_messages.Opaque"),
                           ("raw.pt", "plain pickle (pickle.dump)")):
        msg = _message(tmp_path / name)
        assert expected in msg and "\n" not in msg and "\x1b" not in msg, msg
        assert "weights_only` set to `False`" not in msg and "add_safe_globals" not in msg, "no advice to unpickle"
        assert len(msg) < 400


def test_safetensors_with_a_huge_header_is_not_called_a_pickle(tmp_path):
    data = save({"w": torch.ones(2)})
    n = int.from_bytes(data[:8], "little")
    header = data[8:8 + n].rstrip(b" ")
    size = 10_000_000 + 0x80 - (10_000_000 % 256)  # a header length whose first byte is 0x80, like a pickle's
    padded = struct.pack("<Q", size) + header + b" " * (size - len(header)) + data[8 + n:]
    (tmp_path / "big.safetensors").write_bytes(padded)
    assert padded[:1] == b"\x80"
    assert read_state_dict(tmp_path / "big.safetensors")["w"].tolist() == [1.0, 1.0]
    (tmp_path / "cut.safetensors").write_bytes(padded[: len(padded) // 2])
    msg = _message(tmp_path / "cut.safetensors")
    assert "pickle" not in msg and "not a valid safetensors file" in msg and "\n" not in msg
    torch.save({"w": torch.ones(2)}, tmp_path / "zip.safetensors")
    assert "is a pickle (torch.save) file" in _message(tmp_path / "zip.safetensors")


def test_a_request_for_every_record_is_one_short_line():
    import numpy as np

    from unlearnkit import Dataset
    from unlearnkit.deletion.forget import plan_forget
    from unlearnkit.errors import ConfigError

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, 8)).astype("float32"), rng.integers(0, 3, 3000)
    ids = [f"record-number-{i:06d}" for i in range(2000)]
    data = Dataset.from_arrays(x[:2000], y[:2000], ids=ids, test=(x[2000:], y[2000:]))
    with pytest.raises(ConfigError) as exc:
        plan_forget(torch.nn.Linear(8, 3), data, ids, method="finetune")
    assert "every one of the 2000 training records" in str(exc.value) and len(str(exc.value)) < 300
