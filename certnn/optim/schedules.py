"""Learning-rate schedules.

A schedule maps a step number and the optimizer's base learning rate to the
learning rate to use::

    lr = schedule.lr_at(step, base_lr)      # also: schedule(step, base_lr)
    schedule.apply(optimizer, step)         # optimizer.lr = lr_at(step, optimizer.base_lr)

``step`` is the 0-based index of the update about to be made: call
``apply(opt, step)`` just before the ``step``-th ``opt.step()``. With
``base_lr=1.0`` (the default) ``lr_at`` is the multiplier of the base rate.
Schedules hold no mutable state, so resuming at step ``s`` needs only ``s``.

- ``ConstantLR()``:                   ``base_lr``
- ``StepLR(step_size, gamma=0.1)``:   ``base_lr * gamma ** (step // step_size)``
- ``CosineLR(total_steps, min_lr=0)``:
  ``min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2`` for
  ``step < total_steps``, ``min_lr`` afterwards (``min_lr`` is an absolute rate)
- ``Warmup(inner, warmup_steps)``:    ``inner.lr_at(step, base_lr) * min(1, step / warmup_steps)``,
  a linear ramp from 0 at step 0 to the inner schedule's value at ``warmup_steps``
  (the inner schedule runs on the same step count).
"""

from __future__ import annotations

import math


class Schedule:
    """Base class: subclasses define :meth:`lr_at`."""

    def lr_at(self, step: int, base_lr: float = 1.0) -> float:
        raise NotImplementedError

    def __call__(self, step: int, base_lr: float = 1.0) -> float:
        return self.lr_at(step, base_lr)

    def apply(self, optimizer, step: int) -> float:
        """Set ``optimizer.lr`` for update ``step`` and return it."""
        optimizer.lr = lr = self.lr_at(step, optimizer.base_lr)
        return lr

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _step(step) -> int:
    if int(step) != step or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    return int(step)


class ConstantLR(Schedule):
    """``lr = base_lr`` at every step."""

    def lr_at(self, step, base_lr=1.0):
        _step(step)
        return float(base_lr)


class StepLR(Schedule):
    """``lr = base_lr * gamma ** (step // step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    def __init__(self, step_size: int, gamma: float = 0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"step_size must be an integer >= 1, got {step_size!r}")
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, step, base_lr=1.0):
        return float(base_lr) * self.gamma ** (_step(step) // self.step_size)


class CosineLR(Schedule):
    """Half a cosine from ``base_lr`` at step 0 to ``min_lr`` at ``total_steps``, then flat::

        lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * min(step, T) / T)) / 2
    """

    def __init__(self, total_steps: int, min_lr: float = 0.0):
        if int(total_steps) != total_steps or total_steps < 1:
            raise ValueError(f"total_steps must be an integer >= 1, got {total_steps!r}")
        if not min_lr >= 0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr!r}")
        self.total_steps, self.min_lr = int(total_steps), float(min_lr)

    def lr_at(self, step, base_lr=1.0):
        t = min(_step(step), self.total_steps) / self.total_steps
        return self.min_lr + (float(base_lr) - self.min_lr) * (1 + math.cos(math.pi * t)) / 2


class Warmup(Schedule):
    """Linear warmup: ``lr = inner.lr_at(step, base_lr) * min(1, step / warmup_steps)``.

    0 at step 0, the inner schedule's own value from ``warmup_steps`` on;
    ``warmup_steps=0`` means no warmup.
    """

    def __init__(self, inner: Schedule, warmup_steps: int):
        if int(warmup_steps) != warmup_steps or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}")
        self.inner, self.warmup_steps = inner, int(warmup_steps)

    def lr_at(self, step, base_lr=1.0):
        step = _step(step)
        lr = self.inner.lr_at(step, base_lr)
        return lr if step >= self.warmup_steps else lr * step / self.warmup_steps
