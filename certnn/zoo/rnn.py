"""Recurrent classifiers for sequential MNIST: the 28 rows of an image are 28
time steps of 28 pixels; the last hidden state goes through a linear layer."""

from __future__ import annotations

from .. import nn

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class SequenceClassifier(nn.Module):
    def __init__(self, cell: str = "lstm", input_size: int = 28, hidden: int = 128, num_classes: int = 10):
        super().__init__()
        self.rnn = CELLS[cell](input_size, hidden)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):                       # x: (batch, T, input_size)
        return self.head(self.rnn(x))


def recurrent(cell: str = "lstm", input_size: int = 28, hidden: int = 128, num_classes: int = 10):
    from ..errors import CheckpointError
    if cell not in CELLS:
        raise CheckpointError(f"unknown recurrent cell '{cell}'; known: {', '.join(CELLS)}")
    return SequenceClassifier(cell, input_size, hidden, num_classes)
