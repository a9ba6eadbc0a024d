"""Human-readable views of a graph: a text listing and Graphviz DOT."""

from __future__ import annotations

from ..ops._common import fmt
from .graph import Graph, Node

_DT = {"float32": "f32", "float64": "f64", "int64": "i64", "int32": "i32", "uint8": "u8"}


def _ty(n: Node) -> str:
    return f"{_DT.get(n.dtype, n.dtype)}[{', '.join('N' if d is None else str(d) for d in n.shape)}]"


def _attrs(a: dict) -> str:
    items = [f"{k}={v}" for k, v in a.items() if v is not None]
    return f" {{{', '.join(items)}}}" if items else ""


def _call(n: Node) -> str:
    s = f"{n.op}({', '.join('%' + i for i in n.inputs)}){_attrs(n.attrs)}"
    for op, a in n.post:
        s = f"{op}{_attrs(a)}({s})"
    return s


def to_text(g: Graph) -> str:
    ins = ", ".join(f"%{n.id}: {_ty(n)}" for n in g.inputs)
    lines = [f"graph({ins}) {{"]
    for n in g.nodes:
        if n.op == "input":
            continue
        rhs = n.op if n.is_source else _call(n)
        lines.append(f"  %{n.id} = {rhs} : {_ty(n)}")
    lines.append(f"  return {', '.join('%' + o for o in g.outputs)}")
    lines.append("}")
    return "\n".join(lines)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(g: Graph) -> str:
    lines = ["digraph certnn {", "  rankdir=TB;", "  node [fontname=Helvetica, fontsize=10];"]
    style = {"input": "shape=oval, style=filled, fillcolor=lightblue",
             "param": "shape=box, style=filled, fillcolor=lightyellow",
             "const": "shape=box, style=filled, fillcolor=gray90"}
    for n in g.nodes:
        label = n.id if n.is_source else " + ".join([n.op] + [op for op, _ in n.post])
        label += f"\\n{fmt(n.shape)}"
        lines.append(f"  {_q(n.id)} [label={_q(label)}, {style.get(n.op, 'shape=box, style=rounded')}];")
        for i in n.inputs:
            lines.append(f"  {_q(i)} -> {_q(n.id)};")
    for o in g.outputs:
        lines.append(f"  {_q('out:' + o)} [label=\"output\", shape=oval, style=filled, fillcolor=lightgreen];")
        lines.append(f"  {_q(o)} -> {_q('out:' + o)};")
    lines.append("}")
    return "\n".join(lines)
