"""Card 15, camera projection: a 3-D box (axis-aligned in camera coordinates)
projected through a pinhole camera, u = fx X / Z + cx, v = fy Y / Z + cy. The
result must be a certified 2-D enclosure of the projected box (its 8 projected
corners span it when every depth is positive), and a box reaching depth <= 0
has no bounded projection: it must be refused, not projected.

Reports: PyTorch3D #522, #596, #1105, #1183, #1427 (points at or behind the
camera: division by a zero or negative depth, flipped or infinite screen
coordinates, NaN gradients); Detectron2 #2402 and Omni3D #60 (3-D box corners
projected to wrong 2-D boxes when part of the box is behind the camera);
BlenderProc #1150 (projection of points behind the camera).

``buggy``: project the 8 corners in float32 and take their min/max, with no
depth check (the pattern of those reports). ``fixed``: the projection as a
certnn graph (slice, div, mul, add, concat) bounded by interval bound
propagation over the box: every op's interval rule, rounded outward
(:mod:`certnn.floats.interval`; a divisor interval containing 0 gives the whole
line), on the camera's domain: a depth interval that is not positive is refused.
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np

from .card import Findings

NUMBER = 15
TITLE = "Camera projection"
FAMILY = "perspective division by non-positive depth; unsound 2-D boxes from projected corners"
REPORTS = ("PyTorch3D #522, #596, #1105, #1183, #1427", "Detectron2 #2402", "Omni3D #60", "BlenderProc #1150")
CONTRACT = ("for boxes in front of the camera: the returned [u_lo, u_hi] x [v_lo, v_hi] contains the exact "
            "(rational) projection of every corner and of 200 interior points, and is no wider than the exact "
            "hull plus 1e-6 pixel; a box whose depth interval reaches 0 is refused with a CertnnError or "
            "gets an enclosure containing the projection of every sampled point of positive depth")
EVIDENCE = "certified"
ASSUMPTIONS = ()
DOCUMENTED = ("misses-projection", "non-finite", "unsound-rounding")
WEAKENED = {"behind": False, "exact": False}

CAMERA = (800.0, 600.0, 320.0, 240.0)        # fx, fy, cx, cy
FRONT = [((-0.3, -0.2, 2.0), (0.4, 0.1, 3.5)), ((0.1, 0.1, 0.7), (0.1000001, 0.3, 0.7000001))]
BEHIND = [((-0.3, -0.2, -0.5), (0.4, 0.1, 2.0)), ((0.2, 0.1, 0.0), (0.5, 0.4, 1.0))]


def buggy(lo, hi, camera):
    fx, fy, cx, cy = (np.float32(c) for c in camera)
    corners = np.array(list(itertools.product(*zip(lo, hi))), np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = fx * corners[:, 0] / corners[:, 2] + cx
        v = fy * corners[:, 1] / corners[:, 2] + cy
    return float(u.min()), float(u.max()), float(v.min()), float(v.max())


@functools.lru_cache(maxsize=4)
def _pinhole_graph(camera):
    """The projection p = (X, Y, Z) -> (fx X / Z + cx, fy Y / Z + cy) as a certnn graph."""
    from .. import functional as F, nn
    from ..ir import trace
    fx, fy, cx, cy = camera

    class Pinhole(nn.Module):
        def forward(self, p):
            X, Y, Z = (F.slice(p, (i,), (i + 1,), (1,)) for i in range(3))
            return F.concat([X / Z * fx + cx, Y / Z * fy + cy], axis=1)
    return trace(Pinhole(), np.ones((1, 3)), dynamic_batch=False)[0]


def fixed(lo, hi, camera):
    """Interval bound propagation (IBP: each op's outward-rounded interval rule) of
    the projection graph over the box, on the camera's domain Z > 0."""
    from ..bounds import compute_bounds
    from ..errors import CertnnError
    from ..spec import Region
    if not lo[2] > 0:
        raise CertnnError(f"camera projection: the box's depth interval [{lo[2]}, {hi[2]}] is not positive: "
                          "points at or behind the camera have no projection")
    b = compute_bounds(_pinhole_graph(tuple(camera)), Region.box(np.array([lo]), np.array([hi])), method="ibp")
    (ul, vl), (uh, vh) = b.lb.reshape(2), b.ub.reshape(2)
    return float(ul), float(uh), float(vl), float(vh)


def _exact(p, camera):
    X, Y, Z = (Fraction(float(t)) for t in p)
    fx, fy, cx, cy = (Fraction(c) for c in camera)
    return fx * X / Z + cx, fy * Y / Z + cy


def _points(lo, hi, n=200, seed=15):
    rng = np.random.default_rng(seed)
    corners = list(itertools.product(*zip(lo, hi)))
    return corners + [tuple(p) for p in rng.uniform(lo, hi, (n, 3))]


def contract(impl, behind: bool = True, exact: bool = True):
    from ..errors import CertnnError
    f = Findings()
    for lo, hi in FRONT:
        box = impl(lo, hi, CAMERA)
        if not f.check(all(np.isfinite(box)), "non-finite", lambda: f"box {lo}..{hi}: enclosure {box}"):
            continue
        ul, uh, vl, vh = (Fraction(t) for t in box)
        proj = [_exact(p, CAMERA) for p in _points(lo, hi)]
        slack = 0 if exact else Fraction(1, 1000)            # the weakened contract forgives 1e-3 pixel
        missed = [(float(u), float(v)) for u, v in proj
                  if not (ul - slack <= u <= uh + slack and vl - slack <= v <= vh + slack)]
        f.check(not missed, "unsound-rounding",
                lambda: f"box {lo}..{hi}: enclosure {box} misses the exact projection {missed[0]} (rounded inward)")
        us, vs = [u for u, _ in proj], [v for _, v in proj]
        loose = max(float((uh - ul) - (max(us) - min(us))), float((vh - vl) - (max(vs) - min(vs))))
        f.check(loose <= 1e-6 + slack, "loose",
                lambda: f"box {lo}..{hi}: enclosure wider than the hull by {loose:.3g} px")
        f.note(**{f"front {lo}..{hi}": box})
    if behind:
        for lo, hi in BEHIND:
            try:
                box = impl(lo, hi, CAMERA)
            except CertnnError as exc:
                f.note(**{f"behind {lo}..{hi}": f"refused: {exc}"})
                continue
            f.note(**{f"behind {lo}..{hi}": box})
            if not f.check(not any(np.isnan(box)), "non-finite", lambda: f"box {lo}..{hi}: enclosure {box}"):
                continue
            pts = [p for p in _points(lo, hi) if p[2] > 0]
            missed = [(float(u), float(v)) for u, v in (_exact(p, CAMERA) for p in pts)
                      if not (box[0] <= u <= box[1] and box[2] <= v <= box[3])]
            f.check(not missed, "misses-projection",
                    lambda: f"box {lo}..{hi} (depth reaches {lo[2]}): enclosure {box} misses {len(missed)} of "
                            f"{len(pts)} projected points in front of the camera, e.g. {missed[0]}")
    return f.verdict("certified enclosures in front; boxes reaching depth <= 0 refused")
