"""A fast batched bound engine for chain ReLU networks, used inside branch and bound.

Branch and bound bounds thousands of sub-problems; the generic interpreter of
:mod:`certnn.bounds.crown` walks the op table node by node and is built for a
handful of examples. For networks that are a chain ``affine -> relu -> ... ->
affine`` (ACAS Xu, mnist_fc, the VNN-COMP test nets) this module extracts the
layer matrices once (:func:`extract_chain`, checked numerically against the
graph) and bounds many sub-problems per call in float64 with torch:

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
  by projected Adam through torch autograd (beta-CROWN, Wang et al. 2021).

The numbers are plain float64 (evidence ``computed``, like certnn.bounds);
input-split leaves are re-derived soundly by the independent checker when a
certificate is written. Soundness is tested against dense sampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import CertnnError
from ..ir.passes import unfuse

DT = torch.float64


class NotAChain(CertnnError):
    """The graph is not a chain of affine maps and ReLUs."""


@dataclass
class ChainMLP:
    """Hidden pre-activations z_j = W_j a_{j-1} + b_j with a_j = relu(z_j) and
    a_{-1} = the flattened input, for j = 0 .. hidden-1; the output is
    y = W_hidden a_{hidden-1} + b_hidden."""
    weights: list                       # torch (n_i, n_{i-1})
    biases: list                        # torch (n_i,)
    relu_inputs: list = field(default_factory=list)   # graph node id of each hidden pre-activation
    in_shape: tuple = ()

    @property
    def hidden(self) -> int:
        return len(self.weights) - 1

    @property
    def widths(self) -> list:
        return [w.shape[0] for w in self.weights[:-1]]

    def forward(self, x: np.ndarray) -> np.ndarray:
        a = torch.as_tensor(np.asarray(x, np.float64).reshape(len(x), -1), dtype=DT)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = a @ w.T + b
            if i < self.hidden:
                a = torch.clamp(a, min=0)
        return a.numpy()


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
    mlp = ChainMLP([torch.as_tensor(w, dtype=DT) for w in Ws], [torch.as_tensor(b, dtype=DT) for b in bs],
                   relus, tuple(net.shape(net.input)))
    _check_against_graph(mlp, graph)
    return mlp


def _check_against_graph(mlp: ChainMLP, graph) -> None:
    from ..run import run
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4,) + mlp.in_shape)
    y = np.asarray(run(graph, x, semantics="real"), np.float64).reshape(4, -1)
    y2 = mlp.forward(x)
    if y.shape != y2.shape or not np.allclose(y, y2, rtol=1e-9, atol=1e-9 * (1 + np.abs(y).max())):
        raise NotAChain("the extracted layers do not reproduce the graph's outputs")


# ----------------------------------------------------------------------------- bounding

def _t(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.tensor(np.asarray(a, np.float64), dtype=DT)


def _concretize(lam, bias, lo, hi):
    """min over the box [lo, hi] (N, d) of lam.x + bias, lam (N, K, d)."""
    ctr, rad = (hi + lo) / 2, (hi - lo) / 2
    return bias + torch.einsum("nkd,nd->nk", lam, ctr) - torch.einsum("nkd,nd->nk", lam.abs(), rad)


def _relax(l, u, split):
    """Per neuron: upper line slope/intercept, lower slope default, masks (all (N, n))."""
    act = (l >= 0) | (split > 0)
    dead = ((u <= 0) | (split < 0)) & ~act
    unst = ~(act | dead)
    den = torch.where(unst, u - l, torch.ones_like(u))
    s = torch.where(unst, u / den, act.to(DT))
    t = torch.where(unst, -s * l, torch.zeros_like(l))
    return s, t, act, unst


def _backward(mlp, layer, lam, bias, bounds, splits, alphas=None, betas=None, keep=None):
    """Backward from coefficients ``lam`` (N, K, n_layer) on z_layer (the pre-activation
    of hidden layer ``layer``, or the output when layer == hidden) down to the input."""
    for i in range(layer, 0, -1):
        # through the affine map z_i = W_i a_{i-1} + b_i
        bias = bias + lam @ mlp.biases[i]
        lam = lam @ mlp.weights[i]                     # coefficients on a_{i-1} = relu(z_{i-1})
        j = i - 1
        l, u = bounds[j]
        s, t, act, unst = _relax(l, u, splits[j])
        lp, ln = lam.clamp(min=0), lam.clamp(max=0)
        if alphas is not None:
            low = torch.where(unst[:, None], alphas[j], act[:, None].to(DT))
        else:
            low = torch.where(unst, (u > -l).to(DT), act.to(DT))[:, None]
        if keep is not None:
            keep[j] = (ln * t[:, None]).detach()      # what the upper line costs each row
        bias = bias + (ln * t[:, None]).sum(-1)
        lam = lp * low + ln * s[:, None]
        if betas is not None:
            lam = lam - betas[j] * splits[j][:, None].to(DT)
    bias = bias + lam @ mlp.biases[0]
    return lam @ mlp.weights[0], bias                  # coefficients on x


def intermediate_bounds(mlp: ChainMLP, lo, hi, splits, known=None, alpha_iters: int = 0, lr: float = 0.25):
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
    per row kept; every iterate is a valid bound)."""
    lo, hi = _t(lo), _t(hi)
    N = lo.shape[0]
    bounds = []
    infeasible = torch.zeros(N, dtype=torch.bool)
    for j in range(mlp.hidden):
        n = mlp.widths[j]
        sp = splits[j]
        if j == 0:   # exact for an affine function of the box, and cheap
            W, b = mlp.weights[0], mlp.biases[0]
            ctr, rad = (hi + lo) / 2, (hi - lo) / 2
            mid, r = ctr @ W.T + b, rad @ W.abs().T
            l, u = mid - r, mid + r
            if known is not None:
                l, u = torch.maximum(l, _t(known[j][0])), torch.minimum(u, _t(known[j][1]))
        else:
            open_ = sp == 0
            if known is not None:
                l, u = _t(known[j][0]).clone(), _t(known[j][1]).clone()
                open_ &= (l < 0) & (u > 0)
            else:
                l = torch.full((N, n), -torch.inf, dtype=DT)
                u = torch.full((N, n), torch.inf, dtype=DT)
            counts = open_.sum(1)
            U = int(counts.max()) if N else 0
            if U:
                # the open neurons of each sub-problem first, padded with inert rows
                idx = torch.argsort((~open_).to(torch.int8), dim=1, stable=True)[:, :U]
                valid = torch.arange(U)[None] < counts[:, None]
                rows = torch.nn.functional.one_hot(idx, n).to(DT) * valid[..., None].to(DT)
                lam0 = torch.cat([rows, -rows], 1)
                lam, bias = _backward(mlp, j, lam0, torch.zeros(N, 2 * U, dtype=DT), bounds, splits)
                val = _concretize(lam, bias, lo, hi)
                if alpha_iters > 0:
                    val = torch.maximum(val, _optimize_rows(mlp, j, lam0, bounds, splits, lo, hi, alpha_iters, lr))
                new_l = torch.maximum(val[:, :U], l.gather(1, idx))
                new_u = torch.minimum(-val[:, U:], u.gather(1, idx))
                l = l.scatter(1, idx, torch.where(valid, new_l, l.gather(1, idx)))
                u = u.scatter(1, idx, torch.where(valid, new_u, u.gather(1, idx)))
        l = torch.where(sp > 0, l.clamp(min=0), l)
        u = torch.where(sp < 0, u.clamp(max=0), u)
        infeasible |= (l > u).any(dim=1)
        bounds.append((l, u))
    return bounds, infeasible


