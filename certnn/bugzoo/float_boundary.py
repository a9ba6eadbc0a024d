"""Card 10, float boundary: a network that real-arithmetic verification calls
robust while its binary32 execution flips the class inside the region. A
certificate must hold for the arithmetic the network runs in.

Reports: Jia & Rinard, "Exploiting verified neural networks via floating point
numerical error" (SAS 2021; arXiv 2003.03021): complete verifiers reasoning
over the reals certified regions containing float32 adversarial examples.

The network is :func:`certnn.verify.fp_exploit.rounding_trap` (y0 = relu(x +
2^24) - 2^24, which is x over the reals and rounds to an even integer in
binary32). ``buggy``: CROWN over the reals (``semantics="real"``), as a
real-arithmetic verifier does. ``fixed``: CROWN under certnn's binary32
semantics (the bound widened by the binary32 error budget).
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 10
TITLE = "Float boundary"
FAMILY = "verification over the reals certifies networks that binary32 execution breaks"
REPORTS = ("Jia & Rinard, SAS 2021 (arXiv 2003.03021): exploiting verified networks via floating-point error",)
CONTRACT = ("a region the verifier certifies has no binary32 counterexample (searched by the binary32 "
            "falsifier and replayed bit for bit); and on a variant robust in binary32 too the verifier "
            "still certifies (not vacuous)")
EVIDENCE = "certified"
ASSUMPTIONS = ()
DOCUMENTED = ("false-certificate",)
WEAKENED = {"replay": "real"}


def _problem(**kw):
    from ..spec import LinearSpec, Region
    from ..verify.fp_exploit import rounding_trap
    g, x0, label, eps = rounding_trap(**kw)
    return g, Region.ball(x0.astype(np.float64), eps, "inf"), LinearSpec.robustness([label], 2)


def _certifies(g, region, spec, semantics):
    from ..bounds import compute_bounds
    return bool(spec.holds(compute_bounds(g, region, spec, method="crown", semantics=semantics).lb).all())


def buggy(g, region, spec):
    return _certifies(g, region, spec, "real")


def fixed(g, region, spec):
    return _certifies(g, region, spec, "binary32")


def contract(impl, replay: str = "binary32"):
    from ..ir.run import run
    from ..verify.fp_exploit import binary32_search
    f = Findings()
    g, region, spec = _problem()
    certified = impl(g, region, spec)
    (cex,) = binary32_search(g, region, spec)
    if cex is not None and replay != "binary32":       # the weakened contract replays over the reals
        y = np.asarray(run(g, cex[None], semantics=replay), np.float64).reshape(1, -1)
        cex = cex if spec.violated(y).any() else None
    if cex is not None:
        y = np.asarray(run(g, cex[None], semantics="binary32")).reshape(-1)
        f.note(counterexample=float(cex[0]), binary32_outputs=y, certified=certified)
        f.check(not certified, "false-certificate",
                lambda: f"certified robust, but binary32 x = {float(cex[0])} gives y = {y.tolist()} "
                        "(class flipped)")
    g2, region2, spec2 = _problem(center=6.0, threshold=2.25, eps=0.5)
    robust = impl(g2, region2, spec2)
    f.check(robust, "vacuous", "the binary32-robust variant is not certified either")
    f.note(trap_certified=certified, robust_variant_certified=robust)
    return f.verdict("no certificate with a binary32 counterexample; the robust variant is certified")
