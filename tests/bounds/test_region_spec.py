"""Regions and specs: construction, concretization and bad input."""

import numpy as np
import pytest

from certnn.bounds import LinearSpec, Region, RegionError, SpecError, compute_bounds
from certnn.errors import CertnnError

from ._models import toy


def test_linf_ball_is_clipped_box():
    r = Region.ball(np.array([[0.0, 0.5, 1.0]]), 0.1, "inf", domain=(0, 1))
    np.testing.assert_allclose(r.lo, [[0.0, 0.4, 0.9]])
    np.testing.assert_allclose(r.hi, [[0.1, 0.6, 1.0]])


@pytest.mark.parametrize("norm,q", [("2", 2), ("1", np.inf)])
def test_ball_concretization_is_the_dual_norm(norm, q):
    rng = np.random.default_rng(0)
    c = rng.standard_normal((3, 5))
    a = rng.standard_normal((3, 2, 5))
    r = Region.ball(c, 0.2, norm)
    want = np.einsum("nkd,nd->nk", a, c) - 0.2 * np.linalg.norm(a, ord=q, axis=2)
    np.testing.assert_allclose(r.concretize_lower(a), want)


def test_ball_and_domain_concretize_to_the_larger_bound():
    c = np.array([[0.0, 0.0]])
    r = Region.ball(c, 1.0, "2", domain=(0, 1))  # the box [0,1]^2 cuts the disc
    a = np.array([[[1.0, 1.0]]])
    assert r.concretize_lower(a)[0, 0] == 0.0  # box bound (0) beats the disc (-sqrt 2)


@pytest.mark.parametrize("bad", [
    lambda: Region.ball(np.zeros((1, 2)), 0.0),
    lambda: Region.ball(np.zeros((1, 2)), -0.1),
    lambda: Region.ball(np.zeros((1, 2)), float("nan")),
    lambda: Region.ball(np.array([[np.nan, 0.0]]), 0.1),
    lambda: Region.ball(np.zeros((1, 2)), 0.1, norm="3"),
    lambda: Region.box(np.ones((1, 2)), np.zeros((1, 2))),
    lambda: Region.box(np.zeros((1, 2)), np.ones((1, 3))),
    lambda: Region.ball(np.full((1, 2), 5.0), 0.1, domain=(0, 1)),
])
def test_bad_regions_raise(bad):
    with pytest.raises(RegionError):
        bad()


def test_wrong_input_shape_for_the_model():
    with pytest.raises(CertnnError, match="input shape"):
        compute_bounds(toy(), Region.ball(np.zeros((1, 3)), 0.1))


def test_unknown_method_and_semantics():
    r = Region.ball(np.zeros((1, 2)), 0.1)
    with pytest.raises(CertnnError, match="method"):
        compute_bounds(toy(), r, method="deeppoly")
    with pytest.raises(CertnnError, match="semantics"):
        compute_bounds(toy(), r, semantics="float16")


def test_robustness_spec_rows_and_holds():
    s = LinearSpec.robustness([2], 3)
    np.testing.assert_array_equal(s.C[0], [[-1, 0, 1], [0, -1, 1]])
    assert s.holds(np.array([[0.1, 0.2]]))[0] and not s.holds(np.array([[0.1, 0.0]]))[0]
    assert s.violated(np.array([[0.0, 1.0, 0.5]]))[0] and not s.violated(np.array([[0.0, 0.1, 0.5]]))[0]


def test_unsafe_set_needs_one_positive_row_per_disjunct():
    # unsafe: (y0 <= 0 and y1 <= 0) or (y2 <= 0)
    s = LinearSpec.unsafe_set([(np.eye(3)[:2], np.zeros(2)), (np.eye(3)[2:], np.zeros(1))])
    assert list(s.groups) == [0, 0, 1]
    assert s.holds(np.array([[-1.0, 0.5, 0.1]]))[0]      # disjunct 0 refuted by row 1
    assert not s.holds(np.array([[-1.0, -0.5, 0.1]]))[0]
    assert s.violated(np.array([[1.0, 1.0, -1.0]]))[0]


def test_bad_specs_raise():
    with pytest.raises(SpecError):
        LinearSpec.robustness([10], 10)
    with pytest.raises(SpecError):
        LinearSpec(np.zeros((1, 2, 3)), np.zeros((1, 3)), np.arange(2))
    with pytest.raises(SpecError):
        LinearSpec(np.full((1, 1, 3), np.nan), np.zeros((1, 1)), np.arange(1))


def test_spec_output_count_must_match_model():
    r = Region.ball(np.zeros((1, 2)), 0.1)
    with pytest.raises(CertnnError, match="outputs"):
        compute_bounds(toy(), r, LinearSpec.robustness([0], 3))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_raise(bad):
    g = toy()
    name = next(iter(g.arrays))
    a = np.array(g.arrays[name])
    a.flat[0] = bad
    g.arrays[name] = a
    for method in ("ibp", "crown"):
        with pytest.raises(CertnnError, match="NaN or infinite"):
            compute_bounds(g, Region.ball(np.zeros((1, 2)), 0.1), method=method)
