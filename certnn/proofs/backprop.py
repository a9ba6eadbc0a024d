"""Global backprop theorems: the backward interpreters (the eager tape of
:mod:`certnn.tensor` and the compiled graph's sweep in :mod:`certnn.ir.interpret`,
after tracing and the optimisation passes) compute the gradient of the forward,
proved by running them on NumPy object arrays of sympy symbols.

``backprop/lean-mnist-D-H-C`` is TorchLean's LEAN_mnist theorem at small sizes: a
two-layer MLP ``Linear(D, H) -> ReLU -> Linear(H, C)`` with softmax cross-entropy,
symbolic weights, biases and input, every label, on every ReLU activation
pattern. The loss is written independently in sympy (``log sum exp z - z_y`` with
the pattern's ReLUs as 0/identity) and differentiated by sympy. A pattern is a
region: on it, pre-activation j is ``t_j`` with ``t_j > 0`` (active) or ``t_j < 0``
(inactive); the proof reparametrizes the first bias as ``b1 = t - W1 x`` (a
bijection of the open region), so that the ReLU code's comparisons have a
truth value, and compares the gradients at that point, for all W1, W2, b2, x and
all t of the pattern's signs. Not covered: points with a pre-activation exactly
0 (a kink: the code's convention relu'(0) = 0 is a choice, not a derivative).

``backprop/small-cnn`` and ``backprop/attention`` prove the same for smooth
graphs (conv2d, tanh, avg_pool2d, flatten, linear, transpose, matmul, softmax,
cross_entropy, mse) against sympy's derivative of the graph's own symbolic
forward (its denotation).

``softmax/...``: the stable forms that the code computes (shifted by the row
maximum) equal the textbook formulas, and cross-entropy's gradient is
softmax - onehot, for every row length n <= 8.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from . import symbolic as S
from .theorems import ProofFailed, Theorem


def _modules():
    # imported on use: certnn.nn and certnn.ir pull in the whole core
    import certnn
    from .. import functional as F
    from .. import nn
    from ..tensor import Tensor
    return certnn, F, nn, Tensor


def _gradients(model, run, x, values: dict) -> dict:
    """Set the model's parameters to ``values`` (object arrays), run ``run`` (the
    model or its compiled form) on the input ``x`` and back-propagate the scalar
    loss; the gradients of the parameters and of the input (key ``"input"``)."""
    _, _, _, Tensor = _modules()
    params = dict(model.named_parameters())
    for name, p in params.items():
        p.data, p.grad = values[name], None
    xt = Tensor(x, requires_grad=True)
    run(xt).backward()
    return {**{name: p.grad for name, p in params.items()}, "input": xt.grad}


def _check(got: dict, want: dict, where: str, proved: dict | None = None) -> None:
    """got == want for every parameter; ``proved`` (the eager gradients, already
    proved equal to ``want``) short-cuts entries that are structurally identical."""
    for name, w in want.items():
        g = got[name]
        if g is None:
            raise ProofFailed(f"{where}: no gradient for {name}")
        if proved is not None and all(a == b for a, b in zip(S.objects(g).ravel(), S.objects(proved[name]).ravel())):
            continue
        S.require_equal_arrays(g, w, f"{where}: gradient of {name}")


# ---- LEAN_mnist: 2-layer MLP, ReLU, softmax cross-entropy ---------------------------------

def _mlp_loss(nn, F, D, H, C, label):
    class MLPLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(D, H, dtype=np.float64), nn.ReLU(),
                                     nn.Linear(H, C, dtype=np.float64))
            self.label = np.array([label])

        def forward(self, x):
            return F.cross_entropy(self.net(x), self.label)
    return MLPLoss()


def prove_lean_mnist(D: int, H: int, C: int) -> str:
    certnn, F, nn, _ = _modules()
    W1, W2, b2, x = S.symbols("W1_", (H, D)), S.symbols("W2_", (C, H)), S.symbols("b2_", (C,)), S.symbols("x", (1, D))
    b1 = S.symbols("b1_", (H,))
    on = S.symbols("on", (H,))       # 1 where the ReLU is active, 0 where not
    cases = 0
    for label in range(C):
        model = _mlp_loss(nn, F, D, H, C, label)
        compiled = certnn.compile(model, np.zeros((1, D)))
        # the reference, written independently: the ReLUs as on_j * h_j, differentiated
        # once; a pattern fixes each on_j to 0 or 1 (constants, so d/dtheta commutes with that)
        z = W2 @ (on * (W1 @ x[0] + b1)) + b2
        loss = sympy.log(sympy.Add(*[sympy.exp(zk) for zk in z])) - z[label]
        grad = np.frompyfunc(lambda s: sympy.diff(loss, s), 1, 1)
        reference = {"net.0.weight": grad(W1), "net.0.bias": grad(b1), "net.2.weight": grad(W2),
                     "net.2.bias": grad(b2), "input": grad(x)}
        for pattern in itertools.product((True, False), repeat=H):
            # the region's point: pre-activation j is t_j, of the pattern's sign
            t = np.array([sympy.Symbol(f"t{j}", positive=a, negative=not a) for j, a in enumerate(pattern)],
                         dtype=object)
            at = {**dict(zip(b1, t - W1 @ x[0])), **dict(zip(on, map(int, pattern)))}
            want = {k: np.frompyfunc(lambda e: e.xreplace(at), 1, 1)(v) for k, v in reference.items()}
            values = {"net.0.weight": W1, "net.0.bias": t - W1 @ x[0], "net.2.weight": W2, "net.2.bias": b2}
            where = f"label {label}, ReLU pattern {''.join('+' if a else '-' for a in pattern)}"
            eager = _gradients(model, model, x, values)
            _check(eager, want, f"eager, {where}")
            _check(_gradients(model, compiled, x, values), want, f"compiled, {where}", proved=eager)
            cases += 1
    return (f"{cases} (label, activation pattern) regions x 2 interpreters, "
            f"{D * H + H + C * H + C} parameters and {D} inputs each")


def _lean_theorem(D, H, C) -> Theorem:
    return Theorem(
        name=f"backprop/lean-mnist-{D}-{H}-{C}",
        statement=(f"LEAN_mnist at {D}-{H}-{C}: for the MLP Linear({D}, {H}) -> ReLU -> Linear({H}, {C}) with "
                   "softmax cross-entropy, the gradient that backward() computes, eagerly and through "
                   "certnn.compile (fused linear+relu), equals sympy's derivative of the loss with respect to every "
                   "weight, bias and input, for every label, on every ReLU activation pattern"),
        evidence="proved",
        covers=("certnn.tensor.backpropagate", "certnn.ir.interpret.backward", "certnn.ir.compile",
                "op linear (real, vjp)", "op relu (real, vjp)", "op cross_entropy (real, vjp)"),
        domain=(f"batch 1, sizes {D}-{H}-{C}, float64 parameters as reals; every open activation region "
                f"(all {2 ** H} patterns, no pre-activation exactly 0) and all {C} labels. Other sizes: "
                "shape-generic only by the structure of the code, not machine-checked"),
        prove=lambda: prove_lean_mnist(D, H, C))


# ---- smooth graphs against the derivative of their own symbolic forward -------------------

def _graph_theorem_proof(build, input_shape, name):
    """``build(nn, F)`` returns a module whose forward is a scalar loss of one input."""
    def prove() -> str:
        certnn, F, nn, Tensor = _modules()
        model = build(nn, F)
        compiled = certnn.compile(model, np.zeros(input_shape))
        values = {k: S.symbols(f"{k.replace('.', '_')}_", p.shape) for k, p in model.named_parameters()}
        x = S.symbols("x", input_shape)
        for k, p in model.named_parameters():
            p.data = values[k]
        with certnn.no_grad():
            loss = model(Tensor(x)).data[()]
        loss = S.shift_free(loss, f"{name}: the loss")
        grad = np.frompyfunc(lambda s: sympy.diff(loss, s), 1, 1)
        want = {**{k: grad(v) for k, v in values.items()}, "input": grad(x)}
        eager = _gradients(model, model, x, values)
        _check(eager, want, f"{name}, eager")
        _check(_gradients(model, compiled, x, values), want, f"{name}, compiled", proved=eager)
        return f"{sum(v.size for v in values.values())} parameters and {x.size} inputs, eager and compiled"
    return prove


def _small_cnn(nn, F):
    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 2, padding=1, dtype=np.float64)
            self.fc = nn.Linear(4, 3, dtype=np.float64)

        def forward(self, x):
            h = F.avg_pool2d(F.tanh(self.conv(x)), 2)       # (1, 2, 1, 2)
            return F.cross_entropy(self.fc(F.flatten(h)), np.array([1]))
    return SmallCNN()


def _attention(nn, F):
    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(2, 2, bias=False, dtype=np.float64)

        def forward(self, x):                               # x: (2, 2)
            scores = F.softmax(F.matmul(self.q(x), F.transpose(x, (1, 0))))
            return F.mse(F.matmul(scores, x), F.tanh(x))
    return Attention()


_GRAPHS = {
    "small-cnn": (_small_cnn, (1, 1, 2, 3),
                  "conv2d (padding 1) -> tanh -> avg_pool2d(2) -> flatten -> linear -> cross_entropy, input "
                  "(1, 1, 2, 3)", ("op conv2d", "op tanh", "op avg_pool2d", "op flatten", "op linear",
                                   "op cross_entropy")),
    "attention": (_attention, (2, 2),
                  "softmax(q(x) x^T) x (one attention head: linear, transpose, matmul, softmax, matmul) -> mse "
                  "against tanh(x), input (2, 2)", ("op linear", "op matmul", "op transpose", "op softmax",
                                                    "op tanh", "op mse")),
}


def _graph_theorem(name) -> Theorem:
    build, shape, what, ops = _GRAPHS[name]
    return Theorem(
        name=f"backprop/{name}",
        statement=(f"for the graph {what}, the gradient that backward() computes, eagerly and through "
                   "certnn.compile, equals sympy's derivative of the graph's symbolic forward (its "
                   "denotation: the real rules run on symbols), for every parameter and input"),
        evidence="proved",
        covers=("certnn.tensor.backpropagate", "certnn.ir.interpret.backward", "certnn.ir.compile")
               + tuple(f"{o} (vjp)" for o in ops),
        domain="these shapes, all real parameters and inputs; other shapes by the structure of the code only",
        prove=_graph_theorem_proof(build, shape, name))


# ---- softmax: stable forms, cross-entropy gradient -----------------------------------------

N_MAX = 8


def _row(n):
    return S.symbols("z", (1, n))


def prove_stable_forms() -> str:
    from ..ops.losses import cross_entropy_real
    from ..ops.softmax import log_softmax_real, softmax_real
    for n in range(1, N_MAX + 1):
        z = _row(n)
        e = [sympy.exp(v) for v in z[0]]
        total = sympy.Add(*e)
        sm, lsm = softmax_real(z.copy()), log_softmax_real(z.copy())
        for i in range(n):
            S.require_zero(sm[0, i] - e[i] / total, f"n = {n}: softmax_{i}")
            S.require_zero(lsm[0, i] - (z[0, i] - sympy.log(total)), f"n = {n}: log_softmax_{i}")
            ce = cross_entropy_real(z.copy(), np.array([i]))
            S.require_zero(ce[()] - (sympy.log(total) - z[0, i]), f"n = {n}: cross_entropy, label {i}")
    return f"n = 1..{N_MAX}, every component and label"


def prove_ce_gradient() -> str:
    from ..ops.losses import cross_entropy_real, cross_entropy_vjp
    for n in range(2, N_MAX + 1):
        z = _row(n)
        total = sympy.Add(*[sympy.exp(v) for v in z[0]])
        for label in range(n):
            target = np.array([label])
            out = cross_entropy_real(z.copy(), target)
            g, _ = cross_entropy_vjp(np.array(1, dtype=object), out, z.copy(), target)
            naive = sympy.log(total) - z[0, label]
            for i in range(n):
                want = sympy.exp(z[0, i]) / total - (1 if i == label else 0)
                S.require_zero(g[0, i] - want, f"n = {n}, label {label}: vjp_{i} - (softmax - onehot)_{i}")
                S.require_zero(want - sympy.diff(naive, z[0, i]), f"n = {n}, label {label}: d loss / d z_{i}")
    return f"n = 2..{N_MAX}, every label"


THEOREMS = [
    _lean_theorem(4, 3, 3),
    _lean_theorem(5, 4, 3),
    _graph_theorem("small-cnn"),
    _graph_theorem("attention"),
    Theorem(
        name="softmax/stable-forms",
        statement=("the stable forms the code computes, shifted by the row maximum, equal the textbook "
                   "formulas: softmax_i = e^z_i / sum_j e^z_j, log_softmax_i = z_i - log sum_j e^z_j, and "
                   "cross_entropy(z, y) = log sum_j e^z_j - z_y"),
        evidence="proved",
        covers=("op softmax (real)", "op log_softmax (real)", "op cross_entropy (real)"),
        domain=f"one row of every length n = 1..{N_MAX}, all real z, every label; longer rows by the structure "
               "of the code only",
        prove=prove_stable_forms, quick=True),
    Theorem(
        name="softmax/cross-entropy-gradient",
        statement=("cross-entropy's vjp (with cotangent 1) is softmax(z) - onehot(y), and that is sympy's "
                   "derivative of log sum_j e^z_j - z_y"),
        evidence="proved",
        covers=("op cross_entropy (vjp)",),
        domain=f"one row of every length n = 2..{N_MAX}, all real z, every label y",
        prove=prove_ce_gradient),
]