def _optimize_rows(mlp, j, lam0, bounds, splits, lo, hi, iters, lr):
    """alpha-CROWN for the rows ``lam0`` on z_j: the best lower bound per row."""
    N, K = lam0.shape[:2]
    alphas = [torch.where(b[1] > -b[0], 1.0, 0.0).to(DT)[:, None].expand(N, K, -1).clone().requires_grad_(True)
              for b in bounds[:j]]
    opt = torch.optim.Adam(alphas, lr=lr, maximize=True)
    best = torch.full((N, K), -torch.inf, dtype=DT)
    with torch.enable_grad():
        for _ in range(iters):
            opt.zero_grad()
            lam, bias = _backward(mlp, j, lam0, torch.zeros(N, K, dtype=DT), bounds, splits, alphas)
            val = _concretize(lam, bias, lo, hi)
            best = torch.maximum(best, val.detach())
            val.sum().backward()
            opt.step()
            with torch.no_grad():
                for a in alphas:
                    a.clamp_(0, 1)
    return best


def signs(bounds, splits):
    """Per layer int8: +1 / -1 where the neuron's sign is known (split or stable), else 0."""
    out = []
    for (l, u), sp in zip(bounds, splits):
        s = torch.where(l >= 0, 1, torch.where(u <= 0, -1, 0)).to(torch.int8)
        out.append(torch.where(sp != 0, sp, s))
    return out


