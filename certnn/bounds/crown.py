"""CROWN-family bounds: backward linear bound propagation over the op table.

For coefficient rows ``A`` on a node, one backward sweep turns ``min A.y`` into
``min A_in.x + bias`` over the input region (then concretized in closed form):

* an affine node passes ``A`` through its ``vjp`` rule (the transpose of its
  linear part) and adds ``<A, f(0)>``;
* a relaxed elementwise node (``lw x + lb <= f(x) <= uw x + ub`` on its input
  bounds) passes ``max(A,0) lw + min(A,0) uw`` and adds the matching intercepts;
* an ``interval`` node adds ``max(A,0) l_y + min(A,0) u_y`` (its IBP box).

Upper bounds are lower bounds of ``-A``: both directions run as one sweep with
the rows stacked. Intermediate bounds (inputs of relaxed nodes) come from CROWN
itself, node by node in topological order (``method="crown"``), or from IBP
(``"crown-ibp"``); nodes that are affine in the input are bounded exactly from
their Jacobian. ``"same-slope"`` uses the upper slope for the lower ReLU line too.

alpha-CROWN optimizes the free parameters of the relaxations (lower slopes of
relu, leaky_relu and abs; tangent points of sigmoid and tanh) by projected Adam
steps. The gradient of a bound w.r.t. the slopes is the reverse of the
sweep: through an affine node that reverse is the node's own ``real`` rule (the
adjoint of a transpose is the forward map, and the constant term comes along),
so it is a forward evaluation of the network on the concretization's gradient,
with relaxed nodes replaced by their chosen lines. Slopes are optimized per
target (each intermediate node, then the spec rows) and the best bound seen
per row is kept, so alpha-CROWN is never looser than CROWN.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import CertnnError
from ..ops import get_op
from ..ops.relax import ALPHA, ALPHA_OPS
from .ibp import node_bounds
from . import window
from .net import Net, analyze, chain_image, check_region, exact_chain, prefix_bounds
from ..spec.region import Region
from .options import ALPHA_MODES
from .result import Bounds, no_nan
from ..spec.linear import LinearSpec

METHODS = ("crown", "crown-ibp", "same-slope", "alpha-crown")
# back-substitution runs each affine op's vjp (its transpose: adjoint/*) and the
# relaxation lines of the activations (relax/*) and the McCormick planes of
# products of two variable inputs (planes/*): the theorems of `certnn prove`
THEOREMS_USED = ("adjoint/*", "relax/*", "planes/*")


def _relaxation(net: Net, nid: str, bounds: dict, alpha, mode: str, cache: dict | None = None):
    n = net.nodes[nid]
    l, u = bounds[n.inputs[0]]
    op = get_op(n.op)
    if cache is not None and n.op == "relu" and mode == "adaptive":
        return _cached_relu(cache, nid, op, l, u, alpha)
    if alpha is not None and n.op in ALPHA_OPS:
        return op.relax(l[:, None], u[:, None], alpha=alpha, mode=mode, **n.attrs)
    return tuple(x[:, None] for x in op.relax(l, u, mode=mode, **n.attrs))


def _cached_relu(cache: dict, nid: str, op, l, u, alpha):
    """A relu's lines on fixed bounds, for the many sweeps of one optimization:
    the upper line and the stable neurons' lines do not depend on alpha, so they
    are computed once; per sweep only the unstable neurons' lower slopes change
    (``clip(alpha, 0, 1)``, what the relu rule takes with alpha). Also keeps the
    unstable neurons' flat indices for :func:`_relax_step`."""
    if nid not in cache:
        free = (l < 0) & (u > 0)
        S = free[0].size
        open_ = np.flatnonzero(np.any(free.reshape(-1, S), axis=0))
        # stable everywhere outside open_: the rule's lines there are x (l >= 0) or
        # 0; the rule itself runs on the open neurons alone, in the bounds' precision
        uw = (l >= 0).astype(l.dtype).reshape(l.shape[0], S)
        lw, lb, ub = uw.copy(), np.zeros_like(uw), np.zeros_like(uw)
        if open_.size:
            f = lambda x: x.reshape(x.shape[0], S)[:, open_]  # noqa: E731
            for full, part in zip((lw, lb, uw, ub), op.relax(f(l), f(u), mode="adaptive")):
                full[:, open_] = part
        cache[nid] = tuple(x.reshape(l.shape)[:, None] for x in (lw, lb, uw, ub)) + \
            (free[:, None], open_)
    lw, lb, uw, ub, free, _ = cache[nid]
    if alpha is not None:
        lw = np.where(free, np.clip(alpha, 0.0, 1.0), lw)
    return lw, lb, uw, ub


