"""Data: IDX files, MNIST, mini-batch loading and text rendering of images."""

from .ascii import render, render_many  # noqa: F401
from .idx import read_idx, write_idx  # noqa: F401
from .loader import DataLoader  # noqa: F401
from .mnist import load_mnist, locate_mnist, normalize  # noqa: F401
