"""The independent certificate checker.

Given a certificate and the model graph, re-derive the claim in sound
arithmetic, trusting none of the producer's numbers:

1. the graph's hash must equal the certificate's (and, when the caller passes
   them, the region and spec must equal the expected ones); the descriptive
   fields (radius, clip, spec kind, labels) must agree with the arrays
   (:mod:`certnn.verify.claim`), which is what the result's ``claim`` states;
2. on the unfused graph, walk the nodes in topological order with a sound
   interval (IBP) pass; at every ReLU input (and every node the certificate
   gives bounds for) also run a sound backward linear substitution (CROWN) to
   the input, using the earlier nodes' sound bounds and the certificate's slopes,
   intersect the two, and require the certificate's claimed bounds to contain
   the result (else that example is rejected, naming the node);
3. bound the spec rows ``C y + d`` from below the same way; an example is
   accepted when every group has a row whose sound lower bound is > 0;
4. for binary32 semantics, subtract ``|C| eps`` with eps the sound binary32
   error budget of the graph over the region's box.

Sound arithmetic: coefficient matrices are float64 intervals ``(lo, hi)`` that
enclose the exact real coefficients of the reference computation. Products use
``interval.bilinear`` (midpoint-radius with the a-posteriori bound
``gamma_n |M||W| + n 2^-1074``), elementwise steps round outward one binary64
step per operation. A ReLU with interval coefficient ``a`` is relaxed through
``a = a+ - a-`` (both nonnegative intervals):
``a relu(z) >= a+ alpha z - a- (s z + t)`` for every a in the interval, with
``s = fl(u/(u-l))`` and ``t >= max(-s l, u - s u)`` rounded up, so the upper
line lies above relu on [l, u] whatever rounding did to s.

Slopes: any alpha in [0, 1] gives a valid lower line; values outside reject the
example; a missing slope defaults to 1 if u > -l else 0 (on the claimed bounds).
Sigmoid and tanh are relaxed by lines built here in sound arithmetic
(:mod:`certnn.verify.sound_lines`) from the tangent points the certificate
proposes (or the relaxation's default points on the claimed bounds): a point
whose tangent cannot be proved valid gives a chord or a flat line instead, so a
bad point can only make the check fail, never make it unsound. These steps
assume libm within a few ulps (the op table's interval rules for the two ops).

Supported ops: linear, matmul with a constant operand, conv2d (its transpose
implemented here), batch_norm (eval), avg_pool2d (window sums divided by the
count, the adjoint implemented here), add/sub (two values or a constant), neg,
mul by a constant (broadcast both ways: the adjoint sums the products over the
axes the value was broadcast along; nearest Resize/Upsample imports as one),
reshape, flatten, relu, sigmoid, tanh, and max pooling (boxed, see ``BOXED``).
Anything else is rejected, never accepted.

This module does not import the bound producer (certnn.bounds' propagation);
it uses only the Region/LinearSpec data classes, the sound interval helpers of
certnn.floats.interval, the op table's ``real`` rule for the conv2d forward map
(the op's definition), the sigmoid/tanh relaxation's default tangent points (a
proposal, checked like any other) and, for constants computed inside the graph
and for binary32 semantics, the op table's sound interval/error rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CertnnError
from ..floats import interval as iv
from ..ir.graph import Graph
from ..ir.passes import unfuse
from ..ir.serialize import graph_hash
from ..ops import get_op
from ..ops.conv import kernel_slices
from ..ops.pool import _avg_setup, _window_sums   # the op's own window geometry (its definition)
from ..ops.relax import ALPHA
from . import sound_lines
from .certificate import Certificate, CertificateError, load_certificate
from .claim import Claim, ClaimMismatch, region_claim, spec_claim

S_SHAPED = tuple(sound_lines.OPS)
SUPPORTED = ("linear", "matmul", "conv2d", "batch_norm", "avg_pool2d", "mean", "add", "sub", "neg", "mul", "reshape",
             "flatten", "relu", "max_pool2d") + S_SHAPED
# ops the backward substitution stops at: their value is replaced by its sound box
# (max pooling has no linear relaxation here, like in the producer's CROWN)
BOXED = ("max_pool2d",)
ROW_BUDGET = 1 << 22       # elements of one coefficient array; rows are chunked to stay below
OP_INTERVAL = "op-interval-rules-sound"
ASSUMPTIONS = {   # the checker's own boundaries (the rest come from certnn.floats.interval)
    OP_INTERVAL:
        "every op's interval rule encloses the op's real result on its whole input box (the rules "
        "are code, tested for every op in tests/conformance on random points and box corners, not "
        "proved); the checker uses them only for constants computed inside the graph",
}
# Entries of the theorem registry (certnn prove) that a check rests on, reported with every
# result. Real-semantics checks re-derive every step in exact or outward-rounded arithmetic
# and rest on assumptions only; a binary32 check also rests on the rounding lemma behind the
# error budget it subtracts (added by ``_Checker.binary32``).
THEOREMS: tuple = ()


class _Reject(Exception):
    """The whole certificate is rejected (wrong graph/region, unsupported op, bad keys)."""


@dataclass
class CheckResult:
    accepted: np.ndarray                     # (N,) bool: claim re-derived
    claimed: np.ndarray                      # (N,) bool: examples the certificate makes a claim for
    reasons: list                            # per example: None, or which step failed
    lower: np.ndarray | None = None          # (N, K) sound lower bounds of the spec rows
    assumptions: tuple = ()
    seconds: float = 0.0
    graph_hash: str = ""
    evidence: list = field(default_factory=list)
    claim: Claim | None = None               # what was checked (None: rejected as a whole)
    theorems: tuple = THEOREMS               # theorem registry entries the check rests on

    def __post_init__(self):
        if not self.evidence:
            self.evidence = ["certified" if a else None for a in self.accepted]

    @property
    def ok(self) -> bool:
        """Every claimed example's claim was re-derived (and there is at least one)."""
        return bool(np.all(self.accepted | ~self.claimed)) and bool(np.any(self.claimed))

    def summary(self) -> str:
        """One line: the verdict, with the same words wherever a check is reported."""
        a, c, n = int(self.accepted.sum()), int(self.claimed.sum()), int(self.accepted.size)
        if self.ok:
            return f"accepted: {a}/{c} claimed examples re-derived (of {n})"
        if c == 0:
            return f"nothing certified: the certificate claims none of its {n} examples"
        return f"REJECTED: {a}/{c} claimed examples re-derived (of {n})"

    def to_dict(self) -> dict:
        c = self.claim
        return {"ok": self.ok, "verdict": self.summary(), "accepted": int(self.accepted.sum()),
                "claimed": int(self.claimed.sum()), "n": int(self.accepted.size),
                "per_example": self.accepted.tolist(), "reasons": self.reasons, "evidence": self.evidence,
                "semantics": c and c.semantics, "region": c and c.region, "spec": c and c.spec,
                "claim": c.words() if self.ok else None, "assumptions": list(self.assumptions),
                "theorems": list(self.theorems), "seconds": self.seconds, "graph_hash": self.graph_hash}