def _planes(net: Net, nid: str, bounds: dict):
    """The linear functions bounding a ``planes`` node on its inputs' bounds."""
    from .net import planes_rule
    n = net.nodes[nid]
    los = [bounds[i][0] if i in net.var else net.const(i) for i in n.inputs]
    his = [bounds[i][1] if i in net.var else net.const(i) for i in n.inputs]
    return planes_rule(n.op)(los, his, tuple(i in net.var for i in n.inputs), **n.attrs)


def backward(net: Net, target: str, A0: np.ndarray, bounds: dict, alphas: dict | None = None,
             mode: str = "adaptive", keep: bool = False, extra: dict | None = None, cache: dict | None = None):
    """One backward sweep from ``target`` with rows ``A0`` (N, K, *shape).
    ``extra`` adds coefficients (N, K, *shape) on earlier nodes (beta-CROWN's
    split terms ``-beta s z``): the bound is then of ``A0 . target + sum extra . z``.
    ``cache``: a dict kept by the caller across sweeps over the same ``bounds``
    (the relus' alpha-free parts are computed once, see :func:`_cached_relu`).
    Returns (A on the input (N, K, *in_shape), bias (N, K), saved) where ``saved``
    (when ``keep``) holds what the slope gradient needs per relaxed node."""
    N, K = A0.shape[:2]
    acc = {target: A0}
    for z, e in (extra or {}).items():
        acc[z] = acc[z] + e if z in acc else e
    bias = np.zeros((N, K), net.dtype)
    saved = {}
    idx = net.order.index(target)
    for nid in reversed(net.order[:idx + 1]):
        a = acc.pop(nid, None)
        if a is None or nid == net.input:
            if nid == net.input:
                acc[nid] = a
            continue
        kind = net.kind[nid]
        n = net.nodes[nid]
        red = tuple(range(2, a.ndim))
        if kind == "affine":
            f0 = net.f0(nid)
            if np.any(f0):                  # (N, K, S) @ (S,): one pass, no temporary
                bias += a.reshape(N, K, -1) @ np.broadcast_to(f0, (1,) + a.shape[2:]).reshape(-1)
            flat = a.reshape((N * K,) + a.shape[2:])
            for i, c in zip([n.inputs[p] for p in net.var_inputs(nid)], net.transpose(nid, flat)):
                c = c.reshape((N, K) + c.shape[1:])
                acc[i] = c if i not in acc else acc[i] + c
        elif kind == "relax":
            alpha = None if alphas is None else alphas.get(nid)
            lw, lb, uw, ub = _relaxation(net, nid, bounds, alpha, mode, cache)
            c = _relax_step(a, lw, lb, uw, ub, bias, None if cache is None or nid not in cache else cache[nid][5])
            if keep:
                saved[nid] = (a, alpha, lw, lb, uw, ub)
            i = n.inputs[0]
            acc[i] = c if i not in acc else acc[i] + c
        elif kind == "planes":
            planes = _planes(net, nid, bounds)
            cs, b = planes.back(a)
            bias += b
            if keep:
                saved[nid] = (a, planes)
            for i, c in zip([n.inputs[p] for p in net.var_inputs(nid)], cs):
                acc[i] = c if i not in acc else acc[i] + c
        else:  # interval: constant relaxation from the node's own bounds
            yl, yu = bounds[nid]
            bias += np.sum(np.maximum(a, 0) * yl[:, None] + np.minimum(a, 0) * yu[:, None], axis=red)
    a_in = acc.get(net.input)
    if a_in is None:
        a_in = np.zeros((N, K) + net.shape(net.input), net.dtype)
    return a_in, bias, saved


