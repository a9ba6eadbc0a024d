"""numba fast paths for the binary32 reductions of :mod:`certnn.floats.b32`.

Every kernel here computes exactly what its NumPy fallback in ``b32`` computes,
bit for bit: each output's accumulation is one sequential chain (or the
documented pairwise tree) of binary32 additions of binary32-rounded products.
What makes that hold:

* ``njit`` without ``fastmath``: LLVM may then neither reassociate float
  additions nor contract ``a * b + c`` into a fused multiply-add (it emits
  separate ``fmul``/``fadd`` instructions with no ``contract`` flag);
* every operand is a float32 array element or a float32 local, so numba types
  each product and sum as float32 (no float64 intermediate, no literal
  constants in the arithmetic);
* vectorization is across *outputs* only (the innermost loop runs over the
  output columns ``j``), so SIMD lanes hold different outputs and each lane's
  additions stay in order. The matmul kernel additionally keeps four rows and
  four consecutive ``k`` steps in registers (``s = ((((c + a0*x0) + a1*x1) +
  a2*x2) + a3*x3)``: still the sequential order) and blocks ``k`` so the
  right-hand tile stays in L2; ``prange`` (only in the ``_par`` variants)
  splits rows between threads, each output being computed by one thread.

The tests check bit-equality with the NumPy fallback on many shapes.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - exercised when numba is installed
    import numba
    from numba import njit, prange
    AVAILABLE = True
except ImportError:  # pragma: no cover
    numba = None
    prange = range
    AVAILABLE = False

KBLOCK = 256  # k-block: KBLOCK x N of the right operand is reused across rows


def _matmul_seq(A, B, C, KB):
    """C = A @ B, A (M, K), B (K, N), C (M, N), all C-contiguous float32, K >= 1:
    C[i, j] = (((A[i,0]*B[0,j] + A[i,1]*B[1,j]) + A[i,2]*B[2,j]) + ...), every
    product rounded to binary32, then added. Micro-kernel: 4 rows x 4 k-steps
    held in registers per pass over j (vectorized across j); k is blocked by KB
    so a KB x N tile of B stays in cache. Rows left over (M % 4) and k-steps
    left over in a block take the plain loop; the order is the same."""
    M, K = A.shape
    N = B.shape[1]
    nrb = (M + 3) // 4
    for rb in prange(nrb):
        i0 = rb * 4
        i1 = min(i0 + 4, M)
        for i in range(i0, i1):
            a = A[i, 0]
            for j in range(N):
                C[i, j] = a * B[0, j]
        for k0 in range(1, K, KB):
            k1 = min(k0 + KB, K)
            if i1 - i0 == 4:
                k = k0
                while k + 4 <= k1:
                    a0_0 = A[i0 + 0, k + 0]; a0_1 = A[i0 + 0, k + 1]; a0_2 = A[i0 + 0, k + 2]; a0_3 = A[i0 + 0, k + 3]
                    a1_0 = A[i0 + 1, k + 0]; a1_1 = A[i0 + 1, k + 1]; a1_2 = A[i0 + 1, k + 2]; a1_3 = A[i0 + 1, k + 3]
                    a2_0 = A[i0 + 2, k + 0]; a2_1 = A[i0 + 2, k + 1]; a2_2 = A[i0 + 2, k + 2]; a2_3 = A[i0 + 2, k + 3]
                    a3_0 = A[i0 + 3, k + 0]; a3_1 = A[i0 + 3, k + 1]; a3_2 = A[i0 + 3, k + 2]; a3_3 = A[i0 + 3, k + 3]
                    for j in range(N):
                        x0 = B[k + 0, j]; x1 = B[k + 1, j]; x2 = B[k + 2, j]; x3 = B[k + 3, j]
                        s = C[i0 + 0, j]
                        s = s + a0_0 * x0
                        s = s + a0_1 * x1
                        s = s + a0_2 * x2
                        s = s + a0_3 * x3
                        C[i0 + 0, j] = s
                        s = C[i0 + 1, j]
                        s = s + a1_0 * x0
                        s = s + a1_1 * x1
                        s = s + a1_2 * x2
                        s = s + a1_3 * x3
                        C[i0 + 1, j] = s
                        s = C[i0 + 2, j]
                        s = s + a2_0 * x0
                        s = s + a2_1 * x1
                        s = s + a2_2 * x2
                        s = s + a2_3 * x3
                        C[i0 + 2, j] = s
                        s = C[i0 + 3, j]
                        s = s + a3_0 * x0
                        s = s + a3_1 * x1
                        s = s + a3_2 * x2
                        s = s + a3_3 * x3
                        C[i0 + 3, j] = s
                    k += 4
                while k < k1:
                    for i in range(i0, i1):
                        a = A[i, k]
                        for j in range(N):
                            C[i, j] = C[i, j] + a * B[k, j]
                    k += 1
            else:
                for i in range(i0, i1):
                    for k in range(k0, k1):
                        a = A[i, k]
                        for j in range(N):
                            C[i, j] = C[i, j] + a * B[k, j]


def _matmul_pairwise(A, B, C, S, T):
    """C = A @ B with each output the pairwise tree of its K products (see
    ``b32``). S (M-row scratch) is (levels, N) per row: a binary counter of
    complete subtrees; T holds the carry. Processes row i with S[i], T[i]."""
    M, K = A.shape
    N = B.shape[1]
    L = S.shape[1]
    for i in prange(M):
        Si = S[i]
        Ti = T[i]
        occ = np.zeros(L, np.bool_)
        for k in range(K):
            a = A[i, k]
            for j in range(N):
                Ti[j] = a * B[k, j]
            lv = 0
            while occ[lv]:
                for j in range(N):
                    Ti[j] = Si[lv, j] + Ti[j]
                occ[lv] = False
                lv += 1
            for j in range(N):
                Si[lv, j] = Ti[j]
            occ[lv] = True
        started = False
        for lv in range(L):
            if occ[lv]:
                if not started:
                    for j in range(N):
                        C[i, j] = Si[lv, j]
                    started = True
                else:
                    for j in range(N):
                        C[i, j] = Si[lv, j] + C[i, j]


def _colsum_seq(X, out):
    """out[r] = (((X[0,r] + X[1,r]) + X[2,r]) + ...), X (K, R) C-contiguous, K >= 1."""
    K, R = X.shape
    for r in range(R):
        out[r] = X[0, r]
    for k in range(1, K):
        for r in range(R):
            out[r] = out[r] + X[k, r]


def _colsum_pairwise(X, out):
    """Pairwise tree over axis 0 of X (K, R), K >= 1, level by level: adjacent
    pairs (2p, 2p+1) are added, an odd last element is carried up unchanged.
    Works in place on X (the caller passes a copy)."""
    K, R = X.shape
    n = K
    while n > 1:
        h = n // 2
        for p in range(h):
            for r in range(R):
                X[p, r] = X[2 * p, r] + X[2 * p + 1, r]
        if n % 2 == 1:
            for r in range(R):
                X[h, r] = X[n - 1, r]
            n = h + 1
        else:
            n = h
    for r in range(R):
        out[r] = X[0, r]


_compiled: dict = {}


def get(name: str, parallel: bool = False):
    """The compiled kernel ``name`` (``matmul_seq``, ``matmul_pairwise``,
    ``colsum_seq``, ``colsum_pairwise``), compiled on first use and cached on
    disk. ``parallel`` selects the ``prange`` variant (rows split between
    threads; results identical)."""
    if not AVAILABLE:
        raise RuntimeError("numba is not installed")
    key = (name, parallel)
    fn = _compiled.get(key)
    if fn is not None:
        return fn
    py = {"matmul_seq": _matmul_seq, "matmul_pairwise": _matmul_pairwise,
          "colsum_seq": _colsum_seq, "colsum_pairwise": _colsum_pairwise}[name]
    par = parallel and name.startswith("matmul")
    fn = njit(parallel=par, fastmath=False, cache=True)(py)
    _compiled[key] = fn
    return fn


def matmul(A: np.ndarray, B: np.ndarray, order: str, threads: int = 1) -> np.ndarray:
    """A (M, K) @ B (K, N) in binary32 with the given order; K >= 1."""
    A = np.ascontiguousarray(A, dtype=np.float32)
    B = np.ascontiguousarray(B, dtype=np.float32)
    M, K = A.shape
    N = B.shape[1]
    C = np.empty((M, N), np.float32)
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    par = threads > 1
    if par:
        numba.set_num_threads(threads)
    if order == "sequential":
        get("matmul_seq", par)(A, B, C, KBLOCK)
    else:
        levels = max(int(K).bit_length(), 1) + 1
        S = np.empty((M, levels, N), np.float32)
        T = np.empty((M, N), np.float32)
        get("matmul_pairwise", par)(A, B, C, S, T)
    return C


def colsum(X: np.ndarray, order: str) -> np.ndarray:
    """Sum over axis 0 of X (K, R), K >= 1, in binary32 with the given order."""
    X = np.array(X, dtype=np.float32, order="C", copy=True if order == "pairwise" else None)
    out = np.empty(X.shape[1], np.float32)
    get("colsum_seq" if order == "sequential" else "colsum_pairwise")(X, out)
    return out
