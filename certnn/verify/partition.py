"""Box-partition certificates, checker side: the leaves of a split list.

A partition certificate names a root box and the splits that made its leaves
(node 0 is the root; the i-th split (node, dim) cuts leaf ``node`` at
``0.5 lo + 0.5 hi`` of coordinate ``dim`` into nodes 2i + 1 and 2i + 2).
:func:`leaves` rebuilds the leaves from that list alone: the two halves of a
box cover it whatever float the midpoint rounds to, so the leaves cover the
root box by construction; this is the coverage proof the checkers of PINN
residual certificates (:mod:`certnn.pinn.checker`) and approximation
certificates (:mod:`certnn.approx.checker`) rely on. Nothing here imports a
producer.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertnnError


def leaves(lo: np.ndarray, hi: np.ndarray, splits: np.ndarray):
    """Replay the splits from the root box [lo, hi]; returns the leaf boxes in
    increasing node order. Raises CertnnError on a split of a non-leaf, an
    unknown node or coordinate, or a box too small to cut strictly inside."""
    k = len(lo)
    n = 1 + 2 * len(splits)
    blo, bhi = np.empty((n, k)), np.empty((n, k))
    blo[0], bhi[0] = lo, hi
    leaf = np.zeros(n, bool)
    leaf[0] = True
    for i, (node, dim) in enumerate(splits.tolist()):
        if not (0 <= node < 1 + 2 * i and leaf[node] and 0 <= dim < k):
            raise CertnnError(f"split {i}: node {node} is not a leaf so far or coordinate {dim} does not exist")
        a, b = blo[node, dim], bhi[node, dim]
        mid = 0.5 * a + 0.5 * b
        if not a < mid < b:
            raise CertnnError(f"split {i}: box {node} is too small to cut in coordinate {dim}")
        leaf[node] = False
        c1, c2 = 2 * i + 1, 2 * i + 2
        blo[c1], bhi[c1] = blo[node], bhi[node]
        blo[c2], bhi[c2] = blo[node], bhi[node]
        bhi[c1, dim] = mid
        blo[c2, dim] = mid
        leaf[c1] = leaf[c2] = True
    idx = np.flatnonzero(leaf)
    return blo[idx], bhi[idx]


def check_leaf_bounds(root_lo, root_hi, splits, bounds, claim: float, sound_bound, chunk: int):
    """The part every partition checker shares: rebuild the leaves, re-derive a
    sound bound on each (``sound_bound(lo, hi)`` on ``chunk`` boxes at a time,
    returning the bounds first) and accept when every re-derived bound is <= its
    recorded bound and every recorded bound is <= the claim.

    Returns (reason or None, number of leaves, largest re-derived bound or None)."""
    try:
        lo, hi = leaves(root_lo, root_hi, splits)
    except CertnnError as e:
        return str(e), 0, None
    if len(lo) != len(bounds):
        return f"{len(bounds)} leaf bounds for {len(lo)} leaves", len(lo), None
    sound = np.concatenate([sound_bound(lo[a:a + chunk], hi[a:a + chunk])[0] for a in range(0, len(lo), chunk)])
    bad = ~(sound <= bounds) | ~(bounds <= claim)          # written so that NaN fails
    if bad.any():
        i = int(np.argmax(bad))
        return (f"{int(bad.sum())} of {len(lo)} boxes fail, first box {i} [{lo[i].tolist()}, {hi[i].tolist()}]: "
                f"sound bound {sound[i]!r}, claimed {bounds[i]!r}, claim {claim!r}"), len(lo), float(sound.max())
    return None, len(lo), float(sound.max())


# ---------------------------------------------------------------- files

class PartitionFileError(CertnnError, ValueError):
    """A partition certificate file is missing, malformed or inconsistent."""


def digest(a: np.ndarray) -> str:
    import hashlib
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes()).hexdigest()


def save_document(doc: dict, arrays: dict, path):
    """Write ``path`` (.json) and its sibling .npz, arrays first, each atomically;
    the JSON records the array file and each array's digest."""
    from pathlib import Path
    from ..io import write_json, write_npz
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    npz = path.with_name(path.stem + ".npz")
    doc = {**doc, "array_file": npz.name, "arrays": {k: digest(a) for k, a in sorted(arrays.items())}}
    write_npz(npz, arrays)
    write_json(path, doc)
    return path


def load_document(path, schema: dict, error=PartitionFileError):
    """Read a JSON document (validated against ``schema``) and its arrays through the
    file boundary (:mod:`certnn.io`: regular files only, size caps, no pickles, the
    array file confined to the document's folder); each array must match its
    recorded digest. Returns (doc, arrays)."""
    from pathlib import Path
    from ..io import confined, load_json, read_npz
    path = Path(path)
    doc = load_json(path, "certificate", schema, error)
    npz = confined(path.parent, doc["array_file"], "array_file", path, error)
    arrays = read_npz(npz, "array file", error)
    for name, want in doc["arrays"].items():
        if name not in arrays:
            raise error(f"{path}: array {name} is missing from {npz.name}")
        if digest(arrays[name]) != want:
            raise error(f"{path}: array {name} does not match its recorded digest")
    return doc, arrays


def check_arrays(splits: np.ndarray, bounds: np.ndarray, what: str, error=PartitionFileError) -> None:
    if splits.dtype.kind != "i" or splits.ndim != 2 or splits.shape[1] != 2 or bounds.dtype != np.float64 \
            or bounds.shape != (len(splits) + 1,):
        raise error(f"{what}: splits must be (m, 2) integers and bounds (m + 1,) float64; got {splits.shape} "
                    f"{splits.dtype}, {bounds.shape} {bounds.dtype}")