def _relax_step(a: np.ndarray, lw, lb, uw, ub, bias: np.ndarray, open_=None) -> np.ndarray:
    """Coefficients through a relaxed elementwise node, ``max(a,0) lw + min(a,0) uw``,
    adding ``max(a,0) lb + min(a,0) ub`` to ``bias`` (N, K). Neurons whose two
    lines coincide (a relu's stable ones: most of a deep layer) take ``a uw`` and
    ``a ub``; only the others (``open_``, flat indices: any superset of them
    will do) are split by sign."""
    N, K = a.shape[:2]
    S = a[0, 0].size
    f = lambda x: x.reshape(x.shape[:2] + (S,))  # noqa: E731
    a2, lw2, lb2, uw2, ub2 = f(a), f(lw), f(lb), f(uw), f(ub)
    if open_ is None:
        open_ = np.flatnonzero(np.any(((lw2 != uw2) | (lb2 != ub2)).reshape(-1, S), axis=0))
    if open_.size > S // 2:
        ap, am = np.maximum(a2, 0), np.minimum(a2, 0)
        bias += np.sum(ap * lb2 + am * ub2, axis=2)
        return (ap * lw2 + am * uw2).reshape(a.shape)
    c = a2 * uw2
    closed_ub = np.array(ub2)
    closed_ub[:, :, open_] = 0.0
    if np.any(closed_ub):
        bias += np.einsum("nks,nks->nk", a2, np.broadcast_to(closed_ub, a2.shape))
    if open_.size:
        ao = a2[:, :, open_]
        ap, am = np.maximum(ao, 0), np.minimum(ao, 0)
        pick = lambda x: x[:, :, open_]  # noqa: E731
        c[:, :, open_] = ap * pick(lw2) + am * pick(uw2)
        bias += np.sum(ap * pick(lb2) + am * pick(ub2), axis=2)
    return c.reshape(a.shape)


def _target_rows(net: Net, nid: str, N: int) -> np.ndarray:
    k = net.size(nid)
    return _unit_rows(np.arange(k), k, net.shape(nid), N)


def _split(res: np.ndarray, nid_shape: tuple):
    k = res.shape[1] // 2
    n = res.shape[0]
    return res[:, :k].reshape((n,) + nid_shape), -res[:, k:].reshape((n,) + nid_shape)


def _optimize(net: Net, target: str, A0: np.ndarray, bounds: dict, region: Region, mode: str,
              iters: int, lr: float, stop: float | None = None):
    """Projected Adam on the relaxations' free parameters (``ALPHA``) for the rows
    A0; returns the best row lower bounds and the parameters that give them.
    Past ``stop`` (``time.monotonic()``) no further step is taken (every iterate
    is a valid bound)."""
    N, K = A0.shape[:2]
    # start from CROWN's parameters, for the nodes this target's sweep actually reaches
    _, _, saved = backward(net, target, A0, bounds, None, mode, keep=True)
    alphas, box = {}, {}
    for k, v in saved.items():
        n = net.nodes[k]
        if n.op in ALPHA_OPS:
            l, u = (b[:, None] for b in bounds[n.inputs[0]])
            alphas[k] = ALPHA[n.op].init(l, u, v[0].shape, mode, **n.attrs)
            box[k] = ALPHA[n.op].bounds(l, u, **n.attrs)
    best = None
    best_alpha = {k: v.copy() for k, v in alphas.items()}
    m = {k: np.zeros_like(v) for k, v in alphas.items()}
    v2 = {k: np.zeros_like(v) for k, v in alphas.items()}
    for it in range(iters + 1):
        a_in, bias, saved = backward(net, target, A0, bounds, alphas, mode, keep=True)
        val = region.concretize_lower(a_in, bias)
        if best is None:
            best = val.copy()
        else:
            better = val > best
            best = np.where(better, val, best)
            for k in alphas:
                best_alpha[k][better] = alphas[k][better]
        if it == iters or not alphas or (stop is not None and time.monotonic() > stop):
            break
        grads = _slope_grads(net, target, a_in, region, saved, bounds)
        for k in alphas:
            g = grads.get(k)
            if g is None:
                continue
            m[k] = 0.9 * m[k] + 0.1 * g
            v2[k] = 0.999 * v2[k] + 0.001 * g * g
            step = lr * (m[k] / (1 - 0.9 ** (it + 1))) / (np.sqrt(v2[k] / (1 - 0.999 ** (it + 1))) + 1e-8)
            alphas[k] = np.clip(alphas[k] + step, *box[k])  # ascent: maximize the lower bound
    return best, best_alpha


def _optimize_rows(net: Net, target: str, A0: np.ndarray, bounds: dict, region: Region, iters: int, lr: float,
                   stop: float | None = None):
    """:func:`_optimize` by the search's optimizer (:func:`certnn.bounds.split.split_bounds`
    with no split): float32 steps on the relus' cached lines, the step decaying by
    0.98, early stop after 5 steps without gain, and the bound of one float64
    sweep at the best slopes (any slope in range is sound)."""
    from .split import split_bounds
    N, K = A0.shape[:2]
    sb = split_bounds(net, region, A0.reshape(N, K, -1), np.zeros((N, K)), bounds, {}, iters=iters, lr_alpha=lr,
                      scores=False, stop_positive=False, deadline=stop, work=np.float32, target=target)
    return sb.lb, sb.alphas


