"""Certified neural Lyapunov functions (TorchLean's Van der Pol example, done to the end).

For a controlled system x' = f(x, u) (:data:`SYSTEMS`: the Van der Pol oscillator
with mu = 1, an inverted pendulum), train with certnn's own autograd a controller
u(x) (2-16-1 tanh, no biases: u(0) = 0) and a Lyapunov candidate V(x) (2-100-1 tanh,
TorchLean's width, shifted so that V(0) = 0: :class:`LyapunovNet`)
on TorchLean's loss

    relu(0.1 ||x||^2 - V(x)) + relu(V'(x) + 0.1 V(x)),   V'(x) = grad V(x) . f(x, u(x)),

(the gradient written out for the one-hidden-layer net, so first-order autograd
suffices), then **certify** on a box minus an open ball B(0, r) around the origin
that V > 0 and V' < 0, by input-space branch and bound: each box gets sound bounds
of V and V' (:mod:`.derivatives`: the op table's interval and derivative rules
interpreted over intervals); a box is certified when V > 0 and V' < 0 on all of it,
skipped when it lies inside the ball, a counterexample when V <= 0 or V' >= 0 on
all of it (sound for every point of it), bisected otherwise.

The split tree is the certificate (:func:`save_certificate`); the independent
checker (:mod:`.lyapunov_checker`) rebuilds the boxes from it (so they cover the
region by construction) and re-derives every leaf.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import nn
from ..errors import CertnnError
from ..io import write_json, write_npz
from ..ir import save as save_graph
from ..ir.serialize import array_digest, graph_hash
from ..ir.trace import trace
from ..optim import Adam
from ..random import manual_seed
from ..tensor import Tensor
from . import expr as ex
from .derivatives import inside_open_ball, lie_bounds
from .taylor import qiv

FORMAT, VERSION = "certnn-lyapunov", 1


@dataclass(frozen=True)
class System:
    name: str
    states: tuple
    control: str
    dynamics: tuple          # expression strings (parsed safely by .expr)
    region: tuple = ("-1", "1")
    radius: str = "0.1"
    decay: float = 0.1       # the loss's rate: V' + decay V <= 0 and V >= decay ||x||^2

    def tape(self) -> ex.Tape:
        names = list(self.states) + [self.control]
        return ex.compile_tape([ex.parse(e, names, f"{self.name}.dynamics[{i}]") for i, e in enumerate(self.dynamics)])


SYSTEMS = {
    "vanderpol": System("vanderpol", ("x1", "x2"), "u", ("x2", "(1 - x1**2)*x2 - x1 + u")),
    "pendulum": System("pendulum", ("theta", "omega"), "u", ("omega", "sin(theta) - 0.1*omega + u")),
}


def system(name: str) -> System:
    if name not in SYSTEMS:
        raise CertnnError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    return SYSTEMS[name]


# ------------------------------------------------------------------ training

class LyapunovNet(nn.Module):
    """V(x) = w2 . (tanh(W1 x + b1) - tanh(b1)): one tanh layer, V(0) = 0 (up to the
    rounding of the stored constant tanh(b1))."""

    def __init__(self, hidden: int):
        super().__init__()
        self.lin1 = nn.Linear(2, hidden, dtype=np.float64)
        self.lin2 = nn.Linear(hidden, 1, bias=False, dtype=np.float64)

    def hidden(self, x):
        return F.tanh(self.lin1(x))

    def forward(self, x):
        return self.lin2(self.hidden(x) - F.tanh(self.lin1.bias))


def controller_net(hidden: int):
    """u(x) = W2 tanh(W1 x): no biases, so u(0) = 0 and the origin stays an equilibrium."""
    return nn.Sequential(nn.Linear(2, hidden, bias=False, dtype=np.float64), nn.Tanh(),
                         nn.Linear(hidden, 1, bias=False, dtype=np.float64))


def _tensor_f(sys: System):
    """The dynamics on certnn Tensors (the same expressions, evaluated by the tape)."""
    tape = sys.tape()

    class TensorAlgebra:
        const = staticmethod(float)
        add, sub, mul, div = staticmethod(F.add), staticmethod(F.sub), staticmethod(F.mul), staticmethod(F.div)
        neg, exp, log, sqrt = staticmethod(F.neg), staticmethod(F.exp), staticmethod(F.log), staticmethod(F.sqrt)

        # the op table has no sin/cos: training uses their Taylor polynomials of degree 8
        # (error below 2e-5 on |x| <= 1.3); certification uses the exact functions
        @staticmethod
        def sin(x):
            x2 = x * x
            return x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0)))

        @staticmethod
        def cos(x):
            x2 = x * x
            return 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0)))

    alg = TensorAlgebra()
    return lambda env: ex.evaluate(tape, env, alg)


@dataclass
class Trained:
    system: System
    V: object                # certnn graphs
    controller: object
    history: list = field(default_factory=list)
    seconds: float = 0.0


def train(sys: System, steps: int = 3000, batch: int = 512, lr: float = 3e-3, seed: int = 0,
          hidden_v: int = 100, hidden_u: int = 16, margin: float = 0.0) -> Trained:
    """Adam on TorchLean's loss (plus ``margin`` * ||x||^2 inside both hinges, 0 by
    default), with points resampled every step: uniform on the region widened by 10 %
    and, for half of them, on the ring 0.05 <= ||x|| <= 0.5 where the conditions are tight."""
    t0 = time.perf_counter()
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    Vnet, Unet = LyapunovNet(hidden_v), controller_net(hidden_u)
    opt = Adam(list(Vnet.parameters()) + list(Unet.parameters()), lr=lr)
    fdyn = _tensor_f(sys)
    a, b = (float(Fraction(x)) for x in sys.region)
    hist = []
    for it in range(steps):
        x = rng.uniform(a * 1.1, b * 1.1, (batch, 2))
        k = batch // 2
        ang, rad = rng.uniform(0, 2 * np.pi, k), rng.uniform(0.05, 0.5, k)
        x[:k] = np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
        X = Tensor(x)
        loss = _loss(Vnet, Unet, X, sys, fdyn, margin)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 100 == 0 or it == steps - 1:
            hist.append((it, float(loss.item())))
    z = np.zeros((1, 2))
    return Trained(sys, trace(Vnet.eval(), z)[0], trace(Unet.eval(), z)[0], hist, time.perf_counter() - t0)


def _loss(Vnet: LyapunovNet, Unet, X: Tensor, sys: System, fdyn, margin: float):
    h = Vnet.hidden(X)
    V = Vnet(X)                                                               # (B, 1)
    g = F.matmul((1.0 - h * h) * Vnet.lin2.weight, Vnet.lin1.weight)          # grad V: (B, 2)
    u = Unet(X)
    x1, x2 = X[:, 0:1], X[:, 1:2]
    f1, f2 = fdyn({sys.states[0]: x1, sys.states[1]: x2, sys.control: u})
    Vdot = g[:, 0:1] * f1 + g[:, 1:2] * f2
    r2 = x1 * x1 + x2 * x2
    c = sys.decay
    return F.mean(F.relu(c * r2 - V + margin * r2)) + F.mean(F.relu(Vdot + c * V + margin * r2))


# ------------------------------------------------------------------ certification (branch and bound)

@dataclass
class Certified:
    system: System
    lo: np.ndarray                        # the region
    hi: np.ndarray
    radius: str
    split_dim: np.ndarray                 # per tree node: -1 for a leaf
    split_at: np.ndarray
    kids: np.ndarray                      # (nodes, 2), -1 for a leaf
    kind: np.ndarray                      # 0 internal, 1 certified, 2 inside the ball, 3 not certified
    node_lo: np.ndarray
    node_hi: np.ndarray
    counterexamples: list
    seconds: float
    stats: dict = field(default_factory=dict)

    @property
    def certified(self) -> bool:
        return not np.any(self.kind == 3)

    def failed_boxes(self):
        k = self.kind == 3
        return self.node_lo[k], self.node_hi[k]


def certify(sys: System, V, controller, lo=None, hi=None, radius: str | None = None, batch: int = 4096,
            min_width: float = 1e-5, time_limit: float = 600.0, progress=None) -> Certified:
    t0 = time.perf_counter()
    radius = radius or sys.radius
    a, b = (float(Fraction(x)) for x in sys.region)
    lo = np.full(2, a) if lo is None else np.asarray(lo, np.float64)
    hi = np.full(2, b) if hi is None else np.asarray(hi, np.float64)
    r_lo = qiv(Fraction(radius))[0]
    tape = sys.tape()
    node_lo, node_hi = [lo], [hi]
    split_dim, split_at, kids, kind = [-1], [np.nan], [(-1, -1)], [0]
    queue, cex = [0], []
    deadline = time.monotonic() + time_limit
    total = float(np.prod(hi - lo))
    done = 0.0
    evaluated = 0
    while queue:
        take, queue = queue[:batch], queue[batch:]
        L, H = np.stack([node_lo[i] for i in take]), np.stack([node_hi[i] for i in take])
        if time.monotonic() > deadline:
            for i in take + queue:
                kind[i] = 3
            queue = []
            break
        (vl, vh), (dl, dh) = lie_bounds(V, controller, tape, sys.states, sys.control, L, H)
        evaluated += len(take)
        inball = inside_open_ball(L, H, r_lo)
        ok = (vl > 0) & (dh < 0)
        # a box where V <= 0 or V' >= 0 everywhere is a counterexample (sound) when its
        # centre lies outside the ball
        bad = ~inball & ((vh <= 0) | (dl >= 0))
        for j, i in enumerate(take):
            if inball[j]:
                kind[i] = 2
            elif ok[j]:
                kind[i] = 1
        done += float(np.sum(np.prod(H[inball | ok] - L[inball | ok], 1)))
        if progress is not None:
            progress(min(done / total, 1.0))
        for j in np.flatnonzero(~(inball | ok)):
            i = take[j]
            w = H[j] - L[j]
            c = (L[j] + H[j]) / 2
            if bad[j] and np.dot(c, c) >= float(Fraction(radius)) ** 2:
                kind[i] = 3
                cex.append({"x": c.tolist(), "V": [float(vl[j]), float(vh[j])], "Vdot": [float(dl[j]), float(dh[j])],
                            "box": [L[j].tolist(), H[j].tolist()]})
                continue
            if w.max() < min_width:
                kind[i] = 3
                continue
            d = int(np.argmax(w))
            m = (node_lo[i][d] + node_hi[i][d]) / 2
            a_hi, b_lo = node_hi[i].copy(), node_lo[i].copy()
            a_hi[d], b_lo[d] = m, m
            k0 = len(node_lo)
            node_lo += [node_lo[i], b_lo]
            node_hi += [a_hi, node_hi[i]]
            split_dim += [-1, -1]
            split_at += [np.nan, np.nan]
            kids += [(-1, -1), (-1, -1)]
            kind += [0, 0]
            split_dim[i], split_at[i], kids[i] = d, m, (k0, k0 + 1)
            queue += [k0, k0 + 1]
    res = Certified(sys, lo, hi, radius, np.array(split_dim, np.int64), np.array(split_at, np.float64),
                    np.array(kids, np.int64).reshape(-1, 2), np.array(kind, np.int8), np.stack(node_lo),
                    np.stack(node_hi), cex, time.perf_counter() - t0)
    res.stats = {"boxes_evaluated": evaluated, "leaves": int(np.sum(res.kind > 0)),
                 "certified_leaves": int(np.sum(res.kind == 1)), "ball_leaves": int(np.sum(res.kind == 2)),
                 "failed_leaves": int(np.sum(res.kind == 3)), "counterexamples": len(cex)}
    return res


# ------------------------------------------------------------------ the certificate

def save_certificate(res: Certified, V, controller, path) -> Path:
    """``path`` (.json) + .npz, with the two networks saved as certnn graphs next to it."""
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    stem = path.stem
    vpath, upath = path.with_name(f"{stem}.V.json"), path.with_name(f"{stem}.controller.json")
    save_graph(V, vpath)
    save_graph(controller, upath)
    arrays = {"split_dim": res.split_dim, "split_at": np.nan_to_num(res.split_at, nan=0.0), "kids": res.kids,
              "kind": res.kind.astype(np.int64), "root_lo": res.lo, "root_hi": res.hi}
    npz = path.with_name(stem + ".npz")
    s = res.system
    doc = {"format": FORMAT, "version": VERSION,
           "system": {"name": s.name, "states": list(s.states), "control": s.control, "dynamics": list(s.dynamics)},
           "radius": res.radius, "claim": "for every x in the box [root_lo, root_hi] with ||x||_2 >= radius: "
                                          "V(x) > 0 and grad V(x) . f(x, u(x)) < 0 (real semantics)",
           "certified": res.certified,
           "models": {"V": {"path": vpath.name, "graph_hash": graph_hash(V)},
                      "controller": {"path": upath.name, "graph_hash": graph_hash(controller)}},
           "stats": res.stats, "counterexamples": res.counterexamples, "producer_seconds": res.seconds,
           "array_file": npz.name,
           "arrays": {k: {"dtype": np.asarray(a).dtype.str, "shape": list(np.shape(a)),
                          "sha256": array_digest(np.ascontiguousarray(a))} for k, a in arrays.items()}}
    write_npz(npz, {k: np.ascontiguousarray(a) for k, a in arrays.items()})
    write_json(path, doc)
    return path
