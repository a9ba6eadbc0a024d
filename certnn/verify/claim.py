"""What a certificate claims, stated only from fields the checker verified.

The checker re-derives the claim the *arrays* make: the region's box
``lo``/``hi`` (and, for an L2/L1 ball, its center and radius) and the spec rows
``C``, ``d``, ``groups``. A person reads the descriptive fields: the radius
``eps``, the clipping domain, the spec ``kind`` and its labels. This module
binds them to the arrays, or refuses (:class:`ClaimMismatch`, naming the
field), and words the claim from the bound fields only:

* a ``ball`` region (norm ``inf``, ``2`` or ``1``): ``lo``/``hi`` must be
  exactly ``max(center - eps, clip_lo)`` / ``min(center + eps, clip_hi)``,
  computed in float64 as :meth:`certnn.spec.Region.ball` computes them.
  Rounding to nearest is monotone, so every float64 (hence every binary32)
  point within distance ``eps`` of the center and inside the clip box lies in
  that box; for L2/L1 the checker intersects the box with the ball itself. The
  claim is therefore stated for float64 (real semantics) or binary32 inputs.
* a ``box`` region has no radius, center or clip; its arrays are named by
  their SHA-256.
* ``spec.kind == "robustness"``: the rows must be exactly ``y_label - y_j``
  for every ``j != label`` (in increasing ``j``), one group each, offsets 0;
  the labels are read from the rows. Every other spec is "a linear spec"
  (rows, groups and the SHA-256 of C, d, groups), whatever its kind says.

This module imports no producer: only the Region/LinearSpec data classes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..ir.serialize import array_digest
from ..spec.linear import LinearSpec
from ..spec.region import Region

NORM_NAME = {"inf": "L∞", "2": "L2", "1": "L1"}
INPUTS = {"real": "float64", "binary32": "binary32", "binary32-any-order": "binary32"}


class ClaimMismatch(Exception):
    """A descriptive field disagrees with the arrays it describes."""

    def __init__(self, where: str, msg: str):
        super().__init__(f"{where}: {msg}")


def digest(*arrays) -> str:
    """A name for arrays too big to print: one array's digest is the certificate
    manifest's (``array_digest``: dtype, shape, bytes); several, the SHA-256 of theirs."""
    ds = [array_digest(np.asarray(a)) for a in arrays]
    return ds[0] if len(ds) == 1 else hashlib.sha256(" ".join(ds).encode()).hexdigest()


# ------------------------------------------------------------------------------ binding

def region_claim(r: Region) -> dict:
    """The region as a claim (kind, norm, eps, clip, array digests), or ClaimMismatch."""
    if r.norm == "box":
        if r.eps is not None or r.center is not None or r.domain is not None:
            raise ClaimMismatch("region", "a box region has no eps, center or clip")
        return {"kind": "box", "norm": "box", "eps": None, "clip": None,
                "lo_sha256": digest(r.lo), "hi_sha256": digest(r.hi)}
    eps = r.eps
    if eps is None or not (np.isfinite(eps) and eps > 0):
        raise ClaimMismatch("region.eps", f"a ball needs a positive finite radius, got {eps!r}")
    if r.center is None or r.center.shape != r.lo.shape:
        raise ClaimMismatch("region.center", "a ball needs a center of the region's shape")
    lo, hi = r.center - eps, r.center + eps
    if r.domain is not None:
        lo, hi = np.maximum(lo, r.domain[0]), np.minimum(hi, r.domain[1])
    for name, got, want in (("lo", r.lo, lo), ("hi", r.hi, hi)):
        bad = got != want
        if bad.any():
            i, j = divmod(int(np.argmax(bad.reshape(-1))), int(np.prod(r.shape)))
            sign = "-" if name == "lo" else "+"
            raise ClaimMismatch("region.eps", f"eps {_num(eps)} with clip {_clip(r.domain)} does not give the box "
                                f"region.{name} (example {i}, element {j}: region.{name} = "
                                f"{float(got.flat[i * got[0].size + j])!r}, clipped center {sign} eps = "
                                f"{float(want.flat[i * want[0].size + j])!r})")
    return {"kind": "ball", "norm": r.norm, "eps": float(eps),
            "clip": None if r.domain is None else [float(r.domain[0]), float(r.domain[1])],
            "center_sha256": digest(r.center)}