def check_certificate(cert, graph: Graph | None = None, expected_region=None, expected_spec=None,
                      expected_splits=None, root_bounds: dict | None = None) -> CheckResult:
    """Check ``cert`` (a Certificate or a path) against ``graph`` (default: the model the
    certificate names, relative to its file). Malformed input raises CertificateError;
    a claim that does not follow gives ``accepted`` False with a reason.

    A certificate with split constraints claims its rows only on subdomains, so it
    is checked only when the caller passes the constraints it rebuilt itself
    (``expected_splits``: relu input id -> (N, *shape) signs, as the BaB checker
    does after its coverage check); otherwise it is rejected.

    ``root_bounds`` {relu input id: (lo, hi), each (1, *shape)}: bounds this checker
    derived itself (:func:`root_intermediate`) on a region that contains every row's
    (the BaB checker passes the property's box, which every ReLU-split leaf shares).
    Each row then takes them, clipped by its split signs, instead of re-deriving
    its own intermediate bounds: sound, since a row's subdomain lies in that region."""
    t0 = time.perf_counter()
    if not isinstance(cert, Certificate):
        cert = load_certificate(cert)
    if graph is None:
        if cert.model is None:
            raise CertificateError("the certificate names no model; pass the model graph (--model)")
        from ..interop.models import load_model
        graph = load_model(cert.model)
    N = cert.n
    claimed = np.ones(N, bool) if cert.claimed is None else np.asarray(cert.claimed, bool)
    h = graph_hash(graph)
    try:
        if h != cert.graph_hash:
            raise _Reject(f"graph: the certificate is for another graph ({cert.graph_hash[:19]}..., "
                          f"the model is {h[:19]}...)")
        _compare(cert, expected_region, expected_spec)
        _compare_splits(cert, expected_splits)
        try:
            region, spec = region_claim(cert.region), spec_claim(cert.spec)
        except ClaimMismatch as e:
            raise _Reject(str(e)) from None
        checker = _Checker(unfuse(graph), cert, root_bounds)
        lower, reasons = checker.run()
        if cert.semantics != "real":
            lower = checker.binary32(graph, lower)
    except _Reject as e:
        return CheckResult(np.zeros(N, bool), claimed, [str(e)] * N, None, (), time.perf_counter() - t0, h)
    holds = cert.spec.holds(lower)
    best = np.stack([np.max(lower[:, cert.spec.groups == k], axis=1) for k in range(cert.spec.n_groups)], 1)
    for i in np.flatnonzero(~holds):
        if reasons[i] is None:
            k = int(np.argmax(~(best[i] > 0)))
            reasons[i] = f"spec: group {k} has no row with a positive sound lower bound (best {best[i, k]:.6g})"
    # an empty subdomain (sound bounds crossed under its constraints) holds vacuously
    empty = checker.infeasible
    accepted = ((holds & np.array([r is None for r in reasons])) | empty) & claimed
    for i in np.flatnonzero(empty & claimed):
        reasons[i] = None
    for i in np.flatnonzero(~claimed):
        reasons[i] = reasons[i] or "no claim: the certificate does not claim this example"
    claim = Claim(cert.semantics, region, spec, np.flatnonzero(accepted).tolist(), N, list(checker.assumptions),
                  list(checker.theorems))
    return CheckResult(accepted, claimed, reasons, lower, tuple(checker.assumptions), time.perf_counter() - t0, h,
                       claim=claim, theorems=tuple(checker.theorems))


def _compare(cert: Certificate, region, spec) -> None:
    same = lambda a, b: (a is None and b is None) or (a is not None and b is not None  # noqa: E731
                                                      and np.shape(a) == np.shape(b) and np.array_equal(a, b))
    if region is not None:
        r = cert.region
        if not (r.norm == region.norm and same(r.lo, region.lo) and same(r.hi, region.hi)
                and same(r.center, region.center) and r.eps == region.eps and r.domain == region.domain):
            raise _Reject("region: the certificate is for another region")
    if spec is not None:
        s = cert.spec
        if not (same(s.C, spec.C) and same(s.d, spec.d) and same(s.groups, spec.groups)):
            raise _Reject("spec: the certificate is for another spec")


def _compare_splits(cert: Certificate, expected) -> None:
    """Split constraints must be exactly the ones the caller rebuilt (missing = 0)."""
    has = any(bool(np.any(a != 0)) for a in cert.splits.values())
    if expected is None:
        if has:
            raise _Reject("splits: the rows hold only on split subdomains; check them through their "
                          "BaB certificate, which proves the subdomains cover the region")
        return
    if has and cert.semantics != "real":
        raise _Reject("splits: split constraints are supported for real semantics only")
    for nid in set(cert.splits) | set(expected):
        a, b = cert.splits.get(nid), expected.get(nid)
        if a is None or b is None:
            if not bool(np.all((b if a is None else a) == 0)):
                raise _Reject(f"splits: the constraints on node '{nid}' are not the expected ones")
        elif a.shape != np.shape(b) or not np.array_equal(a, b):
            raise _Reject(f"splits: the constraints on node '{nid}' are not the expected ones")


class _Coef:
    """Interval coefficients, as (lo, hi) or midpoint-radius (m, r; r None = exact),
    converted lazily: products want (m, r), relu steps want (lo, hi). ``shared``:
    one array for all examples (K, *shape) instead of (N, K, *shape)."""
    __slots__ = ("lo", "hi", "m", "r", "shared")

    def __init__(self, lo=None, hi=None, m=None, r=None, shared=False):
        self.lo, self.hi, self.m, self.r, self.shared = lo, hi, m, r, shared

    def as_iv(self):
        if self.lo is None:
            self.lo, self.hi = (self.m, self.m) if self.r is None else (iv.down(self.m - self.r), iv.up(self.m + self.r))
        return self.lo, self.hi

    def as_mr(self):
        if self.m is None:
            self.m, self.r = (self.lo, None) if self.lo is self.hi else iv.midrad(self.lo, self.hi)
        return self.m, self.r

    def map(self, fn):
        """An exact linear rearrangement (reshape)."""
        if self.m is not None:
            return _Coef(m=fn(self.m), r=None if self.r is None else fn(self.r), shared=self.shared)
        return _Coef(fn(self.lo), fn(self.hi), shared=self.shared)

    def neg(self):
        if self.m is not None:
            return _Coef(m=-self.m, r=self.r, shared=self.shared)
        return _Coef(-self.hi, -self.lo, shared=self.shared)


def _mr(lo, hi):
    return (lo, None) if lo is hi else iv.midrad(lo, hi)


def _product(f, a, b, n: int):
    """``interval.bilinear``'s enclosure kept in midpoint-radius form (no conversion of
    the result, which is the largest array of a check): returns (c, R) with
    f(A, B) in [c - R, c + R] for every A in [ma -+ ra], B in [mb -+ rb]. Same bound
    and same proof as ``bilinear`` (gamma_{n+3}, n 2^-1074 slack, rounding up of
    the nonnegative radius terms); non-finite results become the whole line."""
    (ma, ra), (mb, rb) = a, b
    g = iv.gamma(max(n, 1))
    with np.errstate(all="ignore"):
        c = f(ma, mb)
        ama, amb = np.abs(ma), np.abs(mb)
        if rb is None:
            terms = [f(iv._pad(ra, ama, g), amb)]
        elif ra is None:
            terms = [f(ama, iv._pad(rb, amb, g))]
        else:
            terms = [f(ama, iv._pad(rb, amb, g)), f(ra, amb + rb)]
        s = terms[0] if len(terms) == 1 else iv._up_nonneg(terms[0] + terms[1])
        slack = len(terms) * n * iv.ETA
        rad = iv._up_nonneg(iv._up_nonneg(iv._up_nonneg(s + slack) * iv._grow(n + 3)) + n * iv.ETA)
        bad = ~np.isfinite(c) | ~(rad < np.inf)
        if bad.any():
            c, rad = np.where(bad, 0.0, c), np.where(bad, np.inf, rad)
    return c, rad


