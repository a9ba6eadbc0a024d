"""A fast batched bound engine for chain ReLU networks, used inside branch and bound.

Branch and bound bounds thousands of sub-problems; the generic interpreter of
:mod:`certnn.bounds.crown` walks the op table node by node and is built for a
handful of examples. For networks that are a chain ``affine -> relu -> ... ->
affine`` (ACAS Xu, mnist_fc, the VNN-COMP test nets) this module extracts the
layer matrices once (:func:`extract_chain`, checked numerically against the
graph) and bounds many sub-problems per call in float64 with NumPy:

* every sub-problem is a box ``lo <= x <= hi`` plus a ReLU split state per
  hidden neuron (+1: z >= 0, -1: z <= 0, 0: free) and optional known
  pre-activation bounds that are intersected in (a parent's bounds are valid
  for its children);
* intermediate bounds: CROWN, layer by layer (adaptive lower slopes), with the
  split intervals intersected in; a sub-problem whose bounds become empty
  (l > u) is infeasible and proves nothing false;
* spec rows: CROWN with optimizable lower slopes alpha in [0, 1] and, for split
  neurons, beta-CROWN's Lagrange multipliers: on the sub-domain ``s z >= 0``,
  so for beta >= 0, ``c.y >= c.y - beta s z`` and the min of the right-hand side
  over the relaxation is a valid lower bound for every beta. Both are optimized
  by projected Adam (beta-CROWN, Wang et al. 2021); the gradients come from a
  forward walk that reverses the backward sweep (:func:`_bound_grads`).

The numbers are plain float64 (evidence ``computed``, like certnn.bounds);
input-split and ReLU-split leaves are re-derived soundly by the independent
checker when a certificate is written (:mod:`certnn.verify.bab_certificate`). Soundness is tested against dense sampling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CertnnError
from ..ir.passes import unfuse

DT = np.float64


class NotAChain(CertnnError):
    """The graph is not a chain of affine maps and ReLUs."""


@dataclass
class ChainMLP:
    """Hidden pre-activations z_j = W_j a_{j-1} + b_j with a_j = relu(z_j) and
    a_{-1} = the flattened input, for j = 0 .. hidden-1; the output is
    y = W_hidden a_{hidden-1} + b_hidden."""
    weights: list                       # float64 (n_i, n_{i-1})
    biases: list                        # float64 (n_i,)
    relu_inputs: list = field(default_factory=list)   # graph node id of each hidden pre-activation
    in_shape: tuple = ()

    @property
    def hidden(self) -> int:
        return len(self.weights) - 1

    @property
    def widths(self) -> list:
        return [w.shape[0] for w in self.weights[:-1]]

    def cast(self, dtype) -> "ChainMLP":
        """The same layers in ``dtype`` (cached): float32 for a faster search whose
        final bounds are recomputed in float64."""
        if np.dtype(dtype) == np.float64:
            return self
        cache = self.__dict__.setdefault("_casts", {})
        key = np.dtype(dtype).str
        if key not in cache:
            cache[key] = ChainMLP([w.astype(dtype) for w in self.weights], [b.astype(dtype) for b in self.biases],
                                  self.relu_inputs, self.in_shape)
        return cache[key]

    def forward(self, x: np.ndarray) -> np.ndarray:
        a = np.asarray(x, np.float64).reshape(len(x), -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = a @ w.T + b
            if i < self.hidden:
                a = np.maximum(a, 0)
        return a


def extract_chain(graph) -> ChainMLP:
    """The layer matrices of a chain network (composing consecutive affine ops:
    sub/add of a constant, neg, flatten/reshape, linear, matmul by a constant).
    Raises NotAChain otherwise; the result is checked against the graph on random
    inputs (catches any structural misreading)."""
    from ..bounds.net import analyze
    g = unfuse(graph)
    net = analyze(g)
    if net.shape(net.input) is None or any(d is None for d in net.shape(net.input)):
        raise NotAChain("the input shape is not static")
    d0 = net.size(net.input)
    M, c = np.eye(d0), np.zeros(d0)
    Ws, bs, relus = [], [], []
    prev = net.input
    for nid in net.order[1:]:
        n = net.nodes[nid]
        var_in = [i for i in n.inputs if i in net.var]
        if var_in != [prev] or n.inputs.count(prev) != 1:
            raise NotAChain(f"node '{nid}' ({n.op}) does not continue a single chain")
        consts = [net.const(i) for i in n.inputs if i not in net.var]
        pe = net.shape(nid)
        if n.op in ("flatten", "reshape"):
            pass
        elif n.op in ("add", "sub") and len(consts) == 1:
            k = consts[0]
            k = k[0] if k.ndim == len(pe) + 1 and k.shape[0] == 1 else k
            k = np.broadcast_to(k, pe).reshape(-1)
            if n.op == "add":
                c = c + k
            elif n.inputs[0] == prev:
                c = c - k
            else:
                M, c = -M, k - c
        elif n.op == "neg":
            M, c = -M, -c
        elif n.op == "linear":
            W = consts[0]
            b = consts[1] if len(consts) > 1 else np.zeros(W.shape[0])
            if W.ndim != 2 or len(pe) != 1:
                raise NotAChain(f"node '{nid}': linear on a non-flat value")
            M, c = W @ M, W @ c + b
        elif n.op == "matmul" and n.inputs[0] == prev and len(consts) == 1 and consts[0].ndim == 2 and len(pe) == 1:
            B = consts[0]
            M, c = B.T @ M, B.T @ c
        elif n.op == "relu":
            Ws.append(M)
            bs.append(c)
            relus.append(n.inputs[0])
            M, c = np.eye(len(c)), np.zeros(len(c))
        else:
            raise NotAChain(f"node '{nid}': op {n.op} is not part of an affine/relu chain")
        if M.shape[0] != int(np.prod(pe)):
            raise NotAChain(f"node '{nid}': size {M.shape[0]} does not match its shape {pe}")
        prev = nid
    if prev != net.output:
        raise NotAChain("the chain does not end at the graph output")
    Ws.append(M)
    bs.append(c)
    mlp = ChainMLP([np.ascontiguousarray(w, DT) for w in Ws], [np.ascontiguousarray(b, DT) for b in bs],
                   relus, tuple(net.shape(net.input)))
    _check_against_graph(mlp, graph)
    return mlp


def _check_against_graph(mlp: ChainMLP, graph) -> None:
    from ..ir.run import run
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4,) + mlp.in_shape)
    y = np.asarray(run(graph, x, semantics="real"), np.float64).reshape(4, -1)
    y2 = mlp.forward(x)
    if y.shape != y2.shape or not np.allclose(y, y2, rtol=1e-9, atol=1e-9 * (1 + np.abs(y).max())):
        raise NotAChain("the extracted layers do not reproduce the graph's outputs")


# ----------------------------------------------------------------------------- bounding

def _a(x) -> np.ndarray:
    return np.asarray(x, DT)


def _mm(lam: np.ndarray, W: np.ndarray) -> np.ndarray:
    """lam (N, K, n) @ W (n, m) as one BLAS call (numpy loops over stacked matmuls)."""
    N, K, n = lam.shape
    return (lam.reshape(N * K, n) @ W).reshape(N, K, *W.shape[1:])


def _concretize(lam, bias, lo, hi):
    """min over the box [lo, hi] (N, d) of lam.x + bias, lam (N, K, d)."""
    ctr, rad = (hi + lo) / 2, (hi - lo) / 2
    return bias + (lam @ ctr[:, :, None])[..., 0] - (np.abs(lam) @ rad[:, :, None])[..., 0]


def _relax(l, u, split):
    """Per neuron: upper line slope/intercept, lower slope default, masks (all (N, n))."""
    act = (l >= 0) | (split > 0)
    dead = ((u <= 0) | (split < 0)) & ~act
    unst = ~(act | dead)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(unst, u / np.where(unst, u - l, 1.0), act.astype(l.dtype))
        t = np.where(unst, -s * l, 0.0)
    return s, t, act, unst


def _backward(mlp, layer, lam, bias, bounds, splits, alphas=None, betas=None, keep=None, trace=None):
    """Backward from coefficients ``lam`` (N, K, n_layer) on z_layer (the pre-activation
    of hidden layer ``layer``, or the output when layer == hidden) down to the input.
    ``keep[j]``: what the upper line costs each row; ``trace[j]``: what
    :func:`_bound_grads` needs to walk back up."""
    for i in range(layer, 0, -1):
        # through the affine map z_i = W_i a_{i-1} + b_i
        bias = bias + _mm(lam, mlp.biases[i][:, None])[..., 0]
        mu = _mm(lam, mlp.weights[i])                  # coefficients on a_{i-1} = relu(z_{i-1})
        j = i - 1
        l, u = bounds[j]
        s, t, act, unst = _relax(l, u, splits[j])
        if alphas is not None:
            low = np.where(unst[:, None], alphas[j], act[:, None])
        else:
            low = np.where(unst, (u > -l), act).astype(l.dtype)[:, None]
        neg = mu < 0
        # the upper line where the coefficient is negative, the lower one elsewhere
        coef = np.where(neg, s[:, None], low)
        ln = np.minimum(mu, 0)
        if keep is not None:
            keep[j] = ln * t[:, None]
            bias = bias + keep[j].sum(-1)
        else:
            bias = bias + (ln @ t[:, :, None])[..., 0]
        if trace is not None:
            trace[j] = (mu, coef, neg, t, unst)
        lam = mu * coef
        if betas is not None:
            lam -= betas[j] * splits[j][:, None]
    bias = bias + _mm(lam, mlp.biases[0][:, None])[..., 0]
    return _mm(lam, mlp.weights[0]), bias              # coefficients on x


def _bound_grads(mlp, layer, lam_x, lo, hi, splits, trace, weight, want_beta: bool):
    """Gradients of sum(weight * bound) with respect to the lower slopes (on unstable
    neurons; zero elsewhere) and the split multipliers of layers < ``layer``: the
    backward sweep of :func:`_backward` walked forward. ``weight`` (N, K) is the
    derivative of the objective with respect to each row's bound (None: all ones)."""
    ctr, rad = (hi + lo) / 2, (hi - lo) / 2
    # d bound / d lam_x: the box corner that minimizes lam_x . x
    gx = ctr[:, None] - np.sign(lam_x) * rad[:, None]
    if weight is not None:
        gx *= weight[..., None]
    w3 = 1.0 if weight is None else weight[..., None]
    G = _mm(gx, mlp.weights[0].T) + w3 * mlp.biases[0]                     # d / d lam_0
    d_alpha, d_beta = [None] * layer, [None] * layer
    for j in range(layer):
        mu, coef, neg, t, unst = trace[j]
        # lam_j = mu coef - beta s_j, coef = s (mu < 0) or the lower slope; bias += min(mu, 0) t
        d_alpha[j] = np.where(unst[:, None], G * np.maximum(mu, 0), 0.0)
        if want_beta:
            d_beta[j] = -G * splits[j][:, None]
        G *= coef                                                              # d / d mu_j
        G += neg * (w3 * t[:, None])
        if j + 1 < layer:
            G = _mm(G, mlp.weights[j + 1].T) + w3 * mlp.biases[j + 1]
    return d_alpha, d_beta


