"""Every op's ``error`` rule bounds |binary32 kernel(x^) - real(x)| for binary32
inputs x^ within the stated input error e of a real point x in the box, on the
op's samples, at random points and box corners."""

import numpy as np
import pytest

from certnn.ops import all_ops

OPS = [op for op in all_ops() if op.error is not None]


def _boxed(op, i, x):
    return np.asarray(x).dtype.kind == "f" and (op.elementwise or i == 0)


@pytest.mark.parametrize("radius,in_err", [(0.0, 0.0), (0.05, 0.0), (0.0, 1e-3), (0.05, 1e-4)])
@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_error_rule_bounds_binary32_minus_real(op, radius, in_err):
    rng = np.random.default_rng(11)
    for s in op.samples(rng):
        attrs = op.normalize(s.attrs)
        centre = [np.asarray(x, np.float32) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
                  for x in s.inputs]
        los, his, errs = [], [], []
        for i, c in enumerate(centre):
            c64 = c.astype(np.float64)
            if _boxed(op, i, c):
                los.append(c64 - radius - in_err)   # the box holds every real x within e of x^
                his.append(c64 + radius + in_err)
                errs.append(np.full(c.shape, in_err))
            else:
                los.append(c64)
                his.append(c64)
                errs.append(np.zeros(c.shape))
        out_lo, out_hi = op.interval(los, his, **attrs)
        bound = op.error(los, his, errs, out_lo, out_hi, **attrs)
        assert np.all(bound >= 0) and not np.any(np.isnan(bound))
        for trial in range(60):
            xh, xr = [], []
            for i, c in enumerate(centre):
                if not _boxed(op, i, c):
                    xh.append(c)
                    xr.append(c.astype(np.float64) if c.dtype.kind == "f" else c)
                    continue
                if trial < 2:  # corners of the binary32 box
                    p = c.astype(np.float64) + (radius if trial else -radius)
                else:
                    p = c.astype(np.float64) + rng.uniform(-radius, radius, c.shape)
                x32 = p.astype(np.float32)
                d = rng.uniform(-in_err, in_err, c.shape)
                xh.append(x32)
                xr.append(x32.astype(np.float64) + d)
            y32 = op.binary32(*xh, **attrs).astype(np.float64)
            yr = op.real(*xr, **attrs)
            slack = 1e-12 * np.abs(yr) + 1e-300  # float64 stands in for the exact real result
            assert np.all(np.abs(y32 - yr) <= bound + slack), (op.name, float(np.max(np.abs(y32 - yr) - bound)))