def _concretize_grad(region: Region, a_in: np.ndarray) -> np.ndarray:
    """d(min over region of a.x)/da: the minimizing x (a subgradient)."""
    N, K = a_in.shape[:2]
    a2 = a_in.reshape(N, K, -1)
    lo, hi = region.lo.reshape(N, 1, -1), region.hi.reshape(N, 1, -1)
    x = np.where(a2 >= 0, lo, hi)
    if region.norm in ("2", "1"):
        ctr = region.center.reshape(N, 1, -1)
        if region.norm == "2":
            nrm = np.linalg.norm(a2, axis=2, keepdims=True)
            xb = ctr - region.eps * a2 / np.maximum(nrm, 1e-300)
        else:
            j = np.argmax(np.abs(a2), axis=2)[..., None]
            xb = ctr.repeat(K, axis=1)
            np.put_along_axis(xb, j, np.take_along_axis(ctr.repeat(K, 1), j, 2)
                              - region.eps * np.sign(np.take_along_axis(a2, j, 2)), axis=2)
        box = np.einsum("nkd,nkd->nk", a2, x)
        ball = np.einsum("nkd,nkd->nk", a2, xb)
        x = np.where((ball > box)[..., None], xb, x)
    return x.reshape(a_in.shape)


def _slope_grads(net: Net, target: str, a_in: np.ndarray, region: Region, saved: dict, bounds: dict,
                 values: dict | None = None, cache: dict | None = None) -> dict:
    """Reverse of the backward sweep: G_n = dL/dA_n for every node, computed by a
    forward walk from the input (affine nodes: their real rule on the G of their
    inputs; relaxed nodes: their chosen lines; interval nodes: their box corner),
    and dL/dalpha = G_input-of-relu * max(A, 0). ``values``, when given, receives
    every G_n (the gradient of the bound with respect to extra coefficients on n).
    ``cache``: the sweep's (:func:`_cached_relu`); a relu found there works by sign
    only on the neurons unstable in some row (elsewhere its two lines coincide and
    its slope gradient is 0)."""
    N, K = a_in.shape[:2]
    G = {net.input: _concretize_grad(region, a_in).astype(net.dtype, copy=False)}
    grads = {}
    idx = net.order.index(target)
    for nid in net.order[1:idx + 1]:
        n = net.nodes[nid]
        kind = net.kind[nid]
        if kind == "affine":
            xs = [G[n.inputs[p]].reshape((N * K,) + G[n.inputs[p]].shape[2:]) for p in net.var_inputs(nid)]
            y = net.apply(nid, xs)
            G[nid] = y.reshape((N, K) + y.shape[1:])
        elif kind == "relax":
            if nid not in saved:  # not on a path to the target with nonzero rows
                G[nid] = np.zeros((N, K) + net.shape(nid), net.dtype)
                continue
            a, alpha, lw, lb, uw, ub = saved[nid]
            gi = G[n.inputs[0]]
            if cache is not None and nid in cache and n.op == "relu":
                G[nid], g = _relu_reverse(a, alpha, lw, lb, uw, ub, gi, *cache[nid][4:])
                if g is not None:
                    grads[nid] = g
                continue
            G[nid] = np.where(a > 0, gi * lw + lb, gi * uw + ub)
            if n.op in ALPHA_OPS and alpha is not None:
                l, u = (b[:, None] for b in bounds[n.inputs[0]])
                grads[nid] = ALPHA[n.op].grad(alpha, l, u, gi, np.maximum(a, 0), np.minimum(a, 0))
        elif kind == "planes":
            if nid not in saved:
                G[nid] = np.zeros((N, K) + net.shape(nid), net.dtype)
                continue
            a, planes = saved[nid]
            G[nid] = planes.forward([G[n.inputs[p]] for p in net.var_inputs(nid)], a)
        else:
            yl, yu = bounds[nid]
            G[nid] = np.zeros((N, K) + net.shape(nid)) + yl[:, None]  # corner: only the sign of A matters
    if values is not None:
        values.update(G)
    return grads