class _Adam:
    """Projected Adam that maximizes (the torch.optim.Adam defaults: betas 0.9/0.999, eps 1e-8)."""

    def __init__(self, params, lrs, lows, highs):
        self.params, self.lrs, self.lows, self.highs = params, lrs, lows, highs
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.k = 0

    def step(self, grads):
        self.k += 1
        c1, c2 = 1 - 0.9 ** self.k, 1 - 0.999 ** self.k
        for i, g in enumerate(grads):
            m, v = self.m[i], self.v[i]
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            g = g * g
            g *= 0.001
            v += g
            den = np.sqrt(v / c2)
            den += 1e-8
            step = m * (self.lrs[i] / c1)
            step /= den
            p = self.params[i] + step        # a new array: callers may hold the old one
            self.params[i] = np.clip(p, self.lows[i], self.highs[i], out=p)

    def take(self, keep) -> None:
        """Keep only the rows ``keep`` (first axis) of every parameter and its moments."""
        for xs in (self.params, self.m, self.v):
            xs[:] = [x[keep] for x in xs]


def open_rows(open_: np.ndarray):
    """CROWN rows for the open neurons (N, n) bool of each sub-problem: the open
    ones first, padded with inert zero rows to the largest count U. Returns
    (idx (N, U), valid (N, U), lam0 (N, 2U, n): lower rows then upper rows)."""
    N, n = open_.shape
    counts = open_.sum(1)
    U = int(counts.max()) if N else 0
    idx = np.argsort(~open_, axis=1, kind="stable")[:, :U]
    valid = np.arange(U)[None] < counts[:, None]
    rows = np.zeros((N, U, n))
    np.put_along_axis(rows, idx[..., None], valid[..., None].astype(DT), axis=2)
    return idx, valid, np.concatenate([rows, -rows], 1)


