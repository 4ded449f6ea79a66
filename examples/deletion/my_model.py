"""A model that is not from unlearnkit: a small MLP and the training loop its owner wrote.

unlearnkit only needs ``build()``, a factory returning the untrained module (``--arch
examples/deletion/my_model.py:build``), and the trained weights (``--weights model.safetensors``).
"""

import torch
from torch import nn


class FashionMLP(nn.Module):
    """784 -> 128 -> 10, ReLU. Takes images of shape (1, 28, 28) with values in [0, 1]."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def build(hidden: int = 128) -> FashionMLP:
    return FashionMLP(hidden)


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 30, seed: int = 0) -> nn.Module:
    """The owner's own loop: Adam at 1e-3, batches of 64, no regularisation."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    return model.eval()
