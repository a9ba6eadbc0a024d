"""Certificates: a claim about a network, with the data needed to re-derive it.

A certificate is a JSON document (format ``certnn-certificate``, version 2)
plus a sibling ``.npz`` of float64 arrays, listed in the JSON with a SHA-256
each (so a truncated or corrupted array file is caught on loading). It names
the graph (``graph_hash`` of the model graph as loaded), the input region (a
ball records its radius and clipping domain, which the checker binds to the
box: :mod:`certnn.verify.claim`), the linear spec, the semantics the claim is
about, the examples it claims, and the producer's intermediate bounds
("anchors") and ReLU lower slopes ("alphas"). Field by field: docs/certificates.md.

Hashes only catch accidents. Tampering with the numbers is caught by
:mod:`certnn.verify.checker`, which re-derives everything in sound arithmetic
and trusts none of the producer's numbers.

Anchors are padded outward when the certificate is made: the producer computes
in plain float64 (round to nearest, any order), the checker in outward-rounded
arithmetic, so the checker's sound enclosure can stick out of the producer's
exact numbers by rounding noise (~1e-13 of the node's scale). The pad, relative
``PAD_REL`` of the node's scale plus ``PAD_ABS``, absorbs that noise. It is
symmetric, so the default slope choice (u > -l) is the same before and after.
"""

from __future__ import annotations

import datetime
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..spec.region import Region
from ..spec.linear import LinearSpec
from ..errors import CertnnError
from ..floats.interval import down, up
from ..io import confined, parse_json, read_npz, read_text, validate_json, write_json, write_npz
from ..ir.serialize import array_digest, graph_hash

if TYPE_CHECKING:  # pragma: no cover
    from ..bounds.result import Bounds
    from ..ir.graph import Graph