def intermediate_bounds(mlp: ChainMLP, lo, hi, splits, known=None, alpha_iters: int = 0, lr: float = 0.25,
                        deadline: float | None = None):
    """CROWN bounds (l_j, u_j) of every hidden pre-activation, for N sub-problems:
    boxes lo/hi (N, d), ``splits`` list of (N, n_j) int8 sign constraints (+1: z >= 0,
    -1: z <= 0; also used for neurons known to be stable), ``known`` optional list of
    valid (l, u) to intersect with. Returns (bounds, infeasible (N,)).

    Only *open* neurons get a CROWN row (sign 0 and, with ``known``, unstable
    there): the relaxation of a neuron of known sign does not depend on its
    bounds, and deep in a split tree most neurons have one, which makes the
    sweep several times cheaper. A neuron of known sign without ``known`` bounds
    gets the half-line its sign allows. ``alpha_iters`` > 0: alpha-CROWN, the lower
    slopes of the earlier layers optimized per row by projected Adam (best value
    per row kept; every iterate is a valid bound). ``deadline`` (``time.monotonic()``):
    checked between layers; returns (None, None) once it has passed."""
    lo, hi = _a(lo), _a(hi)
    splits = [np.asarray(s, np.int8) for s in splits]
    N = lo.shape[0]
    bounds = []
    infeasible = np.zeros(N, bool)
    for j in range(mlp.hidden):
        if deadline is not None and time.monotonic() > deadline:
            return None, None
        n = mlp.widths[j]
        sp = splits[j]
        if j == 0:   # exact for an affine function of the box, and cheap
            W, b = mlp.weights[0], mlp.biases[0]
            ctr, rad = (hi + lo) / 2, (hi - lo) / 2
            mid, r = ctr @ W.T + b, rad @ np.abs(W).T
            l, u = mid - r, mid + r
            if known is not None:
                l, u = np.maximum(l, _a(known[j][0])), np.minimum(u, _a(known[j][1]))
        else:
            open_ = sp == 0
            if known is not None:
                l, u = _a(known[j][0]).copy(), _a(known[j][1]).copy()
                open_ &= (l < 0) & (u > 0)
            else:
                l = np.full((N, n), -np.inf)
                u = np.full((N, n), np.inf)
            idx, valid, lam0 = open_rows(open_)
            U = idx.shape[1]
            if U:
                lam, bias = _backward(mlp, j, lam0, np.zeros((N, 2 * U)), bounds, splits)
                val = _concretize(lam, bias, lo, hi)
                if alpha_iters > 0:
                    val = np.maximum(val, _optimize_rows(mlp, j, lam0, bounds, splits, lo, hi, alpha_iters, lr))
                old_l, old_u = np.take_along_axis(l, idx, 1), np.take_along_axis(u, idx, 1)
                new_l = np.where(valid, np.maximum(val[:, :U], old_l), old_l)
                new_u = np.where(valid, np.minimum(-val[:, U:], old_u), old_u)
                np.put_along_axis(l, idx, new_l, 1)
                np.put_along_axis(u, idx, new_u, 1)
        l = np.where(sp > 0, np.maximum(l, 0), l)
        u = np.where(sp < 0, np.minimum(u, 0), u)
        infeasible |= (l > u).any(axis=1)
        bounds.append((l, u))
    return bounds, infeasible


