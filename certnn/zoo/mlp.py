"""Multilayer perceptrons (the MNIST MLP of ``certnn train mnist`` and ``make run``)."""

from __future__ import annotations

from .. import nn
from ..errors import CheckpointError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def mlp(in_features: int = 784, hidden=(128,), num_classes: int = 10, activation: str = "relu"):
    if activation not in ACTIVATIONS:
        raise CheckpointError(f"unknown activation '{activation}'; known: {', '.join(ACTIVATIONS)}")
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
