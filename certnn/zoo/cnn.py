"""Convolutional networks for MNIST-sized images.

``cnn``: conv3x3(w) - relu - maxpool2 - conv3x3(2w) - relu - maxpool2 -
[linear(hidden) - relu] - linear(classes). ``width=8, hidden=0`` is the small
CNN of ``certnn train mnist --arch cnn``; the zoo's ``cnn`` uses width 32 and a
hidden layer of 128 (the classic Keras MNIST CNN shape).
"""

from __future__ import annotations

from .. import nn


def cnn(in_channels: int = 1, num_classes: int = 10, width: int = 8, image_size: int = 28, hidden: int = 0):
    side = image_size // 4
    head = ([nn.Linear(2 * width * side * side, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)] if hidden
            else [nn.Linear(2 * width * side * side, num_classes)])
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), *head)