def _fits(shape, target) -> bool:
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def _rowdot(a, b):
    """Per example n: rows a (N, K, *s) dotted with b (N, *s) or (N, 1, *s) -> (N, K)."""
    return np.matmul(a.reshape(a.shape[0], a.shape[1], -1), b.reshape(b.shape[0], -1, 1))[..., 0]


def _dot(A, B):
    """Contract the trailing axes of A (..., *s) with B (*s) -> (...)."""
    lead = A.shape[:A.ndim - B.ndim]
    return A.reshape(lead + (-1,)) @ B.reshape(-1)


def _pe(node) -> tuple:
    """Per-example shape (the graph's leading axis is the batch)."""
    return tuple(node.shape[1:])


def root_intermediate(cert: Certificate, graph: Graph, slopes: dict | None = None) -> dict:
    """Sound bounds {node: (lo, hi)} of every node the walk bounds by backward
    substitution (relu inputs, relaxed inputs), re-derived over ``cert``'s one-row
    region with its slopes and no split constraints, for :func:`check_certificate`'s
    ``root_bounds``. ``slopes`` {(target, relu, side): (rows, index, values)}: relu
    slopes of some rows of an intermediate target (side "lower": the rows bounding
    the target's flat neurons ``rows`` from below, "upper": from above) at the relu's
    flat neurons ``index``, values (len(rows), len(index)) in [0, 1]; every other
    slope is the default. Raises CertificateError if the certificate or the slopes
    do not fit the graph."""
    if cert.n != 1 or any(bool(np.any(a)) for a in cert.splits.values()):
        raise CertificateError("root bounds need a one-row certificate without split constraints")
    try:
        checker = _Checker(unfuse(graph), cert, root_slopes=slopes)
        checker.walk()
    except _Reject as e:
        raise CertificateError(f"root bounds: {e}") from None
    bad = [r for r in checker.reasons if r is not None]
    if bad:
        raise CertificateError(f"root bounds: {bad[0]}")
    return {k: checker.bounds[k] for k in checker.checked}


