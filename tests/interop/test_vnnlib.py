"""VNNLIB parsing: every benchmark property (box sizes checked against its
model), hand-written properties with exact G and h, malformed input with line
and column, and a hypothesis round trip through VNNLIB text."""

import csv
import gzip
import time
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certnn.interop import (SpecMismatch, VnnlibError, check_against, load_onnx, load_vnnlib,
                            parse_vnnlib)
from certnn.io import benchmarks_root

BENCH = benchmarks_root() / "vnncomp2022"


def _instances():
    out = []
    for csv_path in sorted(BENCH.glob("*/instances.csv")):
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                out.append((csv_path.parent / row["onnx"], csv_path.parent / row["vnnlib"]))
    return out


INSTANCES = _instances()
PAIRS = sorted({(o, v) for o, v in INSTANCES}, key=str)


@lru_cache(maxsize=None)
def _model(path):
    return load_onnx(path)


@pytest.mark.skipif(not INSTANCES, reason="no instances.csv under $CERTNN_BENCHMARKS/vnncomp2022")
def test_every_benchmark_property_parses_and_fits_its_model():
    seen = {}
    for onnx_path, vnnlib_path in PAIRS:
        prop = seen.get(vnnlib_path) or load_vnnlib(vnnlib_path)
        seen[vnnlib_path] = prop
        g = _model(onnx_path)
        check_against(prop, g)
        assert len(prop) >= 1
        for box, spec in prop:
            assert box.lo.shape == box.hi.shape == (prop.n_inputs,)
            assert np.all(np.isfinite(box.lo)) and np.all(box.lo <= box.hi)
            assert spec.C.shape[2] == prop.n_outputs
            # the box is a region the bound code accepts, in the model's input shape
            shape = tuple(d for d in g.inputs[0].shape if d is not None) \
                if g.inputs[0].shape[:1] == (None,) else None
            if shape:
                assert box.region(shape).lo.shape == (1,) + shape
    assert len(seen) == len({v for _, v in INSTANCES})


def test_mnist_property_structure_and_speed():
    path = BENCH / "mnist_fc/vnnlib/prop_0_0.03.vnnlib"
    if not path.exists():
        pytest.skip("mnist_fc not present")
    largest = max((BENCH / "mnist_fc/vnnlib").glob("*.vnnlib"), key=lambda p: p.stat().st_size)
    t = min(_timed(largest) for _ in range(3))
    assert t < 0.5, f"parsing {largest.name} took {t:.3f} s"  # ~20 ms here; loose for a busy machine
    (box, spec), = load_vnnlib(path)
    assert box.lo.shape == (784,) and np.all(box.hi - box.lo <= 0.06 + 1e-6)  # eps 0.03 around float32 pixels
    # label 4 (from the file): nine one-row disjuncts y_j - y_4 >= 0, i.e. y_4 - y_j <= 0
    assert spec.n_groups == 9 and spec.C.shape == (1, 9, 10)
    others = [j for j in range(10) if j != 4]
    for k, j in enumerate(others):
        want = np.zeros(10)
        want[4], want[j] = 1.0, -1.0
        assert np.array_equal(spec.C[0, k], want)
    assert np.array_equal(spec.d, np.zeros((1, 9)))


def _timed(path):
    t = time.perf_counter()
    load_vnnlib(path)
    return time.perf_counter() - t


def test_check_against_counts():
    path = BENCH / "acasxu/vnnlib/prop_1.vnnlib"
    mnist = BENCH / "mnist_fc/onnx/mnist-net_256x2.onnx"
    if not (path.exists() and mnist.exists()):
        pytest.skip("benchmarks not present")
    with pytest.raises(SpecMismatch, match=r"5 inputs \(X\) and 5 outputs \(Y\), the model 784 and 10"):
        check_against(load_vnnlib(path), _model(mnist))


# ---------------------------------------------------------------- hand-written

HEAD = "".join(f"(declare-const X_{i} Real)\n" for i in range(2)) + \
       "".join(f"(declare-const Y_{j} Real)\n" for j in range(3))
BOX = "(assert (<= X_0 1))\n(assert (>= X_0 -1))\n(assert (<= X_1 0.5))\n(assert (>= X_1 0.25))\n"


def test_conjunction_of_output_constraints():
    prop = parse_vnnlib(HEAD + BOX + "(assert (<= Y_0 Y_1))\n(assert (>= Y_2 3))\n(assert (< (* 2 Y_1) 1))")
    (box, spec), = prop
    assert np.array_equal(box.lo, [-1, 0.25]) and np.array_equal(box.hi, [1, 0.5])
    assert np.array_equal(spec.groups, [0, 0, 0])
    assert np.array_equal(spec.C[0], [[1, -1, 0], [0, 0, -1], [0, 2, 0]])
    assert np.array_equal(spec.d[0], [0, 3, -1])
    y_bad, y_ok = np.array([[0.0, 0.4, 5.0]]), np.array([[0.0, 0.4, 1.0]])
    assert spec.violated(y_bad)[0] and not spec.violated(y_ok)[0]


