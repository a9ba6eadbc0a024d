"""PyTorch-style layers over certnn's op table."""

from .. import functional  # noqa: F401
from .layers import (AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, Identity,  # noqa: F401
                     LayerNorm, LeakyReLU, Linear, MaxPool2d, PixelShuffle, ReLU, Sigmoid, Softmax, Softplus,
                     Tanh)
from .module import Module, Parameter, Sequential  # noqa: F401