def _default_alphas(bounds, N, K):
    return [np.broadcast_to(np.where(u > -l, 1.0, 0.0)[:, None], (N, K, l.shape[1])).copy() for l, u in bounds]


def _optimize_rows(mlp, j, lam0, bounds, splits, lo, hi, iters, lr):
    """alpha-CROWN for the rows ``lam0`` on z_j: the best lower bound per row."""
    N, K = lam0.shape[:2]
    opt = _Adam(_default_alphas(bounds[:j], N, K), [lr] * j, [0.0] * j, [1.0] * j)
    best = np.full((N, K), -np.inf)
    for _ in range(iters):
        trace = [None] * j
        lam, bias = _backward(mlp, j, lam0, np.zeros((N, K)), bounds, splits, opt.params, trace=trace)
        best = np.maximum(best, _concretize(lam, bias, lo, hi))
        d_alpha, _ = _bound_grads(mlp, j, lam, lo, hi, splits, trace, None, False)
        opt.step(d_alpha)
    return best


def signs(bounds, splits):
    """Per layer int8: +1 / -1 where the neuron's sign is known (split or stable), else 0."""
    out = []
    for (l, u), sp in zip(bounds, splits):
        s = np.where(l >= 0, 1, np.where(u <= 0, -1, 0)).astype(np.int8)
        out.append(np.where(sp != 0, sp, s).astype(np.int8))
    return out