def test_disjunction_of_conjunctions_with_sums():
    text = HEAD + BOX + """
    (assert (or (and (>= Y_0 Y_1) (>= Y_0 Y_2))
                (and (<= (+ Y_1 (- Y_2) 0.5) (* 3 Y_0)))
                (and (= (- Y_2 Y_1) 2))))"""
    (box, spec), = parse_vnnlib(text)
    assert np.array_equal(spec.groups, [0, 0, 1, 2, 2])
    # (= a b) is a <= b and a >= b, in that order
    assert np.array_equal(spec.C[0], [[-1, 1, 0], [-1, 0, 1], [-3, 1, -1], [0, -1, 1], [0, 1, -1]])
    assert np.array_equal(spec.d[0], [0, 0, 0.5, -2, 2])


def test_disjunction_over_input_boxes_gives_several_cases():
    text = HEAD + """(assert (or (and (<= X_0 1) (>= X_0 0) (<= X_1 1) (>= X_1 0) (<= Y_0 0))
                        (and (<= X_0 3) (>= X_0 2) (<= X_1 1) (>= X_1 0) (>= Y_1 1))
                        (and (<= X_0 1) (>= X_0 0) (<= X_1 1) (>= X_1 0) (>= Y_2 7))))"""
    prop = parse_vnnlib(text)
    assert len(prop) == 2 and prop.n_inputs == 2 and prop.n_outputs == 3
    (b0, s0), (b1, s1) = prop
    assert np.array_equal(b0.lo, [0, 0]) and np.array_equal(b1.lo, [2, 0])
    assert np.array_equal(s0.groups, [0, 1])             # same box: the two disjuncts merge
    assert np.array_equal(s0.C[0], [[1, 0, 0], [0, 0, -1]]) and np.array_equal(s0.d[0], [0, 7])
    assert np.array_equal(s1.C[0], [[0, -1, 0]]) and np.array_equal(s1.d[0], [1])


def test_input_and_output_in_one_conjunct_and_gzip(tmp_path):
    src = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n" \
          "(assert (or\n    (and (>= X_0 -1) (<= X_0 1) (>= Y_0 100))\n))"
    p = tmp_path / "p.vnnlib.gz"
    p.write_bytes(gzip.compress(src.encode()))
    (box, spec), = load_vnnlib(p)
    assert box.lo.tolist() == [-1] and box.hi.tolist() == [1]
    assert spec.C[0].tolist() == [[-1.0]] and spec.d[0].tolist() == [100.0]


def test_no_output_constraint_means_every_output_is_unsafe():
    (box, spec), = parse_vnnlib(HEAD + BOX)
    assert spec.violated(np.array([[1.0, 2.0, 3.0]]))[0]


def test_empty_box_disjunct_is_dropped():
    text = HEAD + BOX + "(assert (or (and (>= X_0 5) (<= Y_0 0)) (and (<= Y_1 0))))"
    (box, spec), = parse_vnnlib(text)
    assert spec.C[0].tolist() == [[0, 1, 0]]


# ---------------------------------------------------------------- errors with line and column

@pytest.mark.parametrize("text,msg,line,col", [
    ("(declare-const X_0 Real)\n(assert (<= X_0 1)", "unbalanced '('", 2, 1),
    ("(declare-const X_0 Real))\n", "unbalanced ')'", 1, 25),
    (HEAD + BOX + "(assert (<= Y_7 0))", "unknown variable 'Y_7'", 10, 13),
    (HEAD + BOX + "(assert (<== Y_0 0))", "unknown operator '<=='", 10, 10),
    (HEAD + BOX + "(assert (<= (foo Y_0) 0))", "unknown operator 'foo'", 10, 14),
    (HEAD + BOX + "(assert (not (<= Y_0 0)))", "'not' is outside", 10, 10),
    (HEAD + "(assert (<= X_0 1))\n(assert (>= X_0 -1))\n(assert (<= X_1 0.5))", "X_1 has no lower bound", 2, 16),
    (HEAD + BOX + "(assert (<= X_0 Y_0))", "mixing X and Y", 10, 13),
    (HEAD + BOX + "(assert (<= (+ X_0 X_1) 1))", "several X variables", 10, 13),
    (HEAD + BOX + "(assert (<= (* Y_0 Y_1) 1))", "not linear", 10, 14),
    (HEAD + BOX + "(assert (<= Y_0 1e))", "bad number '1e'", 10, 17),
    ("(declare-const X_1 Real)\n(declare-const Y_0 Real)", "X_0 is not declared", 1, 16),
    (HEAD + "(declare-const Z_0 Real)", "not X_<i> or Y_<i>", 6, 16),
    (HEAD + BOX + "(check-model)", "unknown command 'check-model'", 10, 2),
])
def test_malformed_property_error_has_line_and_column(text, msg, line, col):
    with pytest.raises(VnnlibError) as e:
        parse_vnnlib(text, "prop.vnnlib")
    assert msg in str(e.value)
    assert (e.value.line, e.value.col) == (line, col), str(e.value)
    assert str(e.value).startswith(f"prop.vnnlib:{line}:{col}: ")


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(VnnlibError, match="nope.vnnlib"):
        load_vnnlib(tmp_path / "nope.vnnlib")
    gz = tmp_path / "t.vnnlib.gz"
    gz.write_bytes(gzip.compress((HEAD + BOX).encode())[:30])
    with pytest.raises(VnnlibError, match="t.vnnlib.gz: corrupt or truncated gzip"):
        load_vnnlib(gz)


