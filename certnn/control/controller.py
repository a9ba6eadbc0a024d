"""Controller bounds for the reach-set producer: CROWN over boxes of network inputs.

For each piece of the state set, the network input v ranges over a box V (the
range of its Taylor model). CROWN (:mod:`certnn.bounds`) gives, per output j,
linear functions with ``A_l v + b_l <= y_j(v) <= A_u v + b_u`` on V. With the
slope ``a = (A_l + A_u) / 2`` (any slope between A_l and A_u gives the least
width for these lines) the claim is

    y_j(v) - a_j . v  in  [r_lo, r_hi]   for every v in V,

a linear spec on the outputs of the augmented graph ``v -> [NN(v); v]``
(:func:`certnn.control.network.augmented`), packaged as a certificate for the
independent checker. Substituting the claim into the Taylor models keeps the
dependence of the control on the initial state (the CROWN-Reach idea): the
control is ``a_j . v(z) + [r_lo, r_hi]`` with v(z) the network input's TM.

The numbers are float64 computations without rounding control (evidence
``computed``); the claimed interval is padded outward so that the checker's
sound recomputation lands inside it.
"""

from __future__ import annotations

import numpy as np

from ..bounds.crown import backward, crown
from ..ops.relax import ALPHA, TangentPoints
from ..bounds.net import analyze
from ..bounds.result import Bounds
from ..spec.linear import LinearSpec
from ..spec.region import Region
from ..verify.certificate import make_certificate
from .network import augmented, io_sizes
from .tube import Claims, claim_spec

PAD_REL, PAD_ABS = 1e-8, 1e-12


class ControllerBounds:
    def __init__(self, graph, method: str = "crown"):
        self.graph = augmented(graph)
        self.net = analyze(self.graph)
        self.n_in, self.n_out = io_sizes(graph)
        self.method = method

    def __call__(self, lo: np.ndarray, hi: np.ndarray) -> Claims:
        P, K = lo.shape[0], self.n_out
        region = Region.box(lo, hi)
        C0 = np.zeros((P, K, K + self.n_in))
        C0[:, np.arange(K), np.arange(K)] = 1.0
        b = crown(self.net, region, LinearSpec(C0, np.zeros((P, K)), np.arange(K)), method=self.method)
        known = {self.net.input: (region.lo, region.hi), **b.intermediate}
        A0 = np.concatenate([C0, -C0], axis=1)
        a_in, bias, _ = backward(self.net, self.net.output, A0, known)
        Al, bl = a_in[:, :K], bias[:, :K]
        Au, bu = -a_in[:, K:], -bias[:, K:]
        a = (Al + Au) / 2
        lo3, hi3 = lo[:, None, :], hi[:, None, :]
        dl, du = Al - a, Au - a
        r_lo = bl + np.sum(np.minimum(dl * lo3, dl * hi3), -1)
        r_hi = bu + np.sum(np.maximum(du * lo3, du * hi3), -1)
        scale = np.abs(r_lo) + np.abs(r_hi) + np.sum(np.abs(a) * np.maximum(np.abs(lo3), np.abs(hi3)), -1)
        pad = PAD_REL * scale + PAD_ABS
        r_lo, r_hi = r_lo - 2 * pad, r_hi + 2 * pad
        # the certificate's anchors (padded) and relaxation parameters, as the checker will read them
        spec = claim_spec(a, r_lo, r_hi)
        bounds = Bounds(np.ones((P, spec.C.shape[1])), None, self.method, self.graph,
                        intermediate=b.intermediate, alphas={k: v for k, v in b.alphas.items() if k[0] != "spec"})
        cert = make_certificate(self.graph, region, spec, bounds)
        alphas = dict(cert.alphas)
        # the tangent points this backward pass used for the claim's rows (CROWN's defaults
        # on the unpadded bounds), so that the checker builds the same lines
        for nid in self.net.order:
            n = self.net.nodes[nid]
            if isinstance(ALPHA.get(n.op), TangentPoints) and n.inputs[0] in known:
                l, u = (x[:, None] for x in known[n.inputs[0]])
                alphas[("spec", nid, "both")] = ALPHA[n.op].init(l, u, (P, spec.C.shape[1]) + l.shape[2:], "adaptive")
        return Claims(lo, hi, a, r_lo, r_hi, cert.anchors, alphas)
