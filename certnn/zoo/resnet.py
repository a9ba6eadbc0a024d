"""A pre-activation ResNet (He et al., 2016, "Identity mappings in deep residual
networks") for 28x28 digits: BN-ReLU-conv ordering, identity shortcuts inside a
stage and a strided 1x1 convolution where the shape changes.

    stem conv3x3(w, stride 2)                                  28 -> 14
    stage 1: PreActBlock(w -> w)                               14
    stage 2: PreActBlock(w -> 2w, stride 2)                    14 -> 7
    stage 3: PreActBlock(2w -> 4w, stride 2)                   7 -> 4
    BN - ReLU - global average pool - linear(classes)

Eight weight layers (stem, six 3x3 convolutions, the classifier) plus two 1x1
shortcut projections.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn


class PreActBlock(nn.Module):
    """y = x' + conv(relu(bn(conv(relu(bn(x)))))), x' = x or a strided 1x1 projection
    of relu(bn(x)) when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        return skip + self.conv2(F.relu(self.bn2(self.conv1(a))))


class ResNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False)
        self.stages = nn.Sequential(PreActBlock(width, width), PreActBlock(width, 2 * width, 2),
                                    PreActBlock(2 * width, 4 * width, 2))
        self.bn = nn.BatchNorm2d(4 * width)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        h = F.relu(self.bn(self.stages(self.stem(x))))
        return self.fc(F.global_avg_pool2d(h))


def resnet(in_channels: int = 1, num_classes: int = 10, width: int = 16):
    return ResNet(in_channels, num_classes, width)
