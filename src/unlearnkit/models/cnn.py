"""``cnn``: a small two-layer convolutional net for images, fast enough for CPU training."""

from __future__ import annotations

import torch
from torch import nn

from unlearnkit.config import Interval
from unlearnkit.models.registry import MAX_WIDTH, MODELS, Architecture


@MODELS.register("cnn")
class CNN(Architecture):
    """Small conv net without batch norm, for image inputs ``(C, H, W)`` with ``H, W >= 8``.

    Layers: conv3x3(C -> channels) - ReLU - maxpool2, conv3x3(channels -> 2*channels) - ReLU -
    maxpool2, flatten, linear(-> hidden) - ReLU, linear(-> num_classes). Convolutions are padded
    so each max-pool halves the spatial size (rounding down); the first linear layer therefore
    has ``2 * channels * (H // 4) * (W // 4)`` inputs (3136 for 28x28 with the defaults).

    Args:
        input_shape: ``(C, H, W)``, any channel count, ``H, W >= 8``.
        num_classes: number of logits.
        channels: channels of the first convolution (the second has twice as many).
        hidden: units of the hidden linear layer.

    Example:
        >>> import torch
        >>> from unlearnkit.models import build_model
        >>> m = build_model("cnn", input_shape=(1, 28, 28), num_classes=10)
        >>> m(torch.zeros(4, 1, 28, 28)).shape
        torch.Size([4, 10])
    """

    _parameter_constraints = {
        "channels": Interval(int, 1, MAX_WIDTH),
        "hidden": Interval(int, 1, MAX_WIDTH),
    }
    shape_rule = "image inputs (C, H, W) with H, W >= 8"

    def __init__(self, input_shape, num_classes, *, channels: int = 32, hidden: int = 128):
        super().__init__(input_shape, num_classes)
        self.channels = channels
        self.hidden = hidden
        self._check()
        c, h, w = self.input_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Linear(2 * channels * (h // 4) * (w // 4), hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, self.num_classes),
        )

    @classmethod
    def accepts_shape(cls, input_shape) -> bool:
        return len(input_shape) == 3 and input_shape[1] >= 8 and input_shape[2] >= 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, C, H, W) -> (B, 2*channels, H//4, W//4)
        return self.classifier(x)  # (B, num_classes)
