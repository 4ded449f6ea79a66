"""Record thumbnails as PNG data URIs (written with zlib; no imaging library needed)."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import torch

from unlearnkit.data.dataset import Subset

#: Thumbnails are enlarged (nearest neighbour) to at least this many pixels a side.
MIN_SIDE = 32


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG file of ``pixels``: uint8, ``(H, W)`` grey or ``(H, W, 3)`` RGB.

    Example:
        >>> png_bytes(np.zeros((2, 2), dtype=np.uint8))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"pixels must be uint8 (H, W) or (H, W, 3); got {pixels.dtype} {pixels.shape}")
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def to_pixels(x: torch.Tensor) -> np.ndarray | None:
    """An image record ``(C, H, W)`` (C = 1 or 3) as uint8 pixels, min-max scaled over the whole image
    (so the normalisation does not matter); ``None`` for anything else."""
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        return None
    a = x.to(torch.float64).numpy()
    lo, hi = float(a.min()), float(a.max())
    a = np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo)
    a = np.clip(np.round(a * 255), 0, 255).astype(np.uint8)  # (C, H, W)
    rep = max(1, -(-MIN_SIDE // max(a.shape[1], a.shape[2])))
    a = a.repeat(rep, axis=1).repeat(rep, axis=2)
    return a[0] if a.shape[0] == 1 else np.ascontiguousarray(a.transpose(1, 2, 0))


def thumbnail(subset: Subset, position: int) -> str | None:
    """The record at ``position`` of ``subset`` as a PNG data URI, or ``None`` when it is not an image."""
    x = subset.dataset.inputs(subset.part, subset.indices[position:position + 1])[0]  # (C, H, W), normalised
    pixels = to_pixels(x)
    if pixels is None:
        return None
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


__all__ = ["MIN_SIDE", "png_bytes", "thumbnail", "to_pixels"]
