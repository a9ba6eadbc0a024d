"""Jet graphs: u, first and second input derivatives of networks as graphs of
the op table, against torch.autograd (create_graph=True) on random nets and
against sympy on small symbolic nets, for every elementwise op with a sympy
form; and the weight gradients of a loss that contains them."""

import numpy as np
import pytest
import sympy
import torch

from certnn.ir.graph import Graph, Node
from certnn.ops import all_ops
from certnn.pinn.derivatives import jet_backward, jet_graph, jet_values, jvp_graph

ELEMENTWISE = [op for op in all_ops() if op.elementwise and op.sympy_form is not None and op.name != "derivative"]
TORCH = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp, "abs": torch.abs,
         "gelu": torch.nn.functional.gelu, "softplus": torch.nn.functional.softplus, "neg": torch.neg,
         "leaky_relu": lambda a: torch.nn.functional.leaky_relu(a, 0.01),
         "log": torch.log, "sqrt": torch.sqrt,
         "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
         "maximum": torch.maximum, "minimum": torch.minimum}
NEEDS = [(0,), (1,), (0, 0), (0, 1), (1, 1)]


def _net(op, rng):
    """A random 2 -> 5 -> op -> 3 -> 1 net; a binary op combines two hidden layers.
    Positive-domain ops (log, sqrt) get softplus-shifted inputs."""
    n = op.arity[0]
    W = [rng.normal(size=(5, 2)) for _ in range(n)]
    b = [rng.normal(size=5) for _ in range(n)]
    V, c = rng.normal(size=(1, 5)), rng.normal(size=1)
    nodes = [Node("x", "input", shape=(None, 2), dtype="float64")]
    arrays = {"V": V, "c": c}
    ins = []
    for i in range(n):
        arrays[f"W{i}"], arrays[f"b{i}"] = W[i], b[i]
        nodes += [Node(f"W{i}", "param", shape=(5, 2), dtype="float64"),
                  Node(f"b{i}", "param", shape=(5,), dtype="float64"),
                  Node(f"z{i}", "linear", ("x", f"W{i}", f"b{i}"))]
        z = f"z{i}"
        if op.name in ("log", "sqrt") or (op.name == "div" and i == 1):
            nodes.append(Node(f"p{i}", "softplus", (z,)))
            arrays[f"one{i}"] = np.array(0.5)
            nodes += [Node(f"one{i}", "const", shape=(), dtype="float64"), Node(f"q{i}", "add", (f"p{i}", f"one{i}"))]
            z = f"q{i}"
        ins.append(z)
    nodes += [Node("h", op.name, tuple(ins)), Node("V", "param", shape=(1, 5), dtype="float64"),
              Node("c", "param", shape=(1,), dtype="float64"), Node("u", "linear", ("h", "V", "c"))]
    g = Graph(nodes, ["u"], arrays).validate()

    def torch_u(X, P):
        zs = []
        for i in range(n):
            z = X @ P[f"W{i}"].T + P[f"b{i}"]
            if op.name in ("log", "sqrt") or (op.name == "div" and i == 1):
                z = torch.nn.functional.softplus(z) + 0.5
            zs.append(z)
        return (TORCH[op.name](*zs) @ P["V"].T + P["c"])[:, 0]
    return g, torch_u


def _torch_derivs(torch_u, X, P):
    u = torch_u(X, P)
    gu = torch.autograd.grad(u.sum(), X, create_graph=True, allow_unused=True, materialize_grads=True)[0]
    out = {(): u, (0,): gu[:, 0], (1,): gu[:, 1]}
    for i in (0, 1):
        h = torch.autograd.grad(gu[:, i].sum(), X, create_graph=True, allow_unused=True, materialize_grads=True)[0]
        for j in (i, 1):
            out[(i, j)] = h[:, j]
    return out