def _relu_reverse(a, alpha, lw, lb, uw, ub, gi, free, open_):
    """``_slope_grads``' step through a cached relu: outside the flat indices
    ``open_`` (a superset of the neurons unstable in some row, ``free``) both
    lines are the same, so G = gi uw + ub there and the slope gradient is 0."""
    S = a[0, 0].size
    f = lambda x: x.reshape(x.shape[:2] + (S,))  # noqa: E731
    out = gi * uw
    out += ub
    grad = None if alpha is None else np.zeros(a.shape, a.dtype)
    if open_.size:
        pick = lambda x: f(x)[:, :, open_]  # noqa: E731
        ao, go = pick(a), pick(gi)
        pos = ao > 0
        f(out)[:, :, open_] = np.where(pos, go * pick(lw) + pick(lb), go * pick(uw) + pick(ub))
        if grad is not None:
            f(grad)[:, :, open_] = np.where(pos & pick(free), go * ao, 0.0)
    return out, grad


def crown(graph, region: Region, spec: LinearSpec | None = None, method: str = "crown",
          iters: int = 20, lr: float = 0.1, lirpa_compat: bool = False, alpha_mode: str = "spec") -> Bounds:
    """Bounds on ``C y + d`` (or on ``y``) over ``region``. ``method``: crown,
    crown-ibp, same-slope or alpha-crown. ``alpha_mode`` (alpha-crown):
    ``"spec"`` optimizes only the output rows' slopes with CROWN's intermediate
    bounds fixed (auto_LiRPA's ``fix_interm_bounds`` given those bounds): at most ``iters``
    Adam steps of size ``lr`` decaying by 0.98 per step, stopping early when no
    row improves; ``"full"`` also optimizes the slopes of every intermediate
    target (``iters`` steps each; tighter intermediate bounds, far slower on
    convolutional nets). The result's ``alpha_mode`` says which ran.
    ``lirpa_compat`` only affects crown-ibp's IBP (see ``ibp``)."""
    if method not in METHODS:
        raise CertnnError(f"unknown method {method!r}; use one of {', '.join(METHODS)} (or ibp)")
    if alpha_mode not in ALPHA_MODES:
        raise CertnnError(f"unknown alpha mode {alpha_mode!r}; use one of {', '.join(ALPHA_MODES)}")
    mode_used = alpha_mode if method == "alpha-crown" else None
    t0 = time.perf_counter()
    net = graph if isinstance(graph, Net) else analyze(graph)
    check_region(net, region)
    N = region.n
    mode = "same-slope" if method == "same-slope" else "adaptive"
    inter_method = "crown" if (method == "alpha-crown" and alpha_mode == "spec") else method
    bounds, used_alphas = intermediate_bounds(net, region, inter_method, iters, lr, lirpa_compat)
    # the spec rows
    out_shape = net.shape(net.output)
    if spec is None:
        C = np.broadcast_to(np.eye(net.size(net.output))[None], (N, net.size(net.output), net.size(net.output)))
        d = np.zeros((N, C.shape[1]))
    else:
        if spec.n != N:
            raise CertnnError(f"spec has {spec.n} examples but the region has {N}")
        if spec.C.shape[2] != net.size(net.output):
            raise CertnnError(f"spec rows have {spec.C.shape[2]} output coefficients but the model has "
                              f"{net.size(net.output)} outputs")
        C, d = spec.C, spec.d
    K = C.shape[1]
    A0 = np.concatenate([C, -C], axis=1).reshape((N, 2 * K) + out_shape)
    if method == "alpha-crown" and alpha_mode == "spec":
        from .split import split_bounds
        sb = split_bounds(net, region, A0.reshape(N, 2 * K, -1), np.zeros((N, 2 * K)), bounds, {}, iters=iters,
                          lr_alpha=lr, scores=False, stop_positive=False)
        val = sb.lb
        used_alphas.update({("spec", k): v for k, v in sb.alphas.items()})
    elif method == "alpha-crown":
        val, al = _optimize(net, net.output, A0, bounds, region, mode, iters, lr)
        used_alphas.update({("spec", k): v for k, v in al.items()})
    else:
        a_in, bias, _ = backward(net, net.output, A0, bounds, None, mode)
        val = region.concretize_lower(a_in, bias)
    lb, ub = no_nan(val[:, :K] + d, -val[:, K:] + d)
    out = net.nodes[net.output]
    if net.kind.get(net.output) == "relax" and out.op != "relu" and out.inputs[0] in bounds:
        # an S-shaped output on a wide input interval: its linear lines are
        # poorer than the plain image [f(l), f(u)], so take the better of the two
        ylo, yhi = (b.reshape(N, -1) for b in _interval_node(net, net.output, bounds))
        Cf = C.reshape(N, K, -1)
        Cp, Cm = np.maximum(Cf, 0), np.minimum(Cf, 0)
        lb = np.maximum(lb, np.einsum("nko,no->nk", Cp, ylo) + np.einsum("nko,no->nk", Cm, yhi) + d)
        ub = np.minimum(ub, np.einsum("nko,no->nk", Cp, yhi) + np.einsum("nko,no->nk", Cm, ylo) + d)
    inter = {k: bounds[k] for k in net.need}
    return Bounds(lb, ub, method, net.graph, intermediate=inter, alphas=used_alphas,
                  interval_nodes=tuple(k for k, v in net.kind.items() if v == "interval"),
                  seconds=time.perf_counter() - t0, alpha_mode=mode_used, theorems=THEOREMS_USED)