class _Checker:
    def __init__(self, g: Graph, cert: Certificate, root_bounds: dict | None = None, root_slopes: dict | None = None):
        self.g, self.cert, self.N = g, cert, cert.n
        self.root = root_bounds
        self.assumptions = list(iv.BLAS)
        self.theorems = list(THEOREMS)
        self.nodes = {n.id: n for n in g.nodes}
        self.order = [n.id for n in g.nodes]
        bad = sorted({n.op for n in g.nodes if not n.is_source and n.op not in SUPPORTED})
        if bad:
            raise _Reject(f"unsupported op {', '.join(bad)} in the checker")
        self.consts, self.var = {}, set()
        for n in g.nodes:
            if n.op == "input":
                self.var.add(n.id)
            elif n.op in ("param", "const"):
                a = np.asarray(g.arrays[n.id], np.float64)
                self.consts[n.id] = (a, a)
            elif any(i in self.var for i in n.inputs):
                self.var.add(n.id)
                if any(d is None for d in _pe(n)):
                    raise _Reject(f"node '{n.id}': only the batch axis may be dynamic")
            else:  # computed from constants only: the op table's sound interval rule
                los, his = zip(*[self.consts[i] for i in n.inputs])
                self.consts[n.id] = get_op(n.op).interval(list(los), list(his), **n.attrs)
                self.assumptions.append(OP_INTERVAL)
        ins = [n for n in g.nodes if n.op == "input"]
        if len(ins) != 1:
            raise _Reject(f"the checker needs exactly one graph input, the graph has {len(ins)}")
        self.input = ins[0].id
        if _pe(ins[0]) != cert.region.shape:
            raise _Reject(f"region: input shape {cert.region.shape} does not fit the model input {_pe(ins[0])}")
        self.output = g.outputs[0]
        if int(np.prod(_pe(self.nodes[self.output]))) != cert.spec.C.shape[2]:
            raise _Reject(f"spec: rows have {cert.spec.C.shape[2]} coefficients, the model output "
                          f"{_pe(self.nodes[self.output])}")
        self.relu_inputs = {self.nodes[i].inputs[0] for i in self.order if self.nodes[i].op == "relu"}
        relaxed = {self.nodes[i].inputs[0] for i in self.order if self.nodes[i].op in S_SHAPED}
        if relaxed:
            self.assumptions += [a for a in sound_lines.ASSUMES if a not in self.assumptions]
        for nid, (lo, _) in cert.anchors.items():
            if nid not in self.var:
                raise _Reject(f"anchor: the certificate bounds node '{nid}', not a value of this graph")
            if lo.shape[1:] != _pe(self.nodes[nid]):
                raise _Reject(f"anchor '{nid}': shape {lo.shape[1:]}, the node has {_pe(self.nodes[nid])}")
        self.checked = [i for i in self.order if i in self.relu_inputs or i in relaxed or i in cert.anchors]
        self.reasons = [None] * self.N
        self.infeasible = np.zeros(self.N, bool)
        self._alphas()
        self._sparse_alphas(root_slopes or {})
        self._splits()

    # ------------------------------------------------------------------ slopes
    def _alphas(self):
        """Validate the certificate's slopes: known targets and relus, shapes, [0, 1].
        Sigmoid/tanh tangent points (a trailing axis of 2: lower, upper line) need
        only the shape: any value gives sound lines (see sound_lines)."""
        self.alpha = {}
        targets = set(self.checked) | {"spec", "*"}
        for (t, r, side), a in self.cert.alphas.items():
            if t in targets and r in self.nodes and self.nodes[r].op in S_SHAPED:
                if (side == "upper" and t == "spec") or not _fits(a.shape[2:], _pe(self.nodes[r]) + (2,)):
                    raise _Reject(f"alpha ({t}, {r}, {side}): shape {a.shape} does not fit {self.nodes[r].op} "
                                  f"{_pe(self.nodes[r])} with 2 tangent points")
                self.alpha[(t, r, side)] = a
                continue
            if t not in targets or r not in self.nodes or self.nodes[r].op != "relu":
                raise _Reject(f"alpha ({t}, {r}): unknown target or not a relu or sigmoid/tanh node")
            if (side == "upper" and t == "spec") or not _fits(a.shape[2:], _pe(self.nodes[r])):
                raise _Reject(f"alpha ({t}, {r}, {side}): shape {a.shape} does not fit relu {_pe(self.nodes[r])}")
            out = ~((a >= 0) & (a <= 1))
            if out.any():
                ex = np.any(out.reshape(a.shape[0], -1), axis=1)
                for i in np.flatnonzero(np.broadcast_to(ex, (self.N,))):
                    self._fail(i, f"alpha ({t}, {r}): slope outside [0, 1]")
            self.alpha[(t, r, side)] = np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0)

    def _sparse_alphas(self, slopes: dict):
        """Validate sparse slopes (:func:`root_intermediate`) and index their rows."""
        self.sparse = {}
        for (t, r, side), (rows, index, vals) in slopes.items():
            if t not in self.checked or r not in self.nodes or self.nodes[r].op != "relu" or \
                    side not in ("lower", "upper") or self.order.index(r) >= self.order.index(t):
                raise _Reject(f"alpha ({t}, {r}, {side}): not a relu before a bounded node")
            rows, index, vals = (np.asarray(a) for a in (rows, index, vals))
            k, size = int(np.prod(_pe(self.nodes[t]))), int(np.prod(_pe(self.nodes[r])))
            for name, a, n in (("rows", rows, k), ("index", index, size)):
                if a.ndim != 1 or a.dtype.kind not in "iu" or np.unique(a).size != a.size or \
                        (a.size and (a.min() < 0 or a.max() >= n)):
                    raise _Reject(f"alpha ({t}, {r}, {side}): {name} are not distinct flat neurons (of {n})")
            if vals.dtype.kind != "f" or vals.shape != (rows.size, index.size):
                raise _Reject(f"alpha ({t}, {r}, {side}): values of shape {vals.shape}, expected "
                              f"{(rows.size, index.size)} floats")
            if not np.all((vals >= 0) & (vals <= 1)):
                raise _Reject(f"alpha ({t}, {r}, {side}): a slope outside [0, 1]")
            pos = np.full(k, -1)
            pos[rows] = np.arange(rows.size)
            self.sparse[(t, r, side)] = (pos, index, np.asarray(vals, np.float64))

    def _sparse_rows(self, a, key, K, sl):
        """Slopes ``a`` (N|1, 1|n, *relu) of the rows ``sl`` of K, with the sparse
        slopes of ``key`` set at their rows and neurons."""
        sp = self.sparse.get(key)
        if sp is None:
            return a
        pos, index, vals = sp
        p = pos[np.arange(K)[sl]]
        hit = np.flatnonzero(p >= 0)
        if not hit.size:
            return a
        shape = (a.shape[0], p.size) + a.shape[2:]
        out = np.array(np.broadcast_to(a, shape), np.float64).reshape(a.shape[0], p.size, -1)
        out[:, hit[:, None], index[None, :]] = vals[p[hit]]
        return out.reshape(shape)

    def _splits(self):
        """Validate split signs and multipliers: relu inputs, shapes; beta < 0 rejects the example."""
        self.beta = {}
        for kind, d in (("splits", self.cert.splits), ("betas", self.cert.betas)):
            for nid, a in d.items():
                if nid not in self.relu_inputs:
                    raise _Reject(f"{kind}: node '{nid}' is not the input of a relu")
                pe = _pe(self.nodes[nid])
                if (kind == "splits" and a.shape != (self.N,) + pe) or \
                        (kind == "betas" and (a.shape[2:] != pe or a.shape[1] != self.cert.spec.C.shape[1])):
                    raise _Reject(f"{kind} of node '{nid}': shape {a.shape} does not fit the node {pe}")
        for nid, b in self.cert.betas.items():
            neg = ~(b >= 0)
            for i in np.flatnonzero(np.broadcast_to(np.any(neg.reshape(b.shape[0], -1), axis=1), (self.N,))):
                self._fail(i, f"beta ({nid}): negative split multiplier")
            self.beta[nid] = np.maximum(np.nan_to_num(b, nan=0.0), 0.0)

    def _constrain(self, nid, lo, hi):
        """Intersect sound bounds with the split signs (+1: z >= 0, -1: z <= 0); an
        example whose bounds cross has an empty subdomain."""
        sp = self.cert.splits.get(nid)
        if sp is None:
            return lo, hi
        lo, hi = np.where(sp > 0, np.maximum(lo, 0.0), lo), np.where(sp < 0, np.minimum(hi, 0.0), hi)
        cross = np.any((lo > hi).reshape(self.N, -1), axis=1)
        self.infeasible |= cross
        return lo, np.maximum(hi, lo)       # ordered (the empty examples' values no longer matter)

    def _beta_term(self, z):
        """Coefficients -beta s on the relu input z for the spec rows (beta-CROWN):
        on the subdomain s z >= 0, so c.y >= c.y - beta s z for beta >= 0."""
        sp = self.cert.splits.get(z)
        b = self.beta.get(z)
        if sp is None or b is None:
            return None
        return _Coef(m=-(b * sp[:, None].astype(np.float64)))

    def _rows_alpha(self, target, relu, K, sl, claimed):
        """Slopes (N|1, 2*len or len, *relu) for the rows ``sl`` of a pass on ``target``
        (K rows per direction; intermediate passes stack lower then upper rows)."""
        def pick(side):
            for key in ((target, relu, side), (target, relu, "both"), ("*", relu, side), ("*", relu, "both")):
                a = self.alpha.get(key)
                if a is None:
                    continue
                k = a.shape[1]
                if key[2] == "both" and key[0] != "*" and k == 2 * K:   # producer's stacked rows
                    a = a[:, K:] if side == "upper" else a[:, :K]
                elif k not in (1, K):
                    raise _Reject(f"alpha ({target}, {relu}): {k} rows, expected 1, {K} or {2 * K}")
                return a[:, sl] if a.shape[1] == K else a
            l, u = claimed[self.nodes[relu].inputs[0]]
            op = self.nodes[relu].op
            if op in S_SHAPED:                                       # the default tangent points
                return ALPHA[op].init(l[:, None], u[:, None], (l.shape[0], 1) + l.shape[1:], "adaptive")
            return np.where(u > -l, 1.0, 0.0)[:, None]              # the default slope
        if target == "spec":
            return pick("lower")
        lo = self._sparse_rows(pick("lower"), (target, relu, "lower"), K, sl)
        up = self._sparse_rows(pick("upper"), (target, relu, "upper"), K, sl)
        n = len(range(K)[sl]) if isinstance(sl, slice) else len(sl)
        shape = (self.N if max(lo.shape[0], up.shape[0]) > 1 else 1, n) + lo.shape[2:]
        return np.concatenate([np.broadcast_to(lo, shape), np.broadcast_to(up, shape)], axis=1)

    def _fail(self, i, why):
        if self.reasons[i] is None:
            self.reasons[i] = why

    # ------------------------------------------------------------------ the walk
    def run(self):
        cert, N = self.cert, self.N
        box = self.walk()
        # spec rows: CROWN from the output, and the IBP box of the output
        C = cert.spec.C.reshape((N, -1) + _pe(self.nodes[self.output]))
        low = self._backward(self.output, _Coef(m=C), cert.spec.d, "spec", slice(0, C.shape[1]))
        yl, yh = box[self.output]
        ibp = iv.bilinear(_rowdot, C, C, yl, yh, max(1, C[0, 0].size))[0]
        low = np.maximum(low, iv.down(ibp + cert.spec.d))
        return low, self.reasons

    def _node_bounds(self, nid, box):
        """Sound (lo, hi) of a bounded node: backward substitution, or the root's."""
        if self.root is None:
            return self._crown_node(nid, self._open_rows(nid, box))
        if nid not in self.root:
            raise _Reject(f"root bounds: node '{nid}' has none")
        lo, hi = self.root[nid]
        shape = (self.N,) + _pe(self.nodes[nid])
        if lo.shape[0] != 1 or lo.shape[1:] != shape[1:] or hi.shape != lo.shape:
            raise _Reject(f"root bounds of node '{nid}': shape {lo.shape}, expected (1, *{shape[1:]})")
        return np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)

    def walk(self) -> dict:
        """The forward walk: every value's sound box, and every bounded node's
        sound bounds (``self.bounds``) under the rows' split signs."""
        cert, N = self.cert, self.N
        box = self.box = {self.input: (cert.region.lo, cert.region.hi)}
        self.bounds = {}         # relu input -> sound (lo, hi) used in relaxations
        self.claim = {}          # relu input -> bounds deciding the default slope
        for nid in self.order:
            n = self.nodes[nid]
            if nid not in self.var:
                continue
            if n.op != "input":
                box[nid] = self._forward(n, box)
            if nid in self.checked:
                lo, hi = self._node_bounds(nid, box[nid])
                lo, hi = np.maximum(lo, box[nid][0]), np.minimum(hi, box[nid][1])
                lo, hi = self._constrain(nid, lo, hi)
                box[nid] = (lo, hi)
                if nid in cert.anchors:
                    cl, ch = cert.anchors[nid]
                    bad = ~((cl <= lo) & (hi <= ch))
                    for i in np.flatnonzero(np.any(bad.reshape(N, -1), axis=1)):
                        j = int(np.argmax(bad[i].reshape(-1)))
                        self._fail(i, f"anchor {nid}: claimed bounds do not contain the sound enclosure "
                                      f"(element {j}: claimed [{cl[i].flat[j]:.9g}, {ch[i].flat[j]:.9g}], "
                                      f"sound [{lo[i].flat[j]:.9g}, {hi[i].flat[j]:.9g}])")
                    self.claim[nid] = (cl, ch)
                else:
                    self.claim[nid] = (lo, hi)
                self.bounds[nid] = (lo, hi)
        return box

    def _open_rows(self, nid, box):
        """Neurons of ``nid`` that need backward substitution. When every consumer
        is a relu, a neuron whose sound forward box has a fixed sign in every
        example is relaxed exactly (identity or zero) whatever its bounds, so its
        box suffices (the producer skips the same rows) unless the certificate
        claims bounds tighter than the box. A first layer over a box needs no
        rows at all."""
        users = [m for m in self.order if nid in self.nodes[m].inputs]
        k = int(np.prod(_pe(self.nodes[nid])))
        if not users or nid == self.output or any(self.nodes[m].op != "relu" for m in users):
            return np.arange(k)
        lo, hi = box
        n = self.nodes[nid]
        if (self.cert.region.norm in ("box", "inf") and n.op in ("linear", "conv2d") and n.inputs[0] == self.input
                and not any(i in self.var for i in n.inputs[1:])):
            # one affine map of the input box: the forward box is its exact range (up to
            # outward rounding), which backward substitution cannot improve
            need = np.zeros(lo.shape, bool)
        else:
            need = (lo < 0) & (hi > 0)
        if nid in self.cert.anchors:  # a claim tighter than the box needs the substitution to hold
            cl, ch = self.cert.anchors[nid]
            need |= ~((cl <= lo) & (hi <= ch))
        return np.flatnonzero(need.reshape(self.N, k).any(axis=0))

    def _crown_node(self, nid, open_rows):
        """Sound (lo, hi) of node ``nid`` by backward substitution for the rows
        ``open_rows`` (chunked); the other rows are the whole line (the caller
        intersects with the forward box)."""
        shape = _pe(self.nodes[nid])
        k = int(np.prod(shape))
        width = max(int(np.prod(_pe(self.nodes[i]))) for i in self.var)
        step = max(1, ROW_BUDGET // max(1, 2 * width * self.N))
        lo, hi = np.full((self.N, k), -np.inf), np.full((self.N, k), np.inf)
        eye = np.eye(k)
        for s in range(0, open_rows.size, step):
            idx = open_rows[s:s + step]
            rows = np.concatenate([eye[idx], -eye[idx]]).reshape((-1,) + shape)
            val = self._backward(nid, _Coef(m=rows, shared=True), 0.0, nid, idx)
            m = idx.size
            lo[:, idx], hi[:, idx] = val[:, :m], -val[:, m:]
        return lo.reshape((self.N,) + shape), hi.reshape((self.N,) + shape)

    def _backward(self, target, A0, d, tkey, sl):
        """Sound lower bound (N, K) of A0 . v_target + d over the region. ``A0`` is
        (K, *shape) (shared by all examples) or (N, K, *shape)."""
        N = self.N
        K = A0.m.shape[0 if A0.shared else 1]
        acc = {target: A0}
        c = np.zeros((N, K)) + d
        Kt = int(np.prod(_pe(self.nodes[target]))) if tkey != "spec" else self.cert.spec.C.shape[1]
        for nid in reversed(self.order[:self.order.index(target) + 1]):
            if nid not in acc:
                continue
            A = acc.pop(nid)
            n = self.nodes[nid]
            if n.op == "input":
                return iv.down(c + self._concretize(A))
            if n.op == "relu":
                z = n.inputs[0]
                alpha = self._rows_alpha(tkey, nid, Kt, sl, self.claim)
                A, cc = self._relu_back(A, *self.bounds[z], alpha)
                self._push(acc, z, A)
                beta = self._beta_term(z) if tkey == "spec" else None
                if beta is not None:
                    self._push(acc, z, beta)
                c = iv.down(c + cc)
                continue
            if n.op in BOXED:        # min of A . y over y's box; nothing flows to its input
                c = iv.down(c + self._box_term(A, *self.box[nid]))
                continue
            if n.op in S_SHAPED:
                z = n.inputs[0]
                pts = self._rows_alpha(tkey, nid, Kt, sl, self.claim)
                A, cc = self._s_back(n.op, A, *self.bounds[z], pts)
                self._push(acc, z, A)
                c = iv.down(c + cc)
                continue
            for i, A2, cc in self._affine_back(n, A):
                if A2 is not None:
                    self._push(acc, i, A2)
                if cc is not None:
                    c = iv.down(c + np.broadcast_to(cc, (N, K)))
        return iv.down(c)   # the target does not depend on the input: a constant

    def _box_term(self, A, yl, yh):
        """Sound lower bound (N, K) of A . y for every y in [yl, yh] (N, *s)."""
        m = A.as_mr()
        if A.shared:
            m = tuple(None if a is None else np.broadcast_to(a, (self.N,) + a.shape) for a in m)
        c, rad = _product(_rowdot, m, _mr(yl, yh), max(1, int(np.prod(yl.shape[1:]))))
        return iv.down(c - rad)

    def _push(self, acc, nid, A):
        if nid not in self.var:
            return
        if nid in acc:             # a value with several consumers: add the coefficients
            B = acc[nid]
            (al, ah), (bl, bh) = A.as_iv(), B.as_iv()
            if A.shared != B.shared:   # a shared array broadcasts against the batch
                al, ah, bl, bh = (x if x.ndim == max(al.ndim, bl.ndim) else x[None] for x in (al, ah, bl, bh))
            A = _Coef(*iv.add(al, ah, bl, bh), shared=A.shared and B.shared)
        acc[nid] = A

    # ------------------------------------------------------------------ relu
    def _relu_back(self, A, l, u, alpha):
        """a relu(z) >= a+ la z - a- (s z + t) on [l, u], for every a in [Al, Ah]."""
        Al, Ah = A.as_iv()
        l, u = l[:, None], u[:, None]                                # (N, 1, *s)
        act, dead = l >= 0, u <= 0
        unst = ~(act | dead)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(unst, u / (u - l), np.where(act, 1.0, 0.0))
            t = np.where(unst, np.maximum(iv.up(-s * l), iv.up(u - iv.down(s * u))), 0.0)
        la = np.where(act, 1.0, np.where(unst, alpha, 0.0))
        apl, aph = np.maximum(Al, 0.0), np.maximum(Ah, 0.0)         # a+ in [apl, aph]
        aml, amh = np.maximum(-Ah, 0.0), np.maximum(-Al, 0.0)       # a- in [aml, amh]
        lo = iv.down(iv.down(la * apl) - iv.up(s * amh))
        hi = iv.up(iv.up(la * aph) - iv.down(s * aml))
        n = int(np.prod(l.shape[2:]))
        amh_b = np.broadcast_to(amh, (self.N,) + amh.shape) if A.shared else amh
        c, rad = _product(_rowdot, (amh_b, None), (t, None), max(1, n))
        return _Coef(lo, hi), -iv.up(c + rad)                               # -(>= sum a- t)

    # ------------------------------------------------------------------ sigmoid, tanh
    def _s_back(self, op, A, l, u, pts):
        """a f(z) >= a+ (lw z + lb) - a- (uw z + ub) on [l, u] for every a in [Al, Ah],
        with sound lines at the tangent points ``pts`` (..., 2)."""
        Al, Ah = A.as_iv()
        l, u = l[:, None], u[:, None]                                # (N, 1, *s)
        lw, lb = sound_lines.lower_line(op, l, u, pts[..., 0])
        uw, ub = sound_lines.upper_line(op, l, u, pts[..., 1])
        apl, aph = np.maximum(Al, 0.0), np.maximum(Ah, 0.0)         # a+ in [apl, aph]
        aml, amh = np.maximum(-Ah, 0.0), np.maximum(-Al, 0.0)       # a- in [aml, amh]
        lo, hi = iv.sub(*iv.mul(apl, aph, lw, lw), *iv.mul(aml, amh, uw, uw))
        const = iv.sub(*iv.mul(apl, aph, lb, lb), *iv.mul(aml, amh, ub, ub))[0]   # per neuron, a lower bound
        const = np.broadcast_to(const, np.broadcast_shapes(const.shape, (self.N, 1) + l.shape[2:]))
        n = int(np.prod(l.shape[2:]))
        c, rad = _product(_rowdot, (const, None), (np.ones((self.N,) + l.shape[2:]), None), max(1, n))
        return _Coef(lo, hi), iv.down(c - rad)

    # ------------------------------------------------------------------ affine ops
    def _const(self, nid):
        return self.consts[nid]

    def _affine_back(self, n, A):
        """Yield (input id, coefficients on it, constant lower bound) for coefficients
        ``A`` on the node's value."""
        op, ins, at = n.op, n.inputs, n.attrs
        pe = _pe(n)
        sh = A.shared
        if op in ("reshape", "flatten"):
            x = self.nodes[ins[0]]
            if x.shape[0] != n.shape[0] or int(np.prod(_pe(x))) != int(np.prod(pe)):
                raise _Reject(f"node '{n.id}' ({op}) mixes the batch axis with the others")
            yield ins[0], A.map(lambda a: a.reshape(a.shape[:a.ndim - len(pe)] + _pe(x))), None
        elif op == "neg":
            yield ins[0], A.neg(), None
        elif op in ("add", "sub"):
            for p, i in enumerate(ins):
                B = A.neg() if (op == "sub" and p == 1) else A
                if i in self.var:
                    if tuple(self.nodes[i].shape) != tuple(n.shape):
                        raise _Reject(f"node '{n.id}' ({op}): broadcasting a variable operand is not supported")
                    yield i, B, None
                else:
                    yield None, None, self._const_term(B, self._const(i), pe, n)
        elif op == "linear":
            self._var_only(n, [1, 2])
            w = _mr(*self._const(ins[1]))
            f = lambda a, w: (a.reshape(-1, a.shape[-1]) @ w).reshape(a.shape[:-1] + w.shape[1:])  # noqa: E731
            c, r = _product(f, A.as_mr(), w, max(1, w[0].shape[0]))
            yield ins[0], _Coef(m=c, r=r, shared=sh), None
            if len(ins) == 3:
                yield None, None, self._const_term(A, self._const(ins[2]), pe, n)
        elif op == "matmul":
            if ins[1] not in self.var and self.consts[ins[1]][0].ndim == 2:                 # x @ B
                b = _mr(*self._const(ins[1]))
                c, r = _product(lambda a, b: a @ b.T, A.as_mr(), b, max(1, b[0].shape[1]))
                yield ins[0], _Coef(m=c, r=r, shared=sh), None
            elif ins[0] not in self.var and self.consts[ins[0]][0].ndim == 2 and len(n.shape) >= 3:   # M @ x
                m = _mr(*self._const(ins[0]))
                c, r = _product(lambda a, m: np.matmul(m.T, a), A.as_mr(), m, max(1, m[0].shape[0]))
                yield ins[1], _Coef(m=c, r=r, shared=sh), None
            else:
                raise _Reject(f"node '{n.id}' (matmul): needs one variable operand and one 2-D constant")
        elif op == "conv2d":
            self._var_only(n, [1, 2])
            w = _mr(*self._const(ins[1]))
            x = _pe(self.nodes[ins[0]])
            og = w[0].shape[0] // at["groups"]
            c, r = _product(lambda a, w: _conv_t(a, w, x, **at), A.as_mr(), w,
                            max(1, og * w[0].shape[2] * w[0].shape[3]))
            yield ins[0], _Coef(m=c, r=r, shared=sh), None
            if len(ins) == 3:
                bl, bh = self._const(ins[2])
                yield None, None, self._const_term(A, (bl.reshape(-1, 1, 1), bh.reshape(-1, 1, 1)), pe, n)
        elif op == "avg_pool2d":
            # the window-sum adjoint of A / count: bilinear in (A, 1/count), each input
            # a sum of at most kH kW products, 1/count enclosed by outward rounding
            x = self.nodes[ins[0]]
            k, s, p, d, out_hw, div = _avg_setup(np.zeros((1,) + _pe(x)), **at)
            inv = _mr(*iv.div_pos(1.0, 1.0, np.asarray(div, np.float64)))
            c, r = _product(lambda a, w: _window_sums_t(a * w, k, s, p, d, out_hw, _pe(x)[1:]), A.as_mr(), inv,
                            k[0] * k[1])
            yield ins[0], _Coef(m=c, r=r, shared=sh), None
        elif op == "mean":
            # A / count spread over the averaged axes (global average pooling): each input
            # coefficient one product, 1/count enclosed by outward rounding
            x = self.nodes[ins[0]]
            ax, count = self._mean_axes(n)
            inv = _mr(*iv.div_pos(1.0, 1.0, np.asarray(float(count))))

            def spread(a, w):       # a: (N, K, *out) or shared (K, *out)
                a = a if at.get("keepdims") else np.expand_dims(a, tuple(a.ndim - len(pe) + i for i in ax))
                return np.array(np.broadcast_to(a * w, a.shape[:a.ndim - len(_pe(x))] + _pe(x)))
            c, r = _product(spread, A.as_mr(), inv, 1)
            yield ins[0], _Coef(m=c, r=r, shared=sh), None
        elif op == "mul":
            # y = x * c: A . y = (sum over x's broadcast axes of A * c) . x, each input
            # coefficient a sum of ``n`` products (bilinear in (A, c), one rounding model)
            v, c, axes, n_terms = self._mul_setup(n)
            keep = lambda a: a.sum(axis=tuple(a.ndim - len(pe) + i for i in axes), keepdims=True)  # noqa: E731
            cm, r = _product(lambda a, w: keep(a * w), A.as_mr(), c, n_terms)
            yield v, _Coef(m=cm, r=r, shared=sh), None
        elif op == "batch_norm":
            self._var_only(n, [1, 2, 3, 4])
            k, shift = self._bn(n)
            kl, kh = (v.reshape((-1,) + (1,) * (len(pe) - 1)) for v in k)
            yield ins[0], _Coef(*iv.mul(*A.as_iv(), kl, kh), shared=sh), None
            yield None, None, self._const_term(A, shift, pe, n)
        else:  # pragma: no cover - filtered in __init__
            raise _Reject(f"unsupported op {op} in the checker")

    def _mean_axes(self, n):
        """The per-example axes a ``mean`` node averages and how many values each output
        averages; the batch axis must not be one of them."""
        x = self.nodes[n.inputs[0]]
        nd = len(x.shape)
        axes = n.attrs.get("axes")
        axes = tuple(range(nd)) if axes is None else tuple(int(a) % nd for a in np.atleast_1d(axes))
        if 0 in axes or not axes:
            raise _Reject(f"node '{n.id}' (mean): averaging over the batch axis is not supported")
        ax = tuple(sorted(a - 1 for a in axes))
        return ax, int(np.prod([_pe(x)[i] for i in ax]))

    def _mul_setup(self, n):
        """For ``mul`` with one variable operand: (that operand, the constant's per-example
        (midpoint, radius), the per-example axes the variable is broadcast along, how many
        output values each of its elements feeds)."""
        pos = [p for p, i in enumerate(n.inputs) if i in self.var]
        if len(pos) != 1 or len(n.inputs) != 2:
            raise _Reject(f"node '{n.id}' (mul): needs one variable operand and one constant")
        v, k = n.inputs[pos[0]], n.inputs[1 - pos[0]]
        pe, px = _pe(n), _pe(self.nodes[v])
        if len(self.nodes[v].shape) != len(n.shape) or self.nodes[v].shape[0] != n.shape[0]:
            raise _Reject(f"node '{n.id}' (mul): the variable operand must have the output's rank and batch")
        cl, ch = self._const(k)
        exact = cl is ch
        if cl.ndim == len(n.shape):                       # carries a batch axis: must be 1
            if cl.shape[0] != 1:
                raise _Reject(f"node '{n.id}' (mul): a constant with a batch axis is not supported")
            cl, ch = cl[0], ch[0]
        if not (_fits(px, pe) and _fits(cl.shape, pe)):
            raise _Reject(f"node '{n.id}' (mul): operand shapes {px} and {cl.shape} do not broadcast to {pe}")
        c = (np.broadcast_to(cl, pe), None) if exact else _mr(np.broadcast_to(cl, pe), np.broadcast_to(ch, pe))
        axes = tuple(i for i, (a, b) in enumerate(zip(px, pe)) if a != b)
        return v, c, axes, max(1, int(np.prod([pe[i] for i in axes])))

    def _var_only(self, n, const_pos):
        if any(n.inputs[p] in self.var for p in const_pos if p < len(n.inputs)) or n.inputs[0] not in self.var:
            raise _Reject(f"node '{n.id}' ({n.op}): only the first operand may depend on the input")

    def _const_term(self, A, b, pe, n):
        """Sound lower bound of A . broadcast(b) (contraction over the node's per-example shape)."""
        bl, bh = b
        full = tuple(n.shape)
        if bl.ndim == len(full) and bl.ndim > 0:          # carries a batch axis: must be 1
            if bl.shape[0] != 1:
                raise _Reject(f"node '{n.id}': a constant with a batch axis is not supported")
            bl, bh = bl[0], bh[0]
        exact = bl is bh
        bl = np.broadcast_to(bl, pe)
        bm = (bl, None) if exact else _mr(bl, np.broadcast_to(bh, pe))
        c, r = _product(_dot, A.as_mr(), bm, max(1, int(np.prod(pe))))
        return iv.down(c - r)

    def _bn(self, n):
        """Per-channel interval scale k = w / sqrt(var + eps) and shift b - k mean."""
        (wl, wh), (bl, bh), (ml, mh), (vl, vh) = (self._const(i) for i in n.inputs[1:])
        eps = float(n.attrs["eps"])
        r = iv.div(1.0, 1.0, *iv.sqrt(*iv.add(vl, vh, eps, eps)))
        k = iv.mul(*r, wl, wh)
        if not (np.isfinite(k[0]).all() and np.isfinite(k[1]).all()):
            raise _Reject(f"node '{n.id}' (batch_norm): running_var + eps is not positive")
        shift = iv.sub(bl, bh, *iv.mul(*k, ml, mh))
        pe = _pe(n)
        return k, tuple(s.reshape((-1,) + (1,) * (len(pe) - 1)) for s in shift)

    # ------------------------------------------------------------------ forward (IBP)
    def _val(self, box, i):
        return box[i] if i in self.var else self._const(i)

    def _forward(self, n, box):
        op, ins, at = n.op, n.inputs, n.attrs
        if op == "relu":
            lo, hi = self.bounds[ins[0]]
            return np.maximum(lo, 0.0), np.maximum(hi, 0.0)
        if op in S_SHAPED:
            return sound_lines.OPS[op][0](*self.bounds[ins[0]])
        if op == "max_pool2d":   # monotone and exact: the window maxima of the bounds
            real = get_op("max_pool2d").real
            lo, hi = box[ins[0]]
            return real(lo, **at), real(hi, **at)
        if op in ("reshape", "flatten"):
            lo, hi = box[ins[0]]
            return lo.reshape((self.N,) + _pe(n)), hi.reshape((self.N,) + _pe(n))
        if op == "neg":
            return iv.neg(*box[ins[0]])
        if op in ("add", "sub"):
            a, b = self._val(box, ins[0]), self._val(box, ins[1])
            return (iv.add if op == "add" else iv.sub)(*a, *b)
        if op == "linear":
            (xl, xh), (wl, wh) = box[ins[0]], self._const(ins[1])
            lo, hi = iv.bilinear(lambda x, w: x @ w.T, xl, xh, wl, wh, max(1, wl.shape[1]))
            return iv.add(lo, hi, *self._const(ins[2])) if len(ins) == 3 else (lo, hi)
        if op == "matmul":
            (al, ah), (bl, bh) = self._val(box, ins[0]), self._val(box, ins[1])
            return iv.bilinear(np.matmul, al, ah, bl, bh, max(1, al.shape[-1]))
        if op == "conv2d":
            (xl, xh), (wl, wh) = box[ins[0]], self._const(ins[1])
            real = get_op("conv2d").real
            lo, hi = iv.bilinear(lambda x, w: real(x, w, **at), xl, xh, wl, wh, max(1, int(np.prod(wl.shape[1:]))))
            if len(ins) == 3:
                bl, bh = self._const(ins[2])
                lo, hi = iv.add(lo, hi, bl.reshape(-1, 1, 1), bh.reshape(-1, 1, 1))
            return lo, hi
        if op == "avg_pool2d":
            lo, hi = box[ins[0]]
            k, s, p, d, out_hw, div = _avg_setup(lo, **at)
            sums = iv.sum_enclosure(lambda v: _window_sums(v, k, s, p, d, out_hw), lo, hi, k[0] * k[1])
            return iv.div_pos(*sums, div)
        if op == "mean":
            lo, hi = box[ins[0]]
            ax, count = self._mean_axes(n)
            axes = tuple(1 + i for i in ax)
            sums = iv.sum_enclosure(lambda v: v.sum(axis=axes, keepdims=bool(at.get("keepdims"))), lo, hi, count)
            return iv.div_pos(*sums, float(count))
        if op == "mul":
            v = self._mul_setup(n)[0]                     # validated: one variable operand
            (xl, xh), (cl, ch) = box[v], self._const(ins[1 - ins.index(v)])
            lo, hi = iv.mul(xl, xh, cl, ch)
            return (np.broadcast_to(lo, (self.N,) + _pe(n)).copy(), np.broadcast_to(hi, (self.N,) + _pe(n)).copy())
        if op == "batch_norm":
            (kl, kh), (sl, sh) = self._bn(n)
            kl, kh = (v.reshape((-1,) + (1,) * (len(_pe(n)) - 1)) for v in (kl, kh))
            return iv.add(*iv.mul(*box[ins[0]], kl, kh), sl, sh)
        raise _Reject(f"unsupported op {op} in the checker")  # pragma: no cover

    # ------------------------------------------------------------------ the region
    def _concretize(self, A):
        """Sound lower bound (N, K) of min over the region of A . x."""
        r = self.cert.region
        N = self.N
        d = int(np.prod(r.shape))
        if A.shared:
            f = lambda a, x: x.reshape(N, -1) @ a.reshape(a.shape[0], -1).T  # noqa: E731
        else:
            f = lambda a, x: np.matmul(a.reshape(N, a.shape[1], -1), x.reshape(N, -1, 1))[..., 0]  # noqa: E731
        m, rad = A.as_mr()
        c, e = _product(f, (m, rad), iv.midrad(r.lo, r.hi), d)
        low = iv.down(c - e)
        if r.norm in ("2", "1"):
            amax = np.abs(m) if rad is None else iv._up_nonneg(np.abs(m) + rad)
            amax = amax.reshape(amax.shape[:1 if A.shared else 2] + (-1,))
            if r.norm == "2":                      # ||a||_2 <= sqrt(sum a^2), rounded up
                c2, e2 = _product(lambda a, b: np.einsum("...d,...d->...", a, b), (amax, None), (amax, None), d)
                nrm = iv.up(np.sqrt(iv.up(c2 + e2)))
            else:                                  # dual of L1: max |a|, exact
                nrm = np.max(amax, axis=-1)
            c3, e3 = _product(f, (m, rad), (r.center, None), d)
            ball = iv.down(iv.down(c3 - e3) - iv.up(r.eps * nrm))
            low = np.maximum(low, ball)
        return low

    # ------------------------------------------------------------------ binary32
    def binary32(self, graph, lower):
        from ..error_budget.forward import ASSUMPTIONS, THEOREMS_USED, error_budget
        order = "sequential" if self.cert.semantics == "binary32" else "any"
        try:
            eb = error_budget(graph, self.cert.region.lo, self.cert.region.hi, order=order)
        except CertnnError as e:
            raise _Reject(f"binary32: no error budget for this graph ({e})") from None
        C = np.abs(self.cert.spec.C)
        e = np.broadcast_to(np.asarray(eb.bound, np.float64), np.shape(eb.lo)).reshape(self.N, -1)
        pen = iv.bilinear(lambda a, b: np.einsum("nko,no->nk", a, b), C, C, e, e, C.shape[2])[1]
        scope = {"binary32": "semantics:binary32", "binary32-any-order": "semantics:binary32-any-order"}
        self.assumptions += [a for a in ASSUMPTIONS + (scope[self.cert.semantics],) if a not in self.assumptions]
        self.theorems += [t for t in THEOREMS_USED if t not in self.theorems]
        return iv.down(lower - pen)


def _window_sums_t(g, k, s, p, d, out_hw, hw):
    """Adjoint of the window sums of avg_pool2d: (..., C, Ho, Wo) -> (..., C, H, W)."""
    H, W = hw
    out = np.zeros(g.shape[:-2] + (H + 2 * p[0], W + 2 * p[1]))
    for _, idx in kernel_slices(k, s, d, out_hw):
        out[idx] += g
    return out[..., p[0]:p[0] + H, p[1]:p[1] + W]


def _conv_t(A, W, x_shape, *, stride, padding, dilation, groups):
    """Adjoint of conv2d (no bias) in x: A (..., O, Ho, Wo) -> (..., C, H, W).
    Each output is a sum of at most (O/groups) kH kW products: per kernel offset
    one length-og dot per output position, added offset by offset."""
    lead = A.shape[:-3]
    O, Ho, Wo = A.shape[-3:]
    C, H, Wd = x_shape
    _, cg, kh, kw = W.shape
    og = O // groups
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    M = int(np.prod(lead, dtype=np.int64))
    a = A.reshape(M, groups, og, Ho * Wo).transpose(1, 0, 3, 2).reshape(groups, M * Ho * Wo, og)
    w = W.reshape(groups, og, cg, kh, kw)
    Hp = max(H + 2 * ph, (Ho - 1) * sh + (kh - 1) * dh + 1)
    Wp = max(Wd + 2 * pw, (Wo - 1) * sw + (kw - 1) * dw + 1)
    # channels last, one offset at a time: no (rows, positions, cg kH kW) array (150 MB
    # per call on sri_resnet_a; 2-3x faster there)
    out = np.zeros((groups, M, Hp, Wp, cg))
    for p in range(kh):
        for q in range(kw):
            out[:, :, p * dh:p * dh + sh * (Ho - 1) + 1:sh, q * dw:q * dw + sw * (Wo - 1) + 1:sw] += \
                (a @ w[:, :, :, p, q]).reshape(groups, M, Ho, Wo, cg)
    out = out[:, :, ph:ph + H, pw:pw + Wd].transpose(1, 0, 4, 2, 3)
    return np.ascontiguousarray(out).reshape(lead + (C, H, Wd))