@dataclass
class SpecBound:
    lb: np.ndarray              # (N, K) lower bounds of C y + d
    lam_x: np.ndarray           # (N, K, d) coefficients on the input (for input-split scores)
    cost: list                  # per hidden layer (N, K, n_j): upper-line cost (for relu-split scores)
    alphas: list | None = None
    betas: list | None = None


def spec_bounds(mlp: ChainMLP, lo, hi, C, d, bounds, splits, alphas=None, betas=None) -> SpecBound:
    """Lower bounds of the rows C y + d (C (N, K, out), d (N, K)) over each sub-problem."""
    lo, hi, C, d = _a(lo), _a(hi), _a(C), _a(d)
    splits = [np.asarray(s, np.int8) for s in splits]
    keep = [None] * mlp.hidden
    lam, bias = _backward(mlp, mlp.hidden, C, d, bounds, splits, alphas, betas, keep)
    return SpecBound(_concretize(lam, bias, lo, hi), lam, keep, alphas, betas)


def optimized_spec_bounds(mlp: ChainMLP, lo, hi, C, d, bounds, splits, iters: int = 20,
                          lr_alpha: float = 0.1, lr_beta: float = 0.05, init_alphas=None,
                          init_betas=None, use_beta: bool = True, drop_proved: bool = False,
                          search_dtype=DT, deadline: float | None = None) -> SpecBound:
    """alpha(-beta)-CROWN on the spec rows: projected Adam on the lower slopes and the
    split multipliers, keeping the best bound seen per row (every iterate is valid).
    ``drop_proved``: a sub-problem whose every row is positive stops being optimized
    (the batch is compacted once an eighth of it is done), for callers that only
    need to know that a row is positive, not how far. ``search_dtype`` float32: the
    iterations run in float32 (about twice as fast); the bounds returned are
    recomputed in float64 at the best slopes and multipliers found, so they are
    as sound as a float64 search's (and may differ from its in the last digits).
    ``deadline`` (``time.monotonic()``): no step starts after it (the bounds so far
    are returned; every iterate is valid)."""
    if np.dtype(search_dtype) != DT:
        f = np.dtype(search_dtype)
        low = optimized_spec_bounds(mlp.cast(f), *(np.asarray(x, f) for x in (lo, hi, C, d)),
                                    [(np.asarray(lw, f), np.asarray(up, f)) for lw, up in bounds], splits, iters,
                                    lr_alpha, lr_beta, init_alphas, init_betas, use_beta, drop_proved,
                                    deadline=deadline)
        return spec_bounds(mlp, lo, hi, C, d, bounds, splits, [a.astype(DT) for a in low.alphas],
                           None if low.betas is None else [b.astype(DT) for b in low.betas])
    dt = mlp.weights[0].dtype           # float64, or float32 inside a float32 search
    lo, hi, C, d = (np.asarray(x, dt) for x in (lo, hi, C, d))
    splits = [np.asarray(s, np.int8) for s in splits]
    N, K = d.shape
    H = mlp.hidden
    alphas = [np.array(a, dt) for a in (init_alphas if init_alphas is not None else _default_alphas(bounds, N, K))]
    betas = None
    if use_beta and any(bool((s != 0).any()) for s in splits):
        betas = ([np.zeros((N, K, s.shape[1]), dt) for s in splits] if init_betas is None
                 else [np.array(b, dt) for b in init_betas])
    params, lrs = list(alphas), [lr_alpha] * H
    lows, highs = [0.0] * H, [1.0] * H
    if betas is not None:
        params, lrs, lows, highs = params + betas, lrs + [lr_beta] * H, lows + [0.0] * H, highs + [np.inf] * H
    opt = _Adam(params, lrs, lows, highs)
    best = final = None
    idx = np.arange(N)                  # the rows still optimized (drop_proved)
    for it in range(max(iters, 1)):
        alphas, betas = opt.params[:H], (opt.params[H:] if betas is not None else None)
        keep, trace = [None] * H, [None] * H
        lam, bias = _backward(mlp, H, C, d, bounds, splits, alphas, betas, keep, trace)
        val = _concretize(lam, bias, lo, hi)
        if best is None:
            best = SpecBound(val, lam, keep, list(alphas), None if betas is None else list(betas))
        else:
            better = val > best.lb
            if better.any():
                b3 = better[..., None]
                best.lb = np.where(better, val, best.lb)
                best.lam_x = np.where(b3, lam, best.lam_x)
                for j in range(H):
                    best.cost[j] = np.where(b3, keep[j], best.cost[j])
                    best.alphas[j] = np.where(b3, alphas[j], best.alphas[j])
                    if betas is not None:
                        best.betas[j] = np.where(b3, betas[j], best.betas[j])
        if it == iters - 1 or iters <= 0 or (deadline is not None and time.monotonic() > deadline):
            break
        done = (best.lb > 0).all(axis=1) if drop_proved else None
        if drop_proved and done.all():
            break
        # only rows that are not yet proved need pushing up
        weight = (val <= 1e-3).astype(dt)
        d_alpha, d_beta = _bound_grads(mlp, H, lam, lo, hi, splits, trace, weight, betas is not None)
        opt.step(d_alpha + (d_beta if betas is not None else []))
        if drop_proved and done.sum() >= max(1, len(done) // 8):
            # the other rows' iterates are unchanged: every row's steps are its own
            final = _store(final, best, idx, N)
            rest = np.flatnonzero(~done)
            idx, best = idx[rest], _take_bound(best, rest)
            lo, hi, C, d = lo[rest], hi[rest], C[rest], d[rest]
            bounds = [(lw[rest], up[rest]) for lw, up in bounds]
            splits = [sp[rest] for sp in splits]
            opt.take(rest)
    return best if final is None else _store(final, best, idx, N)


def _take_bound(b: SpecBound, keep) -> SpecBound:
    sub = lambda xs: None if xs is None else [x[keep] for x in xs]   # noqa: E731
    return SpecBound(b.lb[keep], b.lam_x[keep], sub(b.cost), sub(b.alphas), sub(b.betas))


def _store(final: SpecBound | None, b: SpecBound, idx, N: int) -> SpecBound:
    """Write the rows ``idx`` of a full-size (N) result from the compacted ``b``."""
    if final is None:
        full = lambda x: np.zeros((N,) + x.shape[1:], x.dtype)   # noqa: E731
        many = lambda xs: None if xs is None else [full(x) for x in xs]   # noqa: E731
        final = SpecBound(full(b.lb), full(b.lam_x), many(b.cost), many(b.alphas), many(b.betas))
    final.lb[idx], final.lam_x[idx] = b.lb, b.lam_x
    for name in ("cost", "alphas", "betas"):
        dst, src = getattr(final, name), getattr(b, name)
        for j in range(len(src or ())):
            dst[j][idx] = src[j]
    return final
