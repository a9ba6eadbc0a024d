"""One options object for every bound method, validated once; a bound is never NaN."""

import numpy as np
import pytest

from certnn.bounds import BoundOptions, OptionError, Region, compute_bounds

from ._models import toy


@pytest.mark.parametrize("method,kw,match", [
    ("ibp", {"iters": 20}, "option 'iters' does not apply to method 'ibp'.*alpha-crown"),
    ("crown", {"lr": 0.1}, "option 'lr' does not apply to method 'crown'"),
    ("alpha-crown", {"lirpa_compat": True}, "option 'lirpa_compat' does not apply"),
    ("alpha-crown", {"iters": -1}, "iters must be an integer >= 0"),
    ("alpha-crown", {"iters": 2.5}, "iters must be an integer"),
    ("alpha-crown", {"lr": float("nan")}, "lr must be a finite number > 0"),
    ("ibp", {"lirpa_compat": "yes"}, "lirpa_compat must be True or False"),
    ("crown", {"itres": 3}, "unknown bound option.*'itres'"),
    ("crown-ibpp", {}, "unknown method 'crown-ibpp'"),
])
def test_bad_options_are_clear_errors(method, kw, match):
    region = Region.ball(np.array([[1.0, -1.0]]), 0.5, "inf")
    with pytest.raises(OptionError, match=match):
        compute_bounds(toy(), region, method=method, **kw)


def test_options_object_and_keywords_agree():
    g, region = toy(), Region.ball(np.array([[1.0, -1.0]]), 0.5, "inf")
    a = compute_bounds(g, region, method="alpha-crown", options=BoundOptions(iters=3, lr=0.05))
    b = compute_bounds(g, region, method="alpha-crown", iters=3, lr=0.05)
    np.testing.assert_array_equal(a.lb, b.lb)
    with pytest.raises(OptionError, match="does not apply to method 'crown'"):
        compute_bounds(g, region, method="crown", options=BoundOptions(iters=3))


@pytest.mark.parametrize("method", ["ibp", "crown", "crown-ibp", "same-slope", "alpha-crown"])
@pytest.mark.parametrize("semantics", ["real", "binary32"])
def test_bounds_on_a_huge_region_are_infinite_not_nan(method, semantics):
    g = toy()
    region = Region.ball(np.array([[1.0, -1.0], [0.0, 2.0]]), 1e308, "inf")
    b = compute_bounds(g, region, method=method, semantics=semantics)
    assert not np.isnan(b.lb).any() and not np.isnan(b.ub).any()
    assert np.all(b.lb <= b.ub) and np.all(np.isinf(b.lb) | np.isinf(b.ub))
