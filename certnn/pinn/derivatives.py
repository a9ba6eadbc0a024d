"""Derivatives of a network with respect to its inputs, as graphs.

``jvp_graph(g, x, v)`` is forward-mode differentiation as a graph
transformation (as JAX's ``jvp`` of a jaxpr): every node is copied and, when
it depends on the input ``x``, followed by the nodes of its tangent, written
with ops by the op's tangent rule (:func:`certnn.ops.derivative.tangent_rule`:
``linear`` gives ``linear(dx, W)``, tanh gives ``dz * derivative(z, op=tanh,
wrt=(0,))``, ...). The result is an ordinary graph of the op table, so it runs
with the graph interpreter, is differentiated for training by the ordinary vjp
rules (the derivative op's vjp is the next derivative), is bounded by bound
propagation, and can be transformed again: ``jet_graph`` nests two jvps, giving
u and the first and second partial derivatives a PDE needs in one graph.

Equal nodes are emitted once: the nested jvp along e_j meets the first-order
jvp along e_j of every primal node and reuses it, so u, u_t, u_x and u_xx
cost four forward passes' worth of arithmetic (Taylor mode), not eight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CertnnError, GraphError
from ..ir.graph import Graph, Node
from ..ir.interpret import evaluate
from ..ir.passes import unfuse
from ..ops import get_op
from ..ops.derivative import tangent_rule


class _Emitter:
    """Appends nodes to a graph under construction, emitting each distinct
    (op, inputs, attrs) once; Python numbers become scalar const nodes."""

    def __init__(self, g: Graph, tag: str):
        self.nodes, self.arrays, self.tag = list(g.nodes), dict(g.arrays), tag
        self.dtype = np.dtype(g.inputs[0].dtype)
        self.seen: dict = {}
        for n in g.nodes:
            if not n.is_source:
                self.seen.setdefault(self._key(n.op, n.inputs, n.attrs), n.id)
        self.count = 0

    @staticmethod
    def _key(op, inputs, attrs):
        return op, tuple(inputs), repr(sorted(attrs.items()))

    def _new_id(self, kind: str) -> str:
        self.count += 1
        return f"{self.tag}{kind}{self.count}"

    def const(self, value) -> str:
        a = np.asarray(value, dtype=self.dtype)
        key = ("const", a.tobytes(), a.shape)
        if key not in self.seen:
            nid = self._new_id("c")
            self.nodes.append(Node(nid, "const", shape=a.shape, dtype=str(a.dtype)))
            self.arrays[nid] = a
            self.seen[key] = nid
        return self.seen[key]

    def __call__(self, op_name: str, /, *args, **attrs) -> str:
        ins = tuple(a if isinstance(a, str) else self.const(a) for a in args)
        attrs = get_op(op_name).normalize(attrs)
        key = self._key(op_name, ins, attrs)
        if key not in self.seen:
            nid = self._new_id("t")
            self.nodes.append(Node(nid, op_name, ins, attrs))
            self.seen[key] = nid
        return self.seen[key]


def _jvp_nodes(ap: _Emitter, nodes: list, x: str, v: str) -> dict:
    """Tangents along ``v`` (a node, the tangent of input ``x``) of ``nodes``,
    emitted into ``ap``: node id -> tangent node id, or None where the node
    does not depend on x."""
    tan: dict[str, str | None] = {x: v}
    for n in nodes:
        if n.id in tan:
            continue
        if n.is_source:
            tan[n.id] = None
            continue
        ts = [tan[i] for i in n.inputs]
        tan[n.id] = None if all(t is None for t in ts) else \
            tangent_rule(n.op)(ap, ts, list(n.inputs), n.id, **n.attrs)
    return tan


def _input(g: Graph, x: str | None):
    x = x or g.inputs[0].id
    xn = next((n for n in g.inputs if n.id == x), None)
    if xn is None:
        raise GraphError(f"jvp: the graph has no input '{x}'")
    return xn


def _add_input(ap: _Emitter, xn: Node, v: str) -> None:
    if any(n.id == v for n in ap.nodes):
        raise GraphError(f"jvp: the graph already has a node '{v}'")
    ap.nodes.insert(ap.nodes.index(xn) + 1, Node(v, "input", shape=xn.shape, dtype=xn.dtype))


def jvp_graph(g: Graph, x: str, v: str) -> Graph:
    """The graph with a new input ``v`` (shaped like input ``x``) and, after the
    original outputs, their derivatives along ``v``: d/ds out(x + s v) at s = 0."""
    g = unfuse(g)
    xn = _input(g, x)
    ap = _Emitter(g, f"{v}:")
    _add_input(ap, xn, v)
    tan = _jvp_nodes(ap, g.nodes, x, v)
    missing = [o for o in g.outputs if tan[o] is None]
    if missing:
        raise CertnnError(f"jvp: output(s) {', '.join(missing)} do not depend on the input '{x}'")
    return Graph(ap.nodes, list(g.outputs) + [tan[o] for o in g.outputs], ap.arrays).validate()


@dataclass(frozen=True)
class Jet:
    """A jet graph's layout: ``index`` maps each derivative multi-index (a sorted
    tuple of coordinate positions: () for u, (i,) for du/dx_i, (i, j) for the
    second derivative) to its output position; ``directions`` maps a coordinate
    position to the graph input that carries the unit tangent e_i."""
    dim: int
    input: str
    index: dict
    directions: dict

    def feeds(self, points: np.ndarray, dtype) -> dict:
        points = np.asarray(points, dtype=dtype)
        eye = np.eye(self.dim, dtype=dtype)
        out = {self.input: points}
        for i, d in self.directions.items():
            out[d] = np.broadcast_to(eye[i], points.shape)
        return out

    def split(self, outs: list) -> dict:
        """multi-index -> (n,) array of that derivative."""
        return {m: np.asarray(outs[k]).reshape(-1) for m, k in self.index.items()}


def jet_graph(g: Graph, needs, x: str | None = None) -> tuple[Graph, Jet]:
    """One graph computing u and the derivatives ``needs`` (multi-indices of
    order <= 2) of a one-output network: a jvp along e_i for each coordinate
    used, then, for each second derivative (i, j), the jvp along e_j of the
    nodes of the first (shared nodes are emitted once: the tangent along e_j of
    the primal nodes *is* the first-order jvp along e_j). Nodes no output needs
    are dropped."""
    from ..ir.passes import dead_code
    g = unfuse(g)
    if len(g.outputs) != 1:
        raise GraphError(f"a network for a PDE needs one output, this graph has {len(g.outputs)}")
    xn = _input(g, x)
    dim = int(np.prod(xn.shape[1:]))
    needs = sorted({tuple(sorted(m)) for m in needs} | {()}, key=lambda m: (len(m), m))
    if any(len(m) > 2 for m in needs) or any(not 0 <= i < dim for m in needs for i in m):
        raise CertnnError(f"derivatives {needs} are not of order <= 2 in {dim} coordinates")
    ap = _Emitter(g, "")
    dirs = sorted({i for m in needs for i in m})
    names = {i: f"d{i}" for i in dirs}
    for i in dirs:
        _add_input(ap, xn, names[i])
    u = g.outputs[0]
    first = {i: _jvp_nodes(ap, g.nodes, xn.id, names[i]) for i in dirs}
    out = {(): u}
    out.update({(i,): first[i][u] for i in dirs})
    for i, j in (m for m in needs if len(m) == 2):
        inner = [n for n in ap.nodes]           # primal and first-order nodes
        second = _jvp_nodes(ap, inner, xn.id, names[j])
        out[(i, j)] = second[first[i][u]]
    for m, v in out.items():        # a derivative that is identically 0 (e.g. u_xx of a relu net)
        if v is None:
            out[m] = ap("mul", u, 0.0)
    order = list(out)
    jg = dead_code(Graph(ap.nodes, [out[m] for m in order], ap.arrays).validate())
    return jg, Jet(dim, xn.id, {m: k for k, m in enumerate(order)}, {i: names[i] for i in dirs})


def jet_values(jg: Graph, jet: Jet, points: np.ndarray, arrays: dict | None = None, keep: bool = False):
    """Evaluate the jet graph at ``points``. Returns (derivatives by multi-index,
    (values, chains) for a backward sweep when ``keep``)."""
    dtype = np.dtype(next(n for n in jg.inputs if n.id == jet.input).dtype)
    outs, values, chains = evaluate(jg, jet.feeds(points, dtype), arrays, keep_chains=keep)
    return jet.split(outs), (values, chains)


def jet_backward(jg: Graph, jet: Jet, state, cotangents: dict, sources: set) -> dict:
    """Gradients of sum over derivatives m of <cotangents[m], derivative m> w.r.t.
    the ``sources`` (param ids), through the jet graph's vjp rules."""
    from ..ir.interpret import backward
    values, chains = state
    seeds: dict[str, np.ndarray] = {}
    for m, ct in cotangents.items():
        oid = jg.outputs[jet.index[m]]
        c = np.asarray(ct, dtype=values[oid].dtype).reshape(values[oid].shape)
        seeds[oid] = c if oid not in seeds else seeds[oid] + c
    return backward(jg, values, chains, seeds, sources)
