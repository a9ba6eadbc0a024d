"""Bounds for binary32 execution: the real bounds widened by the error budget
must contain certnn's binary32 outputs (and any-order bounds are wider)."""

import numpy as np

from certnn.bounds import LinearSpec, Region, compute_bounds
from certnn.ir.trace import trace
from certnn import run

from ..zoo_models import build_all


def _mlp():
    for name, m, x in build_all():
        if name == "zoo_mlp":
            return trace(m, x)[0], x


def test_binary32_bounds_contain_binary32_outputs_and_are_wider():
    g, x = _mlp()
    region = Region.ball(x.astype(np.float64), 0.02, "inf", domain=(0, 1))
    real = compute_bounds(g, region, method="crown")
    b32 = compute_bounds(g, region, method="crown", semantics="binary32")
    anyo = compute_bounds(g, region, method="crown", semantics="binary32-any-order")
    assert np.all(b32.lb < real.lb) and np.all(b32.ub > real.ub)
    assert np.all(anyo.lb <= b32.lb) and np.all(anyo.ub >= b32.ub)
    rng = np.random.default_rng(1)
    for _ in range(20):
        pts = (region.lo + rng.random(region.lo.shape) * (region.hi - region.lo)).astype(np.float32)
        pts = np.clip(pts, region.lo, region.hi).astype(np.float32)  # binary32 points of the region
        inside = region.contains(pts.astype(np.float64))
        y = np.asarray(run(g, pts, semantics="binary32"), np.float64)
        assert np.all((y >= b32.lb) | ~inside[:, None]) and np.all((y <= b32.ub) | ~inside[:, None])


def test_spec_rows_are_widened_by_abs_c():
    g, x = _mlp()
    region = Region.ball(x.astype(np.float64), 0.01, "inf", domain=(0, 1))
    spec = LinearSpec.robustness([0, 1, 2], 10)
    real = compute_bounds(g, region, spec)
    b32 = compute_bounds(g, region, spec, semantics="binary32")
    w = real.lb - b32.lb
    assert np.all(w > 0) and np.all(w < 1e-3)
    assert "semantics:binary32" in b32.assumptions