@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda o: o.name)
def test_jet_matches_torch_create_graph(op):
    rng = np.random.default_rng(abs(hash(op.name)) % 2**32)
    g, torch_u = _net(op, rng)
    jg, jet = jet_graph(g, NEEDS)
    pts = rng.uniform(-1, 1, (9, 2))
    d, state = jet_values(jg, jet, pts, keep=True)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in g.arrays.items()}
    X = torch.tensor(pts, requires_grad=True)
    ref = _torch_derivs(torch_u, X, P)
    for m in [()] + NEEDS:
        np.testing.assert_allclose(d[m], ref[m].detach().numpy(), rtol=1e-9, atol=1e-10, err_msg=f"{op.name} {m}")
    # a loss containing u, u_0 and u_11: weight gradients through the jet graph's vjp rules
    loss = (ref[(1, 1)] ** 2).sum() + (ref[()] * ref[(0,)]).sum()
    params = [n.id for n in g.params]
    tg = torch.autograd.grad(loss, [P[k] for k in params], allow_unused=True)
    cts = {(1, 1): 2 * d[(1, 1)], (): d[(0,)], (0,): d[()]}
    gr = jet_backward(jg, jet, state, cts, set(params))
    for k, t in zip(params, tg):
        want = np.zeros_like(g.arrays[k]) if t is None else t.numpy()
        np.testing.assert_allclose(gr.get(k, np.zeros_like(want)), want, rtol=1e-8, atol=1e-9,
                                   err_msg=f"{op.name} d/d{k}")


def test_jet_matches_sympy_on_a_symbolic_net():
    """u = V tanh(W x + b) with rational weights: sympy differentiates the formula."""
    W = np.array([[0.5, -1.25], [2.0, 0.75], [-0.5, 1.5]])
    b, V = np.array([0.25, -0.5, 1.0]), np.array([[1.5, -2.0, 0.5]])
    nodes = [Node("x", "input", shape=(None, 2), dtype="float64"), Node("W", "param", shape=(3, 2), dtype="float64"),
             Node("b", "param", shape=(3,), dtype="float64"), Node("z", "linear", ("x", "W", "b")),
             Node("h", "tanh", ("z",)), Node("V", "param", shape=(1, 3), dtype="float64"),
             Node("u", "linear", ("h", "V"))]
    g = Graph(nodes, ["u"], {"W": W, "b": b, "V": V}).validate()
    x0, x1 = sympy.symbols("x0 x1", real=True)
    X = sympy.Matrix([x0, x1])
    z = sympy.Matrix(W.tolist()).applyfunc(sympy.nsimplify) * X + sympy.Matrix(b.tolist()).applyfunc(sympy.nsimplify)
    s = z.applyfunc(sympy.tanh)
    u = (sympy.Matrix(V.tolist()).applyfunc(sympy.nsimplify) * s)[0]
    jg, jet = jet_graph(g, NEEDS)
    pts = np.array([[0.3, -0.7], [-1.1, 0.4], [0.0, 0.0]])
    d, _ = jet_values(jg, jet, pts)
    for m in [()] + NEEDS:
        e = sympy.lambdify((x0, x1), sympy.diff(u, *[(x0, x1)[i] for i in m]) if m else u)
        want = [float(e(*p)) for p in pts]
        np.testing.assert_allclose(d[m], want, rtol=1e-12, atol=1e-13, err_msg=str(m))


def test_jvp_graph_is_a_graph_of_ops_and_nests():
    rng = np.random.default_rng(0)
    op = next(o for o in ELEMENTWISE if o.name == "tanh")
    g, _ = _net(op, rng)
    g1 = jvp_graph(g, "x", "v")
    assert len(g1.outputs) == 2 and {n.op for n in g1.nodes} <= {"input", "param", "const", "linear", "tanh",
                                                                     "mul", "sub", "add", "neg"}
    g2 = jvp_graph(g1, "x", "w")
    assert len(g2.outputs) == 4
    from certnn.ir import evaluate
    x = rng.uniform(-1, 1, (4, 2))
    e0, e1 = np.tile([1.0, 0.0], (4, 1)), np.tile([0.0, 1.0], (4, 1))
    outs = evaluate(g2, {"x": x, "v": e0, "w": e1})[0]
    jg, jet = jet_graph(g, [(0, 1)])
    d, _ = jet_values(jg, jet, x)
    np.testing.assert_allclose(outs[3].ravel(), d[(0, 1)], rtol=1e-12)


def test_second_level_reuses_first_level_nodes():
    """u, u_t, u_x, u_xx cost about four passes: the nested jvp's tangents of the
    primal nodes are the first-order nodes, emitted once."""
    rng = np.random.default_rng(1)
    op = next(o for o in ELEMENTWISE if o.name == "tanh")
    g, _ = _net(op, rng)
    jg, _ = jet_graph(g, [(0,), (1,), (1, 1)])
    linears = sum(n.op == "linear" for n in jg.nodes)
    # four per layer, less the first layer's second derivative (identically 0: x enters linearly)
    assert linears == 4 * sum(n.op == "linear" for n in g.nodes) - 1