def intermediate_bounds(net: Net, region: Region, method: str = "crown", iters: int = 20, lr: float = 0.1,
                        lirpa_compat: bool = False, splits: dict | None = None, deadline: float | None = None,
                        known: dict | None = None, alpha_stop: float | None = None, record: dict | None = None):
    """Bounds (lo, hi), each (N, *shape), of every node CROWN needs (inputs of relaxed
    nodes, interval nodes), in topological order, and the slopes alpha-CROWN chose
    ({(target, relaxed node): slopes}). alpha-CROWN optimizes the slopes only for
    the neurons CROWN leaves unstable (:func:`_open_rows_bounds`). ``splits``
    {relu input id: (N, *shape) signs} restricts example n to the subdomain where s z >= 0 for every split neuron: a
    split node's bounds are clipped to that sign as soon as they are computed, so
    the later nodes are bounded on the subdomain (lo > hi: the subdomain is empty).
    ``known`` {node: (lo, hi)}: bounds already valid on each example's subdomain (a
    parent sub-problem's): a node no split node precedes keeps them as they are
    (the splits cannot change it), every later node is recomputed and intersected
    with them. Past ``deadline`` (``time.monotonic()``, checked between nodes)
    raises TimeoutError; past ``alpha_stop`` alpha-CROWN takes no further steps
    (the bounds reached so far, CROWN's at worst). ``record`` (a dict): filled with
    the tuned slopes in sparse form, for a certificate (:func:`_sparse_slopes`);
    alpha-CROWN then tunes only relu-only nodes' rows at relus (the others keep
    CROWN's bounds, which a checker re-derives without slopes), and none if
    the net relaxes other ops than relu."""
    N = region.n
    reuse = set()
    if known is not None:
        for nid in net.need:
            if nid not in known:
                break
            reuse.add(nid)
            if splits is not None and nid in splits and np.any(splits[nid]):
                break
    mode = "same-slope" if method == "same-slope" else "adaptive"
    bounds = {net.input: (region.lo, region.hi)}
    used_alphas = {}
    relu_only = _feeds_only_relus(net)
    # a record holds relu slopes only: with other relaxed ops no slope is tuned
    non_relu = record is not None and any(v == "relax" and net.nodes[k].op != "relu" for k, v in net.kind.items())
    if method == "crown-ibp":
        return node_bounds(net, region, lirpa_compat=lirpa_compat), used_alphas
    for nid in net.need:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("intermediate bounds not finished before the deadline")
        if nid in reuse:
            lo, hi = known[nid]
        elif nid in net.prefix:
            lo, hi = prefix_bounds(net, nid, region)
        elif net.kind[nid] in ("interval", "relax") and all(
                i in bounds for i in net.nodes[nid].inputs if i in net.var):
            # the image of known input bounds: exact for a monotone elementwise op
            lo, hi = _interval_node(net, nid, bounds)
        elif (chain := exact_chain(net, nid, bounds)) is not None:
            # relus and reshapes of a known node (a 1-D net's reshape before max
            # pooling): their interval image is the exact range, CROWN's at best
            lo, hi = chain_image(net, chain, bounds)
        else:
            # past alpha_stop: CROWN's bounds (the same as alpha-CROWN's first iterate, on windows)
            optimize = method == "alpha-crown" and (alpha_stop is None or time.monotonic() < alpha_stop)
            optimize = optimize and not non_relu
            if relu_only[nid]:
                lo, hi, al = _open_rows_bounds(net, nid, bounds, region, mode,
                                               (iters, lr, alpha_stop) if optimize else None, record)
                used_alphas.update({(nid, k): v for k, v in al.items()})
            elif optimize and record is None:
                val, al = _optimize(net, nid, _target_rows(net, nid, N), bounds, region, mode, iters, lr, alpha_stop)
                used_alphas.update({(nid, k): v for k, v in al.items()})
                lo, hi = _split(val, net.shape(nid))
            else:
                a_in, bias, _ = backward(net, nid, _target_rows(net, nid, N), bounds, None, mode)
                lo, hi = _split(region.concretize_lower(a_in, bias), net.shape(nid))
            if net.kind[nid] in ("interval", "planes"):  # the node's own box may be tighter
                il, ih = _interval_node(net, nid, bounds)
                lo, hi = np.maximum(lo, il), np.minimum(hi, ih)
        lo, hi = no_nan(lo, hi)                 # a bound is never NaN: +-inf instead
        if known is not None and nid in known and nid not in reuse:
            lo, hi = np.maximum(lo, known[nid][0]), np.minimum(hi, known[nid][1])
        if splits is not None and nid in splits:
            s = splits[nid]
            lo, hi = np.where(s > 0, np.maximum(lo, 0.0), lo), np.where(s < 0, np.minimum(hi, 0.0), hi)
        bounds[nid] = (lo, hi)
    # a node that is also fed to an interval op needs its IBP image too
    for nid in net.order:
        if net.kind.get(nid) == "interval" and nid not in bounds:
            bounds[nid] = _interval_node(net, nid, bounds)
    return bounds, used_alphas


