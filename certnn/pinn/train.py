"""Training a PINN with certnn's autograd.

The loss is the mean squared residual at collocation points plus the mean
squared error of each initial/boundary condition at points of its face:

    L(theta) = mean_i r(x_i)^2 + sum_c mean_j (u(y_cj) - g_c(y_cj))^2.

The residual reads u and its derivatives from the jet graph of the network
(:mod:`certnn.pinn.derivatives`); the problem's sympy equation is evaluated on
eager tensors, so its own derivative w.r.t. u, u_x, ... comes from the tape, and
the jet graph's backward sweep (the derivative op's vjp: the next derivative)
carries it to the weights. Adam first, then L-BFGS (SciPy's L-BFGS-B driven by
these gradients). Everything runs in float64.

Collocation points are a Latin hypercube sample (stratified in every
coordinate, as Raissi et al. 2019). Adam may use random mini-batches of them
(``batch``: cheap steps while the loss is large). L-BFGS runs full batch in
``rounds``; between rounds the ``add`` points with the largest |residual| out
of a fresh uniform pool of 50 x ``add`` points join the collocation set
(residual-based adaptive refinement, Lu et al. 2021): on Burgers they land on
the shock, which uniform points resolve poorly.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import sympy

from .. import functional as F
from ..errors import CertnnError, TrainingError
from ..ir.interpret import backward, evaluate
from ..ir.trace import trace
from ..optim import Adam
from ..tensor import Tensor
from ..zoo import mlp
from .derivatives import jet_backward, jet_graph, jet_values
from .problems import Problem

_TENSOR_FUNCS = {sympy.exp: F.exp, sympy.log: F.log, sympy.tanh: F.tanh, sympy.Abs: F.abs}


def tensor_expr(expr, values: dict, coords: dict):
    """Evaluate ``expr`` with u-symbols bound to tensors (``values``) and
    coordinate symbols to arrays (``coords``): parts free of u are plain NumPy."""
    if not (expr.free_symbols & set(values)):
        f = sympy.lambdify(list(coords), expr, "numpy")
        n = len(next(iter(coords.values())))
        return np.broadcast_to(np.asarray(f(*coords.values()), float), (n,))
    if expr.is_Symbol:
        return values[expr]
    if expr.is_Add or expr.is_Mul:
        parts = [tensor_expr(a, values, coords) for a in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = out + p if expr.is_Add else out * p
        return out
    if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) > 0:
        b = tensor_expr(expr.base, values, coords)
        out = b
        for _ in range(int(expr.exp) - 1):
            out = out * b
        return out
    if expr.func in _TENSOR_FUNCS:
        return _TENSOR_FUNCS[expr.func](tensor_expr(expr.args[0], values, coords))
    raise CertnnError(f"the equation term {expr} has no tensor form (use +, *, integer powers, exp, log, tanh, Abs)")


def make_model(problem: Problem, hidden=None, seed: int = 0):
    """A tanh MLP (float64) with Xavier-normal weights and zero biases."""
    hidden = tuple(hidden or problem.hidden)
    model = mlp(in_features=len(problem.coords), hidden=hidden, num_classes=1, activation="tanh").to(np.float64)
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            fan_out, fan_in = p.data.shape
            p.data[...] = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), p.data.shape)
        else:
            p.data[...] = 0.0
    return model, {"arch": "mlp", "in_features": len(problem.coords), "hidden": list(hidden),
                   "num_classes": 1, "activation": "tanh"}


def _warm_start(model, config: dict, init) -> None:
    """Load the weights of checkpoint ``init`` into ``model``; refuse another architecture."""
    from ..interop.checkpoint import GRAPH_PREFIX, read_meta
    meta, state, mpath = read_meta(init)
    if meta["config"] != config:
        raise CertnnError(f"{mpath}: --init checkpoint has architecture {meta['config']}, not {config}")
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith(GRAPH_PREFIX)})


def sample_points(problem: Problem, n_interior: int, n_boundary: int, seed: int = 0):
    """Collocation points in the box (a Latin hypercube sample), and uniform
    points on each condition's face (with the condition's target values)."""
    from scipy.stats import qmc
    rng = np.random.default_rng(seed)
    lo, hi = np.array(problem.lo), np.array(problem.hi)
    interior = qmc.scale(qmc.LatinHypercube(d=len(lo), seed=rng).random(n_interior), lo, hi)
    faces = []
    cs = problem.coord_symbols
    for c in problem.conditions:
        flo, fhi = problem.face(c)
        pts = flo + (fhi - flo) * rng.uniform(size=(n_boundary, len(lo)))
        g = sympy.lambdify(cs, c.value, "numpy")
        faces.append((pts, np.broadcast_to(np.asarray(g(*pts.T), float), (n_boundary,)).copy()))
    return interior, faces


class Objective:
    """The PINN loss of a model and its gradient w.r.t. the flattened weights."""

    def __init__(self, problem: Problem, model, interior: np.ndarray, faces: list):
        self.problem, self.model = problem, model
        self.graph, self.bindings = trace(model, np.zeros((1, len(problem.coords))))
        self.symbols = problem.derivative_symbols()
        self.jet_graph, self.jet = jet_graph(self.graph, self.symbols.values())
        self.faces = faces
        self.set_interior(interior)
        self.names = [k for k in self.bindings]
        self.shapes = [self.bindings[k].data.shape for k in self.names]

    def set_interior(self, points: np.ndarray) -> None:
        """Use ``points`` as the collocation points from now on."""
        self.interior = np.asarray(points, np.float64)
        self.coords = dict(zip(self.problem.coord_symbols, self.interior.T))

    def residual(self, points: np.ndarray) -> np.ndarray:
        """The residual at ``points`` (no gradients)."""
        d, _ = jet_values(self.jet_graph, self.jet, points, self.arrays())
        coords = dict(zip(self.problem.coord_symbols, np.asarray(points, np.float64).T))
        r = tensor_expr(self.problem.equation, {s: Tensor(d[m]) for s, m in self.symbols.items()}, coords)
        return np.asarray(r.data if isinstance(r, Tensor) else r, np.float64).reshape(-1)

    def refine(self, add: int, rng) -> None:
        """Residual-based adaptive refinement: add the ``add`` points of largest
        |residual| out of a uniform pool of 50 x ``add`` points."""
        lo, hi = np.array(self.problem.lo), np.array(self.problem.hi)
        pool = lo + (hi - lo) * rng.uniform(size=(50 * add, len(lo)))
        r = np.concatenate([self.residual(pool[a:a + 8192]) for a in range(0, len(pool), 8192)])
        self.set_interior(np.concatenate([self.interior, pool[np.argsort(-np.abs(r))[:add]]]))

    def arrays(self) -> dict:
        return {**self.jet_graph.arrays, **{k: t.data for k, t in self.bindings.items()}}

    def loss_and_grads(self):
        arrays = self.arrays()
        d, state = jet_values(self.jet_graph, self.jet, self.interior, arrays, keep=True)
        leaves = {s: Tensor(d[m], requires_grad=True) for s, m in self.symbols.items()}
        r = tensor_expr(self.problem.equation, leaves, self.coords)
        loss_r = F.mean(r * r)
        grads = {}
        parts = [float(loss_r.data)]
        total = loss_r
        face_terms = []
        xid = self.graph.inputs[0].id
        for pts, target in self.faces:
            (uf,), values, chains = evaluate(self.graph, {xid: pts}, arrays, keep_chains=True)
            ut = Tensor(uf, requires_grad=True)
            e = ut - target.reshape(-1, 1)
            lf = F.mean(e * e)
            parts.append(float(lf.data))
            total = total + lf
            face_terms.append((ut, values, chains))
        total.backward()
        cts = {m: leaves[s].grad for s, m in self.symbols.items() if leaves[s].grad is not None}
        grads = jet_backward(self.jet_graph, self.jet, state, cts, set(self.names))
        for ut, values, chains in face_terms:
            g = backward(self.graph, values, chains, {self.graph.outputs[0]: ut.grad}, set(self.names))
            for k, v in g.items():
                grads[k] = grads[k] + v if k in grads else v
        return float(total.data), parts, grads

    # ---- flat views for SciPy ------------------------------------------------------------------
    def get_flat(self) -> np.ndarray:
        return np.concatenate([self.bindings[k].data.ravel() for k in self.names])

    def set_flat(self, theta: np.ndarray) -> None:
        i = 0
        for k, s in zip(self.names, self.shapes):
            m = int(np.prod(s))
            self.bindings[k].data[...] = theta[i:i + m].reshape(s)
            i += m

    def flat_grad(self, grads: dict) -> np.ndarray:
        return np.concatenate([np.asarray(grads.get(k, np.zeros(s)), float).ravel()
                               for k, s in zip(self.names, self.shapes)])


def _bar(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True)
    bar.start()
    return bar


def fit(obj: Objective, adam: int, lbfgs: int, lr: float = 1e-3, progress: bool = True, log=None,
        every: int = 0, on_every=None, batch: int = 0, rounds: int = 1, add: int = 0, seed: int = 0) -> list:
    """Adam for ``adam`` steps (on random mini-batches of ``batch`` collocation
    points when ``batch`` > 0), then L-BFGS-B for at most ``lbfgs`` iterations
    in ``rounds`` restarts, refining the collocation set by ``add`` points
    (:meth:`Objective.refine`) before each restart after the first.
    Returns the loss history (one entry per Adam step / L-BFGS iteration).
    ``on_every(step, loss)`` runs every ``every`` steps (logging, snapshots)."""
    from scipy.optimize import minimize
    rng = np.random.default_rng(seed)
    history = []
    bar = _bar(progress)

    def tick(loss):
        history.append(loss)
        if every and on_every and len(history) % every == 0:
            on_every(len(history), loss)
    try:
        if adam:
            params = [obj.bindings[k] for k in obj.names]
            opt = Adam(params, lr=lr)
            task = bar.add_task("adam", total=adam) if bar else None
            full = obj.interior
            for step in range(adam):
                if 0 < batch < len(full):
                    obj.set_interior(full[rng.choice(len(full), batch, replace=False)])
                loss, parts, grads = obj.loss_and_grads()
                if not math.isfinite(loss):
                    raise TrainingError(f"the PINN loss became {loss} at Adam step {step + 1}; try a smaller lr")
                for k, p in zip(obj.names, params):
                    p.grad = grads.get(k)
                opt.step()
                tick(loss)
                if bar:
                    bar.update(task, advance=1, description=f"adam  loss {loss:.3e}")
            obj.set_interior(full)
        if lbfgs:
            task = bar.add_task("lbfgs", total=lbfgs) if bar else None
            last = {}

            def fun(theta):
                obj.set_flat(theta)
                loss, parts, grads = obj.loss_and_grads()
                last["loss"] = loss
                return loss, obj.flat_grad(grads)

            def callback(theta):
                tick(last.get("loss", float("nan")))
                if bar:
                    bar.update(task, advance=1, description=f"lbfgs loss {last.get('loss', 0):.3e}")

            rounds = max(1, min(rounds, lbfgs))
            for k in range(rounds):
                if k and add:
                    obj.refine(add, rng)
                    if log:
                        log(f"refined: {len(obj.interior)} collocation points")
                iters = lbfgs // rounds + (k < lbfgs % rounds)
                res = minimize(fun, obj.get_flat(), jac=True, method="L-BFGS-B", callback=callback,
                               options={"maxiter": iters, "maxfun": int(iters * 1.25) + 10, "maxcor": 50,
                                        "ftol": 1e-15, "gtol": 1e-11})
                obj.set_flat(res.x)
                if log:
                    log(f"L-BFGS round {k + 1}/{rounds}: {res.nit} iterations, {res.message}")
    finally:
        if bar:
            bar.stop()
    return history


def train(problem: Problem, out=None, hidden=None, seed: int = 0, points: int | None = None,
          boundary: int | None = None, adam: int | None = None, lbfgs: int | None = None,
          lr: float | None = None, progress: bool = True, log=None, snapshot_every: int = 500,
          init=None, batch: int | None = None, rounds: int | None = None, add: int | None = None) -> dict:
    """Train a tanh MLP on ``problem`` (defaults from ``problem.train``); save a
    checkpoint to ``out`` when given (also every ``snapshot_every`` steps, so a
    long run can be inspected or stopped). ``init``: a checkpoint of the same
    architecture to start from (continue a stopped run, or fine-tune). Returns a
    summary (losses, timing)."""
    from threadpoolctl import threadpool_limits
    cfg = dict(problem.train)
    for k, v in (("points", points), ("boundary", boundary), ("adam", adam), ("lbfgs", lbfgs), ("lr", lr),
                 ("batch", batch), ("rounds", rounds), ("add", add)):
        if v is not None:
            cfg[k] = v
    t0 = time.perf_counter()
    model, config = make_model(problem, hidden, seed)
    if init is not None:
        _warm_start(model, config, init)
    interior, faces = sample_points(problem, cfg.get("points", 2000), cfg.get("boundary", 200), seed)
    obj = Objective(problem, model, interior, faces)

    def save(info):
        if out is not None:
            from ..interop.checkpoint import save_checkpoint
            save_checkpoint(Path(out), model, config, obj.graph, info=info)

    def snapshot(step, loss):
        if log:
            log(f"step {step}: loss {loss:.4e} ({time.perf_counter() - t0:.0f} s)")
        save({"problem": problem.name, "loss": loss, "steps": step, "settings": cfg, "seed": seed,
              "inputs": list(problem.coords), "snapshot": True})

    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(obj, cfg.get("adam", 1000), cfg.get("lbfgs", 1000), cfg.get("lr", 1e-3), progress, log,
                      snapshot_every, snapshot, cfg.get("batch", 0), cfg.get("rounds", 1), cfg.get("add", 0), seed)
        loss, parts, _ = obj.loss_and_grads()
    info = {"problem": problem.name, "loss": loss, "loss_parts": parts, "steps": len(history),
            "train_seconds": time.perf_counter() - t0, "settings": cfg, "seed": seed,
            "inputs": list(problem.coords)}
    if init is not None:
        info["init"] = str(init)
    save(info)
    if out is not None:
        info["checkpoint"] = str(out)
    return info