def spec_claim(s: LinearSpec) -> dict:
    """The spec as a claim: robustness with its labels (rows checked), else a linear spec."""
    if s.kind != "robustness":
        return {"kind": "linear", "rows": int(s.C.shape[1]), "groups": s.n_groups,
                "sha256": digest(s.C, s.d, s.groups), "vacuous": vacuous(s).tolist()}
    n, k, out = s.C.shape
    if out < 2 or k != out - 1:
        raise ClaimMismatch("spec.C", f"robustness over {out} classes has {out - 1} rows per example, not {k}")
    labels = np.argmax(s.C[:, 0, :], axis=1) if n else np.zeros(0, np.int64)
    want = LinearSpec.robustness(labels, out)
    bad = np.any(s.C != want.C, axis=(1, 2))
    if bad.any():
        i = int(np.argmax(bad))
        raise ClaimMismatch("spec.C", f"example {i}: the rows are not y_label - y_j for every j != label "
                            "(one row per other class, in order)")
    if np.any(s.d != 0):
        i, j = np.argwhere(s.d != 0)[0]
        raise ClaimMismatch("spec.d", f"robustness rows have zero offsets; example {i}, row {j} has "
                            f"d = {float(s.d[i, j])!r}")
    if not np.array_equal(s.groups, want.groups):
        raise ClaimMismatch("spec.groups", "robustness puts every row in a group of its own")
    return {"kind": "robustness", "labels": labels.astype(int).tolist()}


def vacuous(s: LinearSpec) -> np.ndarray:
    """Per example: is the unsafe set empty on its face (every group has a row 0 . y + d
    with d > 0)? Then the claim holds for any network and says nothing."""
    const = np.all(s.C == 0, axis=2) & (s.d > 0)                     # (N, K)
    return np.array([all(const[i, s.groups == g].any() for g in range(s.n_groups))
                     for i in range(s.n)], bool)


# ------------------------------------------------------------------------------ the report

@dataclass
class Claim:
    """What an accepted certificate proved, from checked fields only."""
    semantics: str
    region: dict
    spec: dict
    examples: list                 # indices of the examples the claim is about
    n: int                         # examples in the certificate
    assumptions: list = field(default_factory=list)
    theorems: list = field(default_factory=list)

    def words(self) -> str:
        m = len(self.examples)
        of = "" if m == self.n else f"examples {_ranges(self.examples)} of {self.n}; "
        r, s = self.region, self.spec
        # a box is exact; a ball's box has faces rounded to float64 (module docstring)
        inputs = "real" if r["kind"] == "box" and self.semantics == "real" else INPUTS[self.semantics]
        if r["kind"] == "ball":
            point = "x0"
            where = f"within {NORM_NAME[r['norm']]} distance {_num(r['eps'])} of x0" + \
                (f" (clipped to {_clip(r['clip'])})" if r["clip"] else "")
            lead = f"for each of {m} points x0 ({of}region.center SHA-256 {r['center_sha256'][:12]}…)"
        else:
            point = "the box"
            where = "in the box"
            lead = (f"for each of {m} boxes ({of}region.lo/hi SHA-256 {r['lo_sha256'][:12]}…/"
                    f"{r['hi_sha256'][:12]}…)")
        if s["kind"] == "robustness":
            what = f"is classified as the label of {point} (labels {_short(s['labels'][i] for i in self.examples)})"
        else:
            what = (f"has an output outside the unsafe set of a linear spec ({s['rows']} rows in {s['groups']} "
                    f"groups, SHA-256 {s['sha256'][:12]}…: every group has a row with C y + d > 0)")
            if any(s["vacuous"][i] for i in self.examples):
                what += " [vacuous for some examples: their unsafe set is empty on its face]"
        return (f"{lead}, every {inputs} input {where} {what}; semantics {self.semantics}; rests on: "
                f"{', '.join(self.assumptions) or 'nothing beyond exact arithmetic'}"
                + (f"; theorems: {', '.join(self.theorems)}" if self.theorems else ""))


def _clip(domain) -> str:
    return "nothing" if domain is None else f"[{_num(domain[0])}, {_num(domain[1])}]"


def _num(v: float) -> str:
    """Short when exact ("0", "1"), else the round-trip repr."""
    return f"{v:g}" if float(f"{v:g}") == v else repr(float(v))


def _short(xs, k: int = 10) -> str:
    xs = list(xs)
    return ", ".join(map(str, xs[:k])) + (f", … ({len(xs)} in all)" if len(xs) > k else "")


def _ranges(idx) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    out, idx = [], sorted(idx)
    for v in idx:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return _short([f"{a}" if a == b else f"{a}-{b}" for a, b in out])
