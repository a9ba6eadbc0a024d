"""PyTorch-style layers over certnn's op table."""

from .. import functional  # noqa: F401
from .attention import KVCache, MultiheadAttention, RotaryEmbedding, TransformerBlock, init_normal_  # noqa: F401
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten, GELU,  # noqa: F401
                     GlobalAvgPool2d, Identity, LayerNorm, LeakyReLU, Linear, MaxPool2d, PixelShuffle, ReLU,
                     RMSNorm, Sigmoid, Softmax, Softplus, Tanh)
from .module import Module, Parameter, Sequential  # noqa: F401
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
from .spectral import SpectralConv1d  # noqa: F401
