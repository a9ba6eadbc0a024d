"""Option types shared by the commands: every number a user types is checked
where click parses it, so a bad value is a usage error naming the option
(exit 2), never a failure deep inside an optimiser or a bound."""

from __future__ import annotations

import math

import click


class Real(click.ParamType):
    """A finite float in a range. (click's FloatRange lets ``nan`` through, since
    every comparison with it is false, and ``inf`` through unless a maximum is set.)"""

    name = "float"

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False,
                 max_open: bool = False):
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def convert(self, value, param, ctx):
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"must be a finite number, got {value!r}", param, ctx)
        if self.min is not None and (v <= self.min if self.min_open else v < self.min) or \
                self.max is not None and (v >= self.max if self.max_open else v > self.max):
            self.fail(f"must be {self._range()}, got {value!r}", param, ctx)
        return v

    def _range(self) -> str:
        if self.max is None:
            return f"{'>' if self.min_open else '>='} {self.min:g}"
        if self.min is None:
            return f"{'<' if self.max_open else '<='} {self.max:g}"
        return f"in {'(' if self.min_open else '['}{self.min:g}, {self.max:g}{')' if self.max_open else ']'}"


POSITIVE = Real(min=0.0, min_open=True)
NONNEGATIVE = Real(min=0.0)
SEED = click.IntRange(0, 2**32 - 1)        # what NumPy's legacy seeding accepts too
MAX_WIDTH = 1 << 16


class Widths(click.ParamType):
    """Comma-separated layer widths, each in [1, MAX_WIDTH]."""

    name = "widths"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            widths = [int(h) for h in str(value).split(",") if h.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers (e.g. 512,512)", param, ctx)
        if not widths or any(not 1 <= w <= MAX_WIDTH for w in widths):
            self.fail(f"{value!r}: each width must be an integer in [1, {MAX_WIDTH}]", param, ctx)
        return widths
