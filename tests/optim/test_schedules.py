import math

import numpy as np
import pytest

from certnn.optim import SGD, ConstantLR, CosineLR, StepLR, Warmup
from certnn.tensor import Tensor


def test_constant():
    s = ConstantLR()
    assert [s(t) for t in (0, 1, 1000)] == [1.0, 1.0, 1.0]
    assert s.lr_at(5, 0.3) == 0.3


def test_step_lr():
    s = StepLR(step_size=3, gamma=0.5)
    assert [s(t, 0.8) for t in range(8)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    assert StepLR(10)(25) == pytest.approx(0.01)  # default gamma 0.1


def test_cosine_lr():
    s = CosineLR(total_steps=100)
    assert s(0, 0.1) == 0.1
    assert s(50, 0.1) == pytest.approx(0.05)
    assert s(25, 0.1) == pytest.approx(0.1 * (1 + math.cos(math.pi / 4)) / 2)
    assert s(100, 0.1) == pytest.approx(0.0, abs=1e-18)
    assert s(500, 0.1) == pytest.approx(0.0, abs=1e-18)
    m = CosineLR(total_steps=10, min_lr=0.01)
    assert m(0, 0.1) == 0.1 and m(10, 0.1) == 0.01 and m(99, 0.1) == 0.01
    assert m(5, 0.1) == pytest.approx(0.055)
    vals = [m(t, 0.1) for t in range(11)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_warmup():
    s = Warmup(ConstantLR(), warmup_steps=4)
    assert [s(t, 0.2) for t in range(6)] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.2])
    w = Warmup(CosineLR(total_steps=20), warmup_steps=5)
    for t in (0, 2, 4, 5, 12, 20, 30):
        inner = CosineLR(20)(t, 0.4)
        assert w(t, 0.4) == pytest.approx(inner * min(1, t / 5))
    assert Warmup(StepLR(2, 0.5), 0)(3, 1.0) == 0.5  # no warmup


def test_apply_sets_optimizer_lr_from_base_lr():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = SGD([p], lr=0.5)
    s = Warmup(StepLR(10, 0.1), warmup_steps=2)
    assert s.apply(opt, 0) == 0.0 and opt.lr == 0.0
    assert s.apply(opt, 1) == 0.25 and opt.lr == 0.25
    assert s.apply(opt, 15) == pytest.approx(0.05) and opt.lr == pytest.approx(0.05)
    assert opt.base_lr == 0.5
    s.apply(opt, 3)  # stateless: any step in any order
    assert opt.lr == 0.5


def test_training_loop_uses_scheduled_lr():
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = SGD([p], lr=1.0)
    s = StepLR(2, 0.5)
    for t in range(4):
        s.apply(opt, t)
        p.grad = np.ones(1)
        opt.step()
    np.testing.assert_allclose(p.data, [-(1 + 1 + 0.5 + 0.5)])


@pytest.mark.parametrize("make", [lambda: StepLR(0), lambda: StepLR(2.5), lambda: StepLR(2, -1),
                                  lambda: CosineLR(0), lambda: CosineLR(10, min_lr=-1),
                                  lambda: Warmup(ConstantLR(), -1)])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("step", [-1, 1.5])
def test_bad_step(step):
    with pytest.raises(ValueError, match="step"):
        StepLR(2)(step)


def test_repr():
    assert repr(StepLR(3, 0.5)) == "StepLR(step_size=3, gamma=0.5)"