def _feeds_only_relus(net: Net) -> dict:
    """Per node: are all its consumers relus? Then only its neurons that may
    change sign need CROWN rows: a relu's relaxation of a stable neuron is
    exact (identity or zero) whatever its bounds (auto_LiRPA does the same)."""
    users: dict = {}
    for nid in net.order:
        for i in net.nodes[nid].inputs:
            users.setdefault(i, []).append(net.nodes[nid].op)
    return {nid: bool(users.get(nid)) and all(op == "relu" for op in users[nid]) and nid != net.output
            for nid in net.order}


def _open_rows_bounds(net: Net, nid: str, bounds: dict, region: Region, mode: str, alpha=None,
                      record: dict | None = None):
    """CROWN (``alpha=None``) or alpha-CROWN (``alpha=(iters, lr, stop)``) bounds of a
    relu-only node, computed only for neurons whose interval image (IBP from the
    bounds known so far) straddles 0 in some example; the others keep that
    interval, which is sound and decides their (exact) relaxation. alpha-CROWN
    runs only on the neurons CROWN (run first) leaves unstable. Returns
    (lo, hi, slopes); slopes have a row per neuron and direction like a full
    pass, the skipped rows holding CROWN's default slopes. ``record``: see
    :func:`intermediate_bounds`."""
    ilo, ihi = node_bounds(net, region, until=nid, known=bounds)[nid]
    N, shape, k = region.n, net.shape(nid), net.size(nid)
    open_ex = ((ilo < 0) & (ihi > 0)).reshape(N, k)
    open_rows = np.flatnonzero(open_ex.any(axis=0))
    if alpha is None and N > 1 and open_rows.size > 1.5 * open_ex.sum(axis=1).mean():
        # the examples' open neurons differ: bound each example's own rows, not the union
        lo, hi = ilo.reshape(N, k).copy(), ihi.reshape(N, k).copy()
        for i in range(N):
            one = {key: tuple(b[i:i + 1] if b.shape[0] == N else b for b in v) for key, v in bounds.items()}
            li, hi_i, _ = _open_rows_bounds(net, nid, one, region.rows(slice(i, i + 1)), mode)
            lo[i], hi[i] = li.reshape(-1), hi_i.reshape(-1)
        return lo.reshape((N,) + shape), hi.reshape((N,) + shape), {}
    lo, hi = ilo.reshape(N, k).copy(), ihi.reshape(N, k).copy()
    slopes = {}
    tuned = np.zeros(0, int)
    if open_rows.size:
        _crown_rows(net, nid, open_rows, bounds, region, mode, lo, hi)
    if alpha is not None and open_rows.size:
        # alpha-CROWN only where CROWN leaves the neuron unstable: a stable one's
        # relaxation is exact however tight its bounds (on sri_resnet_a IBP leaves
        # several times as many open; the same root bounds in 31 s instead of 120 s)
        tuned = open_rows[np.any((lo[:, open_rows] < 0) & (hi[:, open_rows] > 0), axis=0)]
    if tuned.size:
        m = tuned.size
        A0 = _unit_rows(tuned, k, shape, N)
        if mode == "adaptive":
            val, al = _optimize_rows(net, nid, A0, bounds, region, *alpha)
        else:
            val, al = _optimize(net, nid, A0, bounds, region, mode, *alpha)
        rows = np.concatenate([tuned, k + tuned])
        for r, a in al.items():
            n = net.nodes[r]
            l, u = (b[:, None] for b in bounds[n.inputs[0]])
            full = ALPHA[n.op].init(l, u, (N, 2 * k) + l.shape[2:], mode, **n.attrs)
            full[:, rows] = a
            slopes[r] = full
        if record is not None:
            record[nid] = _sparse_slopes(net, bounds, tuned, val[:, :m] > lo[:, tuned], -val[:, m:] < hi[:, tuned],
                                         al)
        # CROWN's bounds are alpha-CROWN's first iterate, but on windows: keep the tighter
        lo[:, tuned], hi[:, tuned] = np.maximum(lo[:, tuned], val[:, :m]), np.minimum(hi[:, tuned], -val[:, m:])
    return lo.reshape((N,) + shape), hi.reshape((N,) + shape), slopes


