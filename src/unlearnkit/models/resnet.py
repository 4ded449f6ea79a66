"""``resnet18``: the CIFAR-style ResNet-18 (3x3 stem, stride 1, no max-pool)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from unlearnkit.config import Interval
from unlearnkit.models.registry import MAX_WIDTH, MODELS, Architecture


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (1x1 conv-BN when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, c_out, H/stride, W/stride)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


@MODELS.register("resnet18")
class ResNet18(Architecture):
    """ResNet-18 for small images, as in the CIFAR literature (He et al. 2016; kuangliu/pytorch-cifar).

    Stem: conv3x3(C -> width, stride 1) - BN - ReLU, no max-pool. Four stages of two
    ``BasicBlock`` each with ``width, 2*width, 4*width, 8*width`` channels and strides 1, 2, 2, 2,
    then global average pooling and a linear layer. Because of the global pooling any channel count
    and any ``H, W >= 8`` work (8x8 digits up to 64x64 Tiny-ImageNet; larger is only slower).
    Convolutions use Kaiming-normal initialisation, BN weights 1 and biases 0 (as torchvision).

    Args:
        input_shape: ``(C, H, W)`` with ``H, W >= 8``.
        num_classes: number of logits.
        width: channels of the stem and first stage (64 is the standard ResNet-18, 11.2M
            parameters; 16 gives a 0.7M-parameter model that trains on a CPU).

    Example:
        >>> import torch
        >>> from unlearnkit.models import build_model
        >>> m = build_model("resnet18", input_shape=(3, 32, 32), num_classes=10, width=16)
        >>> m(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    _parameter_constraints = {"width": Interval(int, 1, MAX_WIDTH)}
    shape_rule = "image inputs (C, H, W) with H, W >= 8"

    def __init__(self, input_shape, num_classes, *, width: int = 64):
        super().__init__(input_shape, num_classes)
        self.width = width
        self._check()
        c = self.input_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(c, width, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages = []
        c_in = width
        for i, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2**i
            stages.append(nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, self.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @classmethod
    def accepts_shape(cls, input_shape) -> bool:
        return len(input_shape) == 3 and input_shape[1] >= 8 and input_shape[2] >= 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, C, H, W) -> (B, w, H, W)
        x = self.layer1(x)  # (B, w, H, W)
        x = self.layer2(x)  # (B, 2w, H/2, W/2)
        x = self.layer3(x)  # (B, 4w, H/4, W/4)
        x = self.layer4(x)  # (B, 8w, H/8, W/8)
        x = self.pool(x).flatten(1)  # (B, 8w)
        return self.fc(x)  # (B, num_classes)
