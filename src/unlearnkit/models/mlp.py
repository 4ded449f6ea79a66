"""``mlp``: a fully connected classifier that flattens any input shape."""

from __future__ import annotations

import math

import torch
from torch import nn

from unlearnkit.config import Interval
from unlearnkit.models.registry import MAX_DEPTH, MAX_WIDTH, MODELS, Architecture


class _Block(nn.Module):
    """Linear -> ReLU -> Dropout (dropout is always present, with ``p`` possibly 0, so the
    state-dict keys do not depend on ``dropout``)."""

    def __init__(self, d_in: int, d_out: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.linear(x)))


@MODELS.register("mlp")
class MLP(Architecture):
    """Multi-layer perceptron: flatten -> ``depth`` x (Linear, ReLU, Dropout) -> Linear logits.

    Works on any input shape: tabular ``(F,)``, images ``(C, H, W)`` (flattened) or anything else.
    ``depth=0`` gives multinomial logistic regression (a single linear layer).

    Args:
        input_shape: per-sample input shape.
        num_classes: number of logits.
        hidden_width: units in every hidden layer.
        depth: number of hidden layers.
        dropout: dropout probability after every hidden activation.

    Example:
        >>> import torch
        >>> from unlearnkit.models import build_model
        >>> m = build_model("mlp", input_shape=(20,), num_classes=3, hidden_width=64)
        >>> m(torch.zeros(5, 20)).shape
        torch.Size([5, 3])
    """

    _parameter_constraints = {
        "hidden_width": Interval(int, 1, MAX_WIDTH),
        "depth": Interval(int, 0, MAX_DEPTH),
        "dropout": Interval(float, 0, 1, closed="left"),
    }
    shape_rule = "any input shape"

    def __init__(self, input_shape, num_classes, *, hidden_width: int = 256, depth: int = 2, dropout: float = 0.0):
        super().__init__(input_shape, num_classes)
        self.hidden_width = hidden_width
        self.depth = depth
        self.dropout = dropout
        self._check()
        d_in = math.prod(self.input_shape)
        widths = [d_in] + [hidden_width] * depth
        self.flatten = nn.Flatten(start_dim=1)
        self.blocks = nn.ModuleList(_Block(a, b, dropout) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(widths[-1], self.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)  # (B, *input_shape) -> (B, F)
        for block in self.blocks:
            x = block(x)  # (B, hidden_width)
        return self.head(x)  # (B, num_classes)