FORMAT = "certnn-certificate"
VERSION = 2          # 2: a ball records its clip domain, and eps/clip/spec kind are bound to the arrays
SEMANTICS = ("real", "binary32", "binary32-any-order")
SIDES = ("both", "lower", "upper")
PAD_REL, PAD_ABS = 1e-9, 1e-12
REQUIRED = ("graph_hash", "semantics", "n", "region", "spec", "anchors", "alphas", "arrays", "array_file")
_NAME = {"type": "string"}                       # an array's name in the manifest
_OPT_NAME = {"type": ["string", "null"]}
#: The JSON document, validated once on loading (docs/certificates.md); extra fields are allowed.
SCHEMA = {
    "type": "object",
    "properties": {
        "graph_hash": {"type": "string"},
        "model": {"type": ["string", "null"]},
        "semantics": {"type": "string"},
        "method": {"type": "string"},
        "n": {"type": "integer", "minimum": 0},
        "claimed": {"type": "array", "items": {"type": "boolean"}},
        "region": {"type": "object", "required": ["norm", "lo", "hi"],
                   "properties": {"kind": {"type": "string"}, "norm": {"type": "string"},
                                  "eps": {"type": ["number", "null"]},
                                  "input_shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                                  "lo": _NAME, "hi": _NAME, "center": _OPT_NAME}},
        "spec": {"type": "object", "required": ["C", "d", "groups"],
                 "properties": {"kind": {"type": "string"}, "C": _NAME, "d": _NAME, "groups": _NAME}},
        "anchors": {"type": "array", "items": {"type": "object", "required": ["node", "lo", "hi"],
                                               "properties": {"node": {"type": "string"}, "lo": _NAME,
                                                              "hi": _NAME}}},
        "alphas": {"type": "array", "items": {"type": "object", "required": ["target", "relu", "array"],
                                              "properties": {"target": {"type": "string"},
                                                             "relu": {"type": "string"},
                                                             "side": {"type": "string"}, "array": _NAME}}},
        "splits": {"type": "array", "items": {"type": "object", "required": ["node", "array"],
                                              "properties": {"node": {"type": "string"}, "array": _NAME}}},
        "betas": {"type": "array", "items": {"type": "object", "required": ["node", "array"],
                                             "properties": {"node": {"type": "string"}, "array": _NAME}}},
        "producer": {"type": "object"},
        "array_file": {"type": "string"},
        "arrays": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["dtype", "shape", "sha256"],
            "properties": {"dtype": {"type": "string"}, "sha256": {"type": "string"},
                           "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}}}}},
    },
}


class CertificateError(CertnnError, ValueError):
    """A certificate file is missing, unreadable, of another format/version, or malformed."""


@dataclass
class Certificate:
    graph_hash: str
    region: Region
    spec: LinearSpec
    semantics: str = "real"
    method: str = ""
    anchors: dict = field(default_factory=dict)   # node id -> (lo, hi), each (N, *node_shape)
    alphas: dict = field(default_factory=dict)    # (target, relu id, side) -> slopes (N|1, K|1, *relu_shape)
    claimed: np.ndarray | None = None             # (N,) bool: the examples the spec is claimed for
    model: str | None = None                      # model path (absolute once loaded)
    producer: dict = field(default_factory=dict)
    path: Path | None = None
    splits: dict = field(default_factory=dict)    # relu input id -> (N, *shape) int8 sign constraints (optional)
    betas: dict = field(default_factory=dict)     # relu input id -> (N|1, K, *shape) split multipliers >= 0

    @property
    def n(self) -> int:
        return self.region.n


def pad_outward(lo, hi):
    """Widen ``(lo, hi)`` (N, *shape) by PAD_REL * scale + PAD_ABS, scale = the larger of
    the element's and the node's (per example) largest magnitude."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    with np.errstate(invalid="ignore"):
        mag = np.maximum(np.abs(lo), np.abs(hi))
        node = np.max(np.where(np.isfinite(mag), mag, 0.0).reshape(mag.shape[0], -1), axis=1, initial=0.0)
        p = PAD_REL * np.maximum(mag, node.reshape((-1,) + (1,) * (mag.ndim - 1))) + PAD_ABS
        return down(lo - p), up(hi + p)


def make_certificate(model_graph: "Graph", region: Region, spec: LinearSpec, bounds: "Bounds",
                     semantics: str = "real", model_path=None) -> Certificate:
    """Package a producer's result as a certificate about ``model_graph`` (the graph as
    loaded, fused or not). ``bounds`` is what certnn.bounds returned for (region, spec)."""
    from ..ir.passes import unfuse
    if semantics not in SEMANTICS:
        raise CertificateError(f"unknown semantics {semantics!r}; use one of {', '.join(SEMANTICS)}")
    if region.n != spec.n:
        raise CertificateError(f"region has {region.n} examples but the spec {spec.n}")
    ids = {n.id for n in unfuse(model_graph).nodes}
    anchors = {}
    for nid, (lo, hi) in bounds.intermediate.items():
        if nid not in ids:
            raise CertificateError(f"bounds name node '{nid}', which the (unfused) model graph lacks")
        anchors[nid] = pad_outward(lo, hi)
    alphas = {}
    for key, a in bounds.alphas.items():
        key = tuple(key) if len(key) == 3 else (key[0], key[1], "both")
        a = np.asarray(a, np.float64)
        alphas[key] = a.reshape((1,) * max(0, 2 - a.ndim) + a.shape)
    if str(bounds.method) == "same-slope" and not alphas:
        alphas = _same_slopes(unfuse(model_graph), bounds.intermediate)
    alphas.update(_default_tangent_points(unfuse(model_graph), bounds.intermediate, alphas))
    lb = np.asarray(bounds.lb) if bounds.lb is not None else None
    claimed = spec.holds(lb) if lb is not None and lb.shape == spec.d.shape else np.ones(spec.n, bool)
    producer = {"certnn": _version(), "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "seconds": float(getattr(bounds, "seconds", 0.0))}
    return Certificate(graph_hash(model_graph), region, spec, semantics, str(bounds.method), anchors, alphas,
                       np.asarray(claimed, bool), None if model_path is None else str(Path(model_path).resolve()),
                       producer)


def _default_tangent_points(g, inter, alphas) -> dict:
    """The sigmoid/tanh tangent points CROWN chose on its own (unpadded) bounds, for
    every target (target "*"), where the producer recorded none: the checker would
    otherwise recompute them from the padded anchors and land on slightly other lines."""
    from ..ops.relax import ALPHA
    out, have = {}, {k[1] for k in alphas}
    for n in g.nodes:
        if n.op in ("sigmoid", "tanh") and n.inputs[0] in inter and n.id not in have:
            l, u = (np.asarray(a, np.float64)[:, None] for a in inter[n.inputs[0]])
            out[("*", n.id, "both")] = ALPHA[n.op].init(l, u, l.shape, "adaptive")
    return out


def _same_slopes(g, inter) -> dict:
    """Same-slope CROWN uses the chord's slope u/(u-l) as the lower slope too; record it
    for every target (target "*"), since the checker's default is the adaptive slope."""
    out = {}
    for n in g.nodes:
        if n.op == "relu" and n.inputs[0] in inter:
            l, u = (np.asarray(a, np.float64) for a in inter[n.inputs[0]])
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.where((l < 0) & (u > 0), u / (u - l), 1.0)
            out[("*", n.id, "both")] = np.clip(s, 0.0, 1.0)[:, None]
    return out


def _version() -> str:
    from .. import __version__
    return __version__


# ------------------------------------------------------------------------------- writing

def _npz_path(path: Path) -> Path:
    return path.with_name(path.stem + ".npz")


def save_certificate(cert: Certificate, path) -> Path:
    """Write ``path`` (.json added if absent) and the sibling .npz, each atomically,
    arrays first (a crash never leaves a JSON pointing at a half-written array file)."""
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    arrays: dict[str, np.ndarray] = {}

    def put(name, a):
        arrays[name] = np.ascontiguousarray(a)
        return name

    r, s = cert.region, cert.spec
    region = {"kind": "box" if r.norm == "box" else "ball", "norm": r.norm,
              "eps": None if r.eps is None else float(r.eps),
              "clip": None if r.domain is None else [float(r.domain[0]), float(r.domain[1])],
              "input_shape": list(r.shape), "lo": put("region.lo", r.lo), "hi": put("region.hi", r.hi)}
    if r.center is not None:
        region["center"] = put("region.center", r.center)
    spec = {"kind": s.kind, "rows": int(s.C.shape[1]), "out": int(s.C.shape[2]), "groups_count": s.n_groups,
            "C": put("spec.C", np.asarray(s.C, np.float64)), "d": put("spec.d", np.asarray(s.d, np.float64)),
            "groups": put("spec.groups", np.asarray(s.groups, np.int64))}
    anchors = [{"node": nid, "lo": put(f"anchor.{i}.lo", lo), "hi": put(f"anchor.{i}.hi", hi)}
               for i, (nid, (lo, hi)) in enumerate(cert.anchors.items())]
    alphas = [{"target": t, "relu": rid, "side": side, "array": put(f"alpha.{i}", a)}
              for i, ((t, rid, side), a) in enumerate(cert.alphas.items())]
    splits = [{"node": nid, "array": put(f"split.{i}", np.asarray(a, np.int8))}
              for i, (nid, a) in enumerate(cert.splits.items())]
    betas = [{"node": nid, "array": put(f"beta.{i}", np.asarray(a, np.float64))}
             for i, (nid, a) in enumerate(cert.betas.items())]
    claimed = np.ones(cert.n, bool) if cert.claimed is None else np.asarray(cert.claimed, bool)
    model = None
    if cert.model is not None:
        model = os.path.relpath(Path(cert.model).resolve(), path.resolve().parent)
    npz = _npz_path(path)
    doc = {"format": FORMAT, "version": VERSION, "graph_hash": cert.graph_hash, "model": model,
           "semantics": cert.semantics, "method": cert.method, "n": cert.n, "claimed": claimed.tolist(),
           "region": region, "spec": spec, "anchors": anchors, "alphas": alphas, "producer": cert.producer,
           "array_file": npz.name,
           **({"splits": splits, "betas": betas} if (splits or betas) else {}),
           "arrays": array_manifest(arrays)}
    write_npz(npz, arrays)
    write_json(path, doc)
    cert.path = path
    return path


# ------------------------------------------------------------------------------- reading

def load_certificate(path) -> Certificate:
    """Read and validate a certificate. Every problem with the file raises
    :class:`CertificateError` naming the file and the problem."""
    path = Path(path)
    if path.is_dir() or (not path.exists() and path.with_name(path.name + ".json").exists()):
        path = path / "certificate.json" if path.is_dir() else path.with_name(path.name + ".json")
        if path.name == "certificate.json" and not path.exists():
            raise CertificateError(f"{path.parent}: a folder, not a certificate file (and it holds no "
                                   f"certificate.json)")
    if path.name.lower().endswith((".onnx", ".onnx.gz")):
        raise CertificateError(f"{path}: an ONNX model, not a certificate; check a certificate with "
                               f"`certnn check CERT --model {path}`")
    doc = parse_json(read_text(path, "certificate", CertificateError), path, "certificate", CertificateError)
    bad = _Bad(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        bad(f"not a certnn certificate (format is {doc.get('format') if isinstance(doc, dict) else None!r}, "
            f"expected {FORMAT!r})")
    if doc.get("version") != VERSION:
        old = " (version 1 did not bind its radius and spec kind to the arrays; re-create the certificate)" \
            if doc.get("version") == 1 else ""
        bad(f"certificate version {doc.get('version')!r} is not supported (this certnn reads {VERSION}){old}")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        bad(f"missing field(s) {', '.join(repr(k) for k in missing)}")
    if doc["semantics"] not in SEMANTICS:
        bad(f"unknown semantics {doc['semantics']!r} (known: {', '.join(SEMANTICS)})")
    validate_json(doc, SCHEMA, path, "certificate", CertificateError)
    arrays = _read_arrays(path, doc, bad)
    get = _getter(arrays, bad)
    try:
        n = int(doc["n"])
        region = _region(doc["region"], get, bad)
        spec = _spec(doc["spec"], get, bad)
        anchors = {}
        for e in doc["anchors"]:
            lo, hi = get(e["lo"], float), get(e["hi"], float)
            if lo.shape != hi.shape or lo.ndim < 1 or lo.shape[0] != n:
                bad(f"anchor of node '{e['node']}': bounds have shapes {lo.shape} and {hi.shape}, "
                    f"expected equal shapes (n={n}, ...)")
            anchors[str(e["node"])] = (lo, hi)
        alphas = {}
        for e in doc["alphas"]:
            a, side = get(e["array"], float), e.get("side", "both")
            if side not in SIDES:
                bad(f"alpha ({e['target']}, {e['relu']}): side {side!r} is not one of {SIDES}")
            if a.ndim < 2 or a.shape[0] not in (1, n):
                bad(f"alpha ({e['target']}, {e['relu']}): shape {a.shape} is not (N or 1, K or 1, ...)")
            alphas[(str(e["target"]), str(e["relu"]), side)] = a
        claimed = np.asarray(doc.get("claimed", [True] * n), dtype=bool)
        splits, betas = {}, {}
        for e in doc.get("splits", []):       # optional: the rows are split subdomains
            a = get(e["array"], int)
            if a.ndim < 1 or a.shape[0] != n or not np.isin(a, (-1, 0, 1)).all():
                bad(f"splits of node '{e['node']}': shape {a.shape} or values not (n, ...) in {{-1, 0, 1}}")
            splits[str(e["node"])] = a.astype(np.int8)
        for e in doc.get("betas", []):
            a = get(e["array"], float)
            if a.ndim < 2 or a.shape[0] not in (1, n) or not np.isfinite(a).all():
                bad(f"betas of node '{e['node']}': shape {a.shape} is not (N or 1, K, ...) or not finite")
            betas[str(e["node"])] = a
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        if isinstance(e, CertificateError):
            raise
        bad(f"malformed field ({type(e).__name__}: {e})")
    if region.n != n or spec.n != n or claimed.shape != (n,):
        bad(f"inconsistent example counts: n={n}, region {region.n}, spec {spec.n}, claimed {claimed.shape}")
    model = doc.get("model")
    if not isinstance(model, (str, type(None))):
        bad(f"'model' must be a path (a string) or null, got {model!r}")
    if model is not None:
        model = str((path.parent / model).resolve())
    return Certificate(str(doc["graph_hash"]), region, spec, doc["semantics"], str(doc.get("method", "")),
                       anchors, alphas, claimed, model, dict(doc.get("producer") or {}), path, splits, betas)


class _Bad:
    def __init__(self, path):
        self.path = path

    def __call__(self, msg):
        raise CertificateError(f"{self.path}: {msg}")


def array_manifest(arrays: dict) -> dict:
    """{name: dtype, shape, SHA-256} of the arrays written next to a JSON document."""
    return {k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
            for k, a in sorted(arrays.items())}


def read_arrays(path: Path, name, field: str, manifest: dict, bad) -> dict:
    """The arrays of the .npz ``name`` next to ``path`` (confined to its folder),
    exactly those of ``manifest``, each matching its recorded SHA-256."""
    npz = confined(path.parent, name, field, path, CertificateError)
    arrays = read_npz(npz, "certificate's array file", CertificateError, manifest=manifest)
    for k, meta in manifest.items():
        if array_digest(arrays[k]) != meta["sha256"]:
            bad(f"array '{k}' does not match its recorded SHA-256 (corrupt or modified)")
    return arrays


def _read_arrays(path: Path, doc: dict, bad) -> dict:
    return read_arrays(path, doc["array_file"], "array_file", doc["arrays"], bad)


def _getter(arrays, bad):
    def get(name, kind=float, required=True):
        if name is None and not required:
            return None
        if name not in arrays:
            bad(f"array '{name}' is not in the manifest")
        a = arrays[name]
        if kind is float:
            if a.dtype.kind not in "fiu":
                bad(f"array '{name}' has dtype {a.dtype}, expected floats")
            a = a.astype(np.float64)
            if np.isnan(a).any():
                bad(f"array '{name}' contains NaN")
        elif a.dtype.kind not in "iu":
            bad(f"array '{name}' has dtype {a.dtype}, expected integers")
        return a
    return get


def _region(r: dict, get, bad) -> Region:
    norm = str(r["norm"])
    if norm not in ("box", "inf", "2", "1"):
        bad(f"region norm {norm!r} is not one of box, inf, 2, 1")
    if r.get("kind") != ("box" if norm == "box" else "ball"):
        bad(f"region kind {r.get('kind')!r} does not fit norm {norm!r} (box: kind box; inf, 2, 1: kind ball)")
    eps, clip = r.get("eps"), r.get("clip")
    if not (eps is None or _finite_number(eps)):
        bad(f"region.eps must be a finite number or null, got {eps!r}")
    if clip is not None and not (isinstance(clip, list) and len(clip) == 2 and all(map(_finite_number, clip))
                                 and clip[0] <= clip[1]):
        bad(f"region.clip must be null or [lo, hi] with finite lo <= hi, got {clip!r}")
    lo, hi = get(r["lo"]), get(r["hi"])
    center = get(r.get("center"), required=False)
    if lo.shape != hi.shape or lo.ndim < 1 or (center is not None and center.shape != lo.shape):
        bad(f"region arrays have inconsistent shapes: lo {lo.shape}, hi {hi.shape}, "
            f"center {None if center is None else center.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (center is not None and not np.isfinite(center).all()):
        bad("region bounds must be finite")
    if np.any(lo > hi):
        bad("region lower bound exceeds upper bound somewhere")
    if list(r.get("input_shape", [])) != list(lo.shape[1:]):
        bad(f"region.input_shape {r.get('input_shape')!r} is not the arrays' {list(lo.shape[1:])}")
    if norm in ("2", "1"):
        if center is None or eps is None or not eps > 0:
            bad(f"an L{norm} ball region needs a center and a positive finite eps")
    return Region(lo, hi, norm, center, None if eps is None else float(eps),
                  None if clip is None else (float(clip[0]), float(clip[1])))


def _finite_number(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) or isinstance(v, int) and not isinstance(v, bool) \
        and abs(v) < 2 ** 1000


def _spec(s: dict, get, bad) -> LinearSpec:
    C, d, g = get(s["C"]), get(s["d"]), get(s["groups"], int)
    if not (np.isfinite(C).all() and np.isfinite(d).all()):
        bad("spec coefficients must be finite")
    try:
        spec = LinearSpec(C, d, g.astype(np.int64), str(s.get("kind", "linear")))
    except CertnnError as e:
        bad(f"spec: {e}")
    counts = {"rows": spec.C.shape[1], "out": spec.C.shape[2], "groups_count": spec.n_groups}
    for k, v in counts.items():
        if s.get(k) != v:
            bad(f"spec.{k} is {s.get(k)!r}, the arrays have {v}")
    return spec