def _sparse_slopes(net: Net, bounds: dict, tuned: np.ndarray, better_lo, better_hi, al: dict) -> dict:
    """The slopes a checker needs to re-derive a node's alpha-CROWN bounds, and no
    more: {"lower": flat neurons, "upper": flat neurons, "slopes": {relu: (index,
    lower values (N, len(lower), len(index)), upper values)}}. Only the rows
    (directions) where alpha-CROWN beat CROWN (the others keep CROWN's bound,
    i.e. the default slopes), only at the relu neurons unstable on ``bounds``
    (a stable neuron's relaxation is exact whatever its slope)."""
    m = tuned.size
    lo_rows, hi_rows = np.flatnonzero(better_lo.any(axis=0)), np.flatnonzero(better_hi.any(axis=0))
    out = {"lower": tuned[lo_rows], "upper": tuned[hi_rows], "slopes": {}}
    for r, a in al.items():
        l, u = bounds[net.nodes[r].inputs[0]]
        idx = np.flatnonzero(((l < 0) & (u > 0)).reshape(l.shape[0], -1).any(axis=0))
        flat = a.reshape(a.shape[0], a.shape[1], -1)
        out["slopes"][r] = (idx, flat[:, lo_rows][:, :, idx], flat[:, m + hi_rows][:, :, idx])
    return out


def _unit_rows(idx: np.ndarray, k: int, shape: tuple, N: int) -> np.ndarray:
    """Rows (N, 2 m, *shape): +e_j then -e_j for the flat neurons ``idx`` of a
    node of ``k`` neurons (its lower and, negated, upper bounds)."""
    m = idx.size
    eye = np.zeros((m, k))
    eye[np.arange(m), idx] = 1.0
    eye = eye.reshape((-1,) + shape)
    return np.broadcast_to(np.concatenate([eye, -eye])[None], (N, 2 * m) + shape)


def _crown_rows(net: Net, nid: str, open_rows: np.ndarray, bounds: dict, region: Region, mode: str, lo, hi) -> None:
    """CROWN bounds of the flat neurons ``open_rows`` of ``nid`` into ``lo``/``hi`` (N, k):
    single-neuron rows on windows of the maps where a plan exists, else dense rows."""
    N, shape, k, m = region.n, net.shape(nid), net.size(nid), open_rows.size
    planned = None
    if region.norm in ("box", "inf"):
        if nid not in net.plans:
            net.plans[nid] = window.plan(net, nid)
        planned = net.plans[nid]
    if planned is not None:
        val = window.window_lower(net, nid, np.concatenate([open_rows, open_rows]),
                                  np.concatenate([np.ones(m), -np.ones(m)]), bounds, region,
                                  lambda r: _relaxation(net, r, bounds, None, mode), planned)
    else:
        a_in, bias, _ = backward(net, nid, _unit_rows(open_rows, k, shape, N), bounds, None, mode)
        val = region.concretize_lower(a_in, bias)
    lo[:, open_rows], hi[:, open_rows] = val[:, :m], -val[:, m:]


def _interval_node(net: Net, nid: str, bounds: dict):
    return no_nan(*chain_image(net, [nid], bounds))


def alpha_crown(graph, region: Region, spec: LinearSpec | None = None, iters: int = 20, lr: float = 0.1,
                alpha_mode: str = "spec") -> Bounds:
    return crown(graph, region, spec, "alpha-crown", iters=iters, lr=lr, alpha_mode=alpha_mode)
