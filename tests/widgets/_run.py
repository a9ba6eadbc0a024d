"""A small run folder like `make run` writes (checkpoint, training log, error budget,
robustness certificates re-checkable by the checker) plus a BaB certificate, a
reach tube, a Lyapunov certificate, an MDP value certificate and a short RL run,
built once per test session from real data and real producers."""

import json
from pathlib import Path

import numpy as np

from certnn import functional as F
from certnn import nn, run
from certnn.io import atomic_write
from certnn.spec import LinearSpec, Region

EPS = 0.01
N_CERT = 8


def _json(path, doc):
    with atomic_write(path, "w") as f:
        json.dump(doc, f)


def _bab(folder: Path):
    """An input-split BaB certificate of a small MLP (the graph saved next to it)."""
    from certnn.ir.serialize import save
    from certnn.verify.bab import verify_case
    from certnn.verify.bab_certificate import write_bab_certificate
    from tests.verify._models import mlp_graph
    g, _ = mlp_graph(101, (2, 8, 8, 2))
    rng = np.random.default_rng(1)
    lo = rng.uniform(-1, 0, (1, 2))
    hi = lo + rng.uniform(0.5, 1.0, (1, 2))
    y = np.asarray(run(g, rng.uniform(lo, hi, (20000, 2)), semantics="real"), np.float64)
    m = (y[:, 0] - y[:, 1]).min()
    spec = LinearSpec(np.array([[[1.0, -1.0]]]), np.array([[-(m - 0.002 * (abs(m) + 0.1))]]), np.array([0]))
    region = Region.box(lo, hi)
    v = verify_case(g, region, spec, timeout=30, method_hint="input", certifiable=True)
    assert v.status == "unsat", v.stats
    folder.mkdir(parents=True, exist_ok=True)
    save(g, folder / "toy-mlp.json")
    return write_bab_certificate(folder / "toy.bab.json", g, [(region, spec)], v.proofs,
                                 model_path=folder / "toy-mlp.json")


def _tube(folder: Path) -> Path:
    """A verified reach tube of the discrete-time toy closed loop (problem folder next to it)."""
    from certnn.control.problem import load_problem
    from certnn.control.reach import decide
    from certnn.control.tube import save_tube
    from tests.control._problems import toy
    folder.mkdir(parents=True, exist_ok=True)
    p = load_problem(toy(folder, steps=6, unsafe_b=-1.5))
    r = decide(p, p.scenarios[0].name)
    assert r.verdict == "verified"
    return save_tube(r.tube, folder / "toy.tube.json")


def _lyapunov(folder: Path) -> Path:
    """A Lyapunov certificate of a barely trained Van der Pol controller: its leaves fail,
    so the view must make no claim (the honest case is the one worth testing)."""
    from certnn.control.lyapunov import SYSTEMS, certify, save_certificate, train
    s = SYSTEMS["vanderpol"]
    tr = train(s, steps=20, batch=64, hidden_v=8, hidden_u=4, lr=1e-2, margin=0.02)
    res = certify(s, tr.V, tr.controller, lo=[0.3, -0.6], hi=[0.6, -0.3], time_limit=3)
    folder.mkdir(parents=True, exist_ok=True)
    return save_certificate(res, tr.V, tr.controller, folder / "vanderpol.json")


def _rl(folder: Path) -> Path:
    """A GridWorld MDP file with its value certificate, a short DQN run folder on GridWorld and one on
    CartPole (both with their recorded greedy rollouts, rollouts/eval.npz)."""
    from certnn.rl.gridworld import GridWorld
    from certnn.rl.mdp import MDP
    from certnn.rl.runs import train_run
    from certnn.rl.solve import save_certificate, value_iteration
    folder.mkdir(parents=True, exist_ok=True)
    _json(folder / "grid.json", GridWorld().to_json())
    save_certificate(value_iteration(MDP.from_json(folder / "grid.json"), 0.01), folder / "grid.json",
                     folder / "grid.cert.json")
    train_run("dqn", "certnn/GridWorld-v0", folder / "dqn", steps=400, eval_episodes=2)
    train_run("dqn", "CartPole-v1", folder / "cartpole", steps=200, eval_episodes=2)
    return folder


def run_folder(root: str) -> Path:
    """Train a 784-32-10 MLP briefly, bound its binary32 error, certify N_CERT test images."""
    from certnn.data.mnist import mnist_arrays
    from certnn.error_budget.report import budget_summary
    from certnn.interop.checkpoint import load_graph
    from certnn.verify.robustness import verify_robustness
    from certnn.zoo.train import TrainConfig, train_mnist
    out = Path(root) / "run"
    train_mnist(TrainConfig(hidden=[32], epochs=2, limit_train=1500, limit_test=200), out=out, progress=False,
                log=lambda s: None)
    graph = load_graph(out)
    x, y = mnist_arrays((784,), None, "test")
    _json(out / "error-budget.json", budget_summary(graph, x[:20]))
    verify_robustness(graph, x[:N_CERT], y[:N_CERT].astype("int64"), EPS, "inf", "crown", "real",
                      out_dir=out / "certificates" / f"eps{EPS:g}-real", model_path=out.resolve(), attack=False)
    _bab(out / "vnncomp-certificates")
    _tube(out / "reach")
    _lyapunov(out / "lyapunov")
    _rl(out / "rl")
    return out


class Block(nn.Module):
    """A transformer-style block (layer norm, attention, MLP, residuals): about 30 graph nodes."""

    def __init__(self, d):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.up, self.down = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):
        h = self.ln1(x)
        a = F.softmax(F.matmul(self.q(h), F.transpose(self.k(h), (0, 2, 1))), axis=-1)
        x = x + self.o(F.matmul(a, self.v(h)))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


def transformer(blocks: int, d: int = 4):
    """A graph of ``blocks`` transformer-style blocks (about 31 nodes each) on (1, 3, d) inputs."""
    from certnn.ir.trace import trace
    from certnn.random import manual_seed
    manual_seed(0)
    g, _ = trace(nn.Sequential(*[Block(d) for _ in range(blocks)]), np.zeros((1, 3, d), np.float32))
    return g
