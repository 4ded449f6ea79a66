"""``vit_tiny``: a small Vision Transformer written with ``nn.TransformerEncoder``."""

from __future__ import annotations

import torch
from torch import nn

from unlearnkit.config import Interval, OptionalOf
from unlearnkit.errors import ConfigError
from unlearnkit.models.registry import MAX_DEPTH, MAX_WIDTH, MODELS, Architecture

#: candidate patch sizes for ``patch_size=None``, largest first
PATCH_CANDIDATES = (8, 4, 2, 1)
#: the automatic patch size must leave at least this many patches along each side
MIN_PATCHES_PER_SIDE = 4


def default_patch_size(height: int, width: int) -> int | None:
    """The largest of 8, 4, 2, 1 that divides ``height`` and ``width`` and leaves at least 4x4 patches.

    ``None`` when no candidate fits (images smaller than 4x4).

    Example:
        >>> default_patch_size(32, 32), default_patch_size(28, 28), default_patch_size(8, 8)
        (8, 4, 2)
    """
    for p in PATCH_CANDIDATES:
        if height % p == 0 and width % p == 0 and height // p >= MIN_PATCHES_PER_SIDE and width // p >= MIN_PATCHES_PER_SIDE:
            return p
    return None


@MODELS.register("vit_tiny")
class ViTTiny(Architecture):
    """A small ViT: patch embedding, cls token, learned position embedding, pre-norm encoder.

    Images ``(C, H, W)`` are cut into non-overlapping ``patch_size`` x ``patch_size`` patches (a
    strided convolution), a learned cls token is prepended, a learned position embedding added,
    then ``depth`` pre-norm encoder layers (``nn.TransformerEncoderLayer`` with
    ``batch_first=True, norm_first=True``, GELU), a final LayerNorm and a linear head on the cls
    token. Linear weights, the cls token and the position embedding are initialised with a
    truncated normal (std 0.02), biases with zeros, as in the original ViT.

    Patch-size rule: with ``patch_size=None`` the model picks the largest of 8, 4, 2, 1 that
    divides both ``H`` and ``W`` and still leaves at least 4 patches along each side (32x32 -> 8,
    i.e. 16 tokens; 28x28 -> 4, 49 tokens; 8x8 -> 2, 16 tokens; 64x64 -> 8, 64 tokens). Images need
    ``H, W >= 4``. An explicit ``patch_size`` must divide ``H`` and ``W``. ``arch_kwargs`` records
    the resolved patch size. For large images, choose ``patch_size`` yourself to keep the number of
    tokens small.

    Args:
        input_shape: ``(C, H, W)`` with ``H, W >= 4``.
        num_classes: number of logits.
        dim: token width; must be divisible by ``heads``.
        depth: number of encoder layers.
        heads: attention heads.
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        patch_size: side of the square patches, or ``None`` for the rule above.
        dropout: dropout in the encoder layers.

    Example:
        >>> import torch
        >>> from unlearnkit.models import build_model
        >>> m = build_model("vit_tiny", input_shape=(3, 32, 32), num_classes=10)
        >>> m.patch_size, m(torch.zeros(2, 3, 32, 32)).shape
        (8, torch.Size([2, 10]))
    """

    _parameter_constraints = {
        "dim": Interval(int, 1, MAX_WIDTH),
        "depth": Interval(int, 1, MAX_DEPTH),
        "heads": Interval(int, 1, MAX_WIDTH),
        "mlp_ratio": Interval(float, 0, MAX_DEPTH, closed="neither"),
        "patch_size": OptionalOf(Interval(int, 1, MAX_WIDTH)),
        "dropout": Interval(float, 0, 1, closed="left"),
    }
    shape_rule = "image inputs (C, H, W) with H, W >= 4"

    def __init__(
        self,
        input_shape,
        num_classes,
        *,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        patch_size: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__(input_shape, num_classes)
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.mlp_ratio = mlp_ratio
        self.patch_size = patch_size
        self.dropout = dropout
        self._check()
        c, h, w = self.input_shape
        if dim % heads != 0:
            raise ConfigError(
                f"The 'heads' parameter of ViTTiny must divide dim={dim}. Got {heads!r} instead."
            )
        if patch_size is None:
            patch_size = default_patch_size(h, w)
        elif h % patch_size or w % patch_size:
            raise ConfigError(
                f"The 'patch_size' parameter of ViTTiny must divide the image height and width "
                f"({h}x{w}). Got {patch_size!r} instead."
            )
        self.patch_size = patch_size  # resolved; arch_kwargs records it
        n_patches = (h // patch_size) * (w // patch_size)
        ff = max(1, int(round(dim * mlp_ratio)))

        self.patch_embed = nn.Conv2d(c, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches + 1, dim))
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=ff, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, self.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # nn.TransformerEncoder deep-copies one layer, so every layer would start identical:
        # re-draw all weights here.
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.MultiheadAttention):
                nn.init.trunc_normal_(m.in_proj_weight, std=0.02)
                nn.init.zeros_(m.in_proj_bias)

    @classmethod
    def accepts_shape(cls, input_shape) -> bool:
        return len(input_shape) == 3 and default_patch_size(input_shape[1], input_shape[2]) is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # (B, C, H, W) -> (B, dim, H/p, W/p)
        x = x.flatten(2).transpose(1, 2)  # (B, N, dim), N = (H/p) * (W/p)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, dim)
        x = torch.cat([cls, x], dim=1) + self.pos_embed  # (B, N + 1, dim)
        x = self.encoder(x)  # (B, N + 1, dim)
        return self.head(self.norm(x[:, 0]))  # (B, num_classes)