# ---------------------------------------------------------------- round trip

_num = st.integers(-8, 8).map(lambda k: k / 4)  # exact in decimal and binary


def _write(lo, hi, disjuncts) -> str:
    n_x, n_y = len(lo), disjuncts[0][0].shape[1]
    lines = [f"(declare-const X_{i} Real)" for i in range(n_x)] + [f"(declare-const Y_{j} Real)" for j in range(n_y)]
    lines += [f"(assert (>= X_{i} {lo[i]!r}))\n(assert (<= X_{i} {hi[i]!r}))" for i in range(n_x)]
    ands = []
    for G, h in disjuncts:
        rows = []
        for g, c in zip(G, h):
            terms = " ".join(f"(* {float(v)!r} Y_{j})" for j, v in enumerate(g) if v != 0)
            rows.append(f"(<= (+ {terms} {float(c)!r}) 0)")
        ands.append(f"(and {' '.join(rows)})")
    lines.append(f"(assert (or {' '.join(ands)}))")
    return "\n".join(lines)


@st.composite
def _specs(draw):
    n_x, n_y = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lo = [draw(_num) for _ in range(n_x)]
    hi = [v + draw(st.integers(0, 8)) / 4 for v in lo]
    disjuncts = []
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(1, 3))
        G = np.array([[draw(_num) for _ in range(n_y)] for _ in range(k)])
        G[G[:, 0] == 0, 0] = 1.0  # keep every row non-constant
        disjuncts.append((G, np.array([draw(_num) for _ in range(k)])))
    return lo, hi, disjuncts


@settings(max_examples=60, deadline=None)
@given(_specs())
def test_round_trip_through_vnnlib_text(spec):
    lo, hi, disjuncts = spec
    (box, parsed), = parse_vnnlib(_write(lo, hi, disjuncts))
    assert box.lo.tolist() == lo and box.hi.tolist() == hi
    assert np.array_equal(parsed.C[0], np.concatenate([G for G, _ in disjuncts]))
    assert np.array_equal(parsed.d[0], np.concatenate([h for _, h in disjuncts]))
    assert np.array_equal(parsed.groups, np.concatenate([np.full(len(h), i) for i, (_, h) in enumerate(disjuncts)]))


# ---------------------------------------------------------------- strict comparisons

def test_strict_comparisons_bound_as_closed_sets_but_counterexamples_are_strict():
    text = HEAD + "(assert (< X_0 1))\n(assert (>= X_0 -1))\n(assert (<= X_1 0.5))\n(assert (> X_1 0.25))\n" \
        "(assert (or (and (> Y_0 Y_1)) (and (<= Y_2 3) (< Y_2 3))))"
    prop = parse_vnnlib(text)
    (box, spec), = prop
    assert box.lo.tolist() == [-1, 0.25] and box.hi.tolist() == [1, 0.5]   # closed for bounding
    assert spec.violated(np.array([[1.0, 1.0, 9.0]]))[0]                    # the closed set holds the tie
    x_in = [0.0, 0.3]
    assert prop.is_counterexample(x_in, [2.0, 1.0, 9.0])       # Y_0 > Y_1
    assert not prop.is_counterexample(x_in, [1.0, 1.0, 9.0])   # Y_0 = Y_1: on the boundary
    assert not prop.is_counterexample(x_in, [0.0, 1.0, 3.0])   # (< Y_2 3) is strict; (<= Y_2 3) alone is not
    assert prop.is_counterexample(x_in, [0.0, 1.0, 2.5])
    assert not prop.is_counterexample([1.0, 0.3], [2.0, 1.0, 9.0])   # X_0 < 1
    assert not prop.is_counterexample([0.0, 0.25], [2.0, 1.0, 9.0])  # X_1 > 0.25
    assert prop.is_counterexample([-1.0, 0.5], [2.0, 1.0, 9.0])      # non-strict bounds include the end
    assert not prop.is_counterexample([0.0, 0.3, 1.0], [2.0, 1.0, 9.0])  # wrong size


def test_tied_bounds_keep_the_strict_one_and_strict_constants_can_be_false():
    text = HEAD + "(assert (<= X_0 1))\n(assert (< X_0 1))\n(assert (>= X_0 0))\n(assert (<= X_1 1))\n" \
        "(assert (>= X_1 0))\n(assert (<= X_0 2))"
    prop = parse_vnnlib(text)
    assert not prop.is_counterexample([1.0, 0.5], [0, 0, 0]) and prop.is_counterexample([0.9, 0.5], [0, 0, 0])
    text = HEAD + BOX + "(assert (or (and (< 0 0) (<= Y_0 0)) (and (<= Y_1 0))))"
    (box, spec), = parse_vnnlib(text)
    assert spec.C[0].tolist() == [[0, 1, 0]]  # (< 0 0) is false: that disjunct is dropped