@dataclass
class SpecBound:
    lb: torch.Tensor            # (N, K) lower bounds of C y + d
    lam_x: torch.Tensor         # (N, K, d) coefficients on the input (for input-split scores)
    cost: list                  # per hidden layer (N, K, n_j): upper-line cost (for relu-split scores)
    alphas: list | None = None
    betas: list | None = None


def spec_bounds(mlp: ChainMLP, lo, hi, C, d, bounds, splits, alphas=None, betas=None) -> SpecBound:
    """Lower bounds of the rows C y + d (C (N, K, out), d (N, K)) over each sub-problem."""
    lo, hi, C, d = _t(lo), _t(hi), _t(C), _t(d)
    keep = [None] * mlp.hidden
    lam, bias = _backward(mlp, mlp.hidden, C, d.clone(), bounds, splits, alphas, betas, keep)
    return SpecBound(_concretize(lam, bias, lo, hi), lam, keep, alphas, betas)


def optimized_spec_bounds(mlp: ChainMLP, lo, hi, C, d, bounds, splits, iters: int = 20,
                          lr_alpha: float = 0.1, lr_beta: float = 0.05, init_alphas=None,
                          init_betas=None, use_beta: bool = True) -> SpecBound:
    """alpha(-beta)-CROWN on the spec rows: projected Adam on the lower slopes and the
    split multipliers, keeping the best bound seen per row (every iterate is valid)."""
    lo, hi, C, d = _t(lo), _t(hi), _t(C), _t(d)
    N, K = d.shape
    if init_alphas is None:
        init_alphas = [torch.where(b[1] > -b[0], 1.0, 0.0).to(DT)[:, None].expand(N, K, -1).clone()
                       for b in bounds]
    alphas = [a.clone().requires_grad_(True) for a in init_alphas]
    params = [{"params": alphas, "lr": lr_alpha}]
    betas = None
    if use_beta and any(bool((s != 0).any()) for s in splits):
        if init_betas is None:
            init_betas = [torch.zeros(N, K, s.shape[1], dtype=DT) for s in splits]
        betas = [b.clone().requires_grad_(True) for b in init_betas]
        params.append({"params": betas, "lr": lr_beta})
    best = spec_bounds(mlp, lo, hi, C, d, bounds, splits, [a.detach() for a in alphas],
                       None if betas is None else [b.detach() for b in betas])
    best_a = [a.detach().clone() for a in alphas]
    best_b = None if betas is None else [b.detach().clone() for b in betas]
    if iters <= 0:
        best.alphas, best.betas = best_a, best_b
        return best
    opt = torch.optim.Adam(params, maximize=True)
    for _ in range(iters):
        opt.zero_grad()
        keep = [None] * mlp.hidden
        with torch.enable_grad():     # callers may bound under no_grad
            lam, bias = _backward(mlp, mlp.hidden, C, d.clone(), bounds, splits, alphas, betas, keep)
            val = _concretize(lam, bias, lo, hi)
        with torch.no_grad():
            better = val > best.lb
            if better.any():
                best.lb = torch.where(better, val, best.lb)
                best.lam_x = torch.where(better[..., None], lam, best.lam_x)
                for j in range(mlp.hidden):
                    best.cost[j] = torch.where(better[..., None], keep[j], best.cost[j])
                    best_a[j] = torch.where(better[..., None], alphas[j], best_a[j])
                    if betas is not None:
                        best_b[j] = torch.where(better[..., None], betas[j], best_b[j])
        # only rows that are not yet proved need pushing up
        with torch.enable_grad():
            val.clamp(max=1e-3).sum().backward()
        opt.step()
        with torch.no_grad():
            for a in alphas:
                a.clamp_(0, 1)
            if betas is not None:
                for b in betas:
                    b.clamp_(min=0)
    best.lam_x = best.lam_x.detach()
    best.alphas, best.betas = best_a, best_b
    return best
