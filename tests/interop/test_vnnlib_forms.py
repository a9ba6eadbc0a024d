"""VNNLIB forms of VNN-COMP categories beyond the local ones: declarations in
any order, scientific notation and negated constants, (check-sat), an ``or``
of input boxes with output constraints inside each conjunct."""

import numpy as np

from certnn.interop.vnnlib import parse_vnnlib


def test_declarations_in_any_order_and_number_forms():
    p = parse_vnnlib("; header\n(declare-const Y_1 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                     "(declare-const X_0 Real)\n(assert (<= X_0 1.5e-3))\n(assert (>= X_0 -2.5E+02))\n"
                     "(assert (<= X_1 (- 0.5)))\n(assert (>= X_1 -1.))\n"
                     "(assert (or (and (<= Y_0 Y_1) (>= Y_0 1e5)) (and (< Y_1 -.5))))\n(check-sat)\n", "f")
    (box, spec), = p.cases
    np.testing.assert_array_equal(box.lo, [-250.0, -1.0])
    np.testing.assert_array_equal(box.hi, [0.0015, -0.5])
    # rows C y + d <= 0: y0 - y1 <= 0 and -y0 + 1e5 <= 0 (group 0), y1 + 0.5 <= 0 (group 1)
    np.testing.assert_array_equal(spec.C[0], [[1, -1], [-1, 0], [0, 1]])
    np.testing.assert_array_equal(spec.d[0], [0, 1e5, 0.5])
    np.testing.assert_array_equal(spec.groups, [0, 0, 1])
    assert not p.is_counterexample(np.array([0.0, -0.7]), np.array([1.0, -0.5]))   # -0.5 < -0.5 is false
    assert p.is_counterexample(np.array([0.0, -0.7]), np.array([1.0, -0.6]))


def test_or_of_conjunctions_mixing_input_boxes_and_outputs():
    p = parse_vnnlib("(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\n"
                     "(assert (or (and (>= X_0 0) (<= X_0 0.5) (>= Y_0 Y_1))\n"
                     "            (and (>= X_0 0.5) (<= X_0 1) (<= Y_1 3))))", "f")
    assert [(float(b.lo[0]), float(b.hi[0])) for b, _ in p.cases] == [(0.0, 0.5), (0.5, 1.0)]
    assert p.is_counterexample(np.array([0.2]), np.array([2.0, 1.0]))
    assert not p.is_counterexample(np.array([0.7]), np.array([2.0, 4.0]))
