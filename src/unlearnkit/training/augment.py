"""Random crop and horizontal flip written with torch ops, driven by an explicit generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each image by ``padding`` and crop back to its size at a random offset per sample."""
    if padding == 0:
        return x
    b, c, h, w = x.shape  # (B, C, H, W)
    xp = F.pad(x, (padding, padding, padding, padding))  # (B, C, H+2p, W+2p)
    off_y = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    off_x = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    rows = (off_y[:, None] + torch.arange(h)[None, :]).to(x.device)  # (B, H)
    cols = (off_x[:, None] + torch.arange(w)[None, :]).to(x.device)  # (B, W)
    xr = xp.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * padding))  # (B, C, H, W+2p)
    return xr.gather(3, cols[:, None, None, :].expand(b, c, h, w))  # (B, C, H, W)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)  # (B,)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def augment_batch(x: torch.Tensor, mode: str, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Apply a recipe's ``augment`` mode to an image batch; non-image batches pass through."""
    if mode == "none" or x.dim() != 4:
        return x
    if "crop" in mode:
        x = random_crop(x, padding, generator)
    if "flip" in mode:
        x = random_flip(x, generator)
    return x
