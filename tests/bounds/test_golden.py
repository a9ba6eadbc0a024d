"""Golden values: auto_LiRPA's toy example and its cnn4 reference bounds."""

import numpy as np
import pytest

from certnn.bounds import Region, alpha_crown, compute_bounds, crown, ibp

from ._models import cnn4, toy

TOY_BOX = Region.box(np.array([[-1.0, -2.0]]), np.array([[2.0, 1.0]]))


def test_toy_ibp_encloses_minus6_4_within_rounding():
    b = ibp(toy(), TOY_BOX)
    # IBP runs the outward-rounded interval rules: [-6, 4] widened by a few ulps
    assert -6 - 1e-12 < b.lb[0, 0] <= -6 and 4 <= b.ub[0, 0] < 4 + 1e-12


def test_toy_crown_is_exactly_minus3_3():
    b = crown(toy(), TOY_BOX)
    assert b.lb[0, 0] == -3.0 and b.ub[0, 0] == 3.0


def test_toy_crown_intermediate_bounds_are_exact():
    b = crown(toy(), TOY_BOX)
    lo, hi = b.intermediate["h"]
    np.testing.assert_array_equal(lo, [[-2.0, -3.0]])
    np.testing.assert_array_equal(hi, [[4.0, 6.0]])


def test_toy_alpha_crown_upper_at_most_2():
    b = alpha_crown(toy(), TOY_BOX)
    assert b.ub[0, 0] <= 2.0 + 1e-9 and b.lb[0, 0] >= -3.0


def test_toy_same_slope_differs_from_adaptive():
    # a check that the mode switch reaches the relaxation: same-slope is looser below here
    assert crown(toy(), TOY_BOX, method="same-slope").lb[0, 0] < -3.0


CASES = [(norm, m) for norm in ("inf", "2") for m in ("ibp", "crown", "crown-ibp", "same-slope")]
KEY = {"ibp": "IBP", "crown": "CROWN", "crown-ibp": "CROWN_IBP", "same-slope": "CROWN_same_slope"}


@pytest.fixture(scope="module")
def cnn():
    return cnn4()


@pytest.mark.parametrize("norm,method", CASES)
def test_cnn4_matches_auto_lirpa(cnn, norm, method):
    g, z = cnn
    region = Region.ball(z["data"], 0.01, norm)
    compat = {"lirpa_compat": True} if method in ("ibp", "crown-ibp") else {}   # the others match without it
    b = compute_bounds(g, region, method=method, **compat)
    pre = {"inf": "l_inf", "2": "l_2"}[norm]
    np.testing.assert_allclose(b.lb, z[f"{pre}_{KEY[method]}_lb"], rtol=1e-4, atol=2e-7)
    np.testing.assert_allclose(b.ub, z[f"{pre}_{KEY[method]}_ub"], rtol=1e-4, atol=2e-7)


def test_cnn4_exact_prefix_ibp_is_at_least_as_tight(cnn):
    """Without the compatibility switch, L2 IBP uses exact Jacobian row norms:
    never looser than auto_LiRPA's whole-kernel norms, strictly tighter somewhere."""
    g, z = cnn
    b = ibp(g, Region.ball(z["data"], 0.01, "2"))
    assert np.all(b.lb >= z["l_2_IBP_lb"] - 1e-6) and np.all(b.ub <= z["l_2_IBP_ub"] + 1e-6)
    assert np.mean(b.ub - b.lb) < np.mean(z["l_2_IBP_ub"] - z["l_2_IBP_lb"]) - 1e-4


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_cnn4_alpha_crown_at_least_as_tight_as_crown(cnn, norm):
    g, z = cnn
    region = Region.ball(z["data"][:2], 0.01, norm)
    c = crown(g, region)
    a = alpha_crown(g, region, iters=5)
    assert np.all(a.lb >= c.lb - 1e-12) and np.all(a.ub <= c.ub + 1e-12)
