"""Inline rendering in Jupyter: importing this module gives certnn's objects a
``_repr_html_`` (graphs, tensors, bound results, certificates; views and reports
have their own), so a notebook cell that ends with one shows its view.

The core classes cannot import the widgets (the layer contract points the other
way), so the widgets attach the method to them here. ``%load_ext certnn.widgets``
does the same.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..bounds.result import Bounds
from ..ir.graph import Graph
from ..tensor import Tensor
from ..verify.certificate import Certificate
from .page import esc, num, stats, table


def graph_html(g: Graph) -> str:
    from .graph import graph_view
    return graph_view(g)._repr_html_()


def bounds_html(b: Bounds) -> str:
    from .bounds import bounds_view
    first = replace(b, lb=b.lb[:1], ub=None if b.ub is None else b.ub[:1],
                    intermediate={k: (lo[:1], hi[:1]) for k, (lo, hi) in b.intermediate.items()})
    return bounds_view({b.method: first}, b.graph, title=f"{b.method} bounds (example 0 of {len(b.lb)})")._repr_html_()


def certificate_html(c: Certificate) -> str:
    from .certificates import certificate_view
    return certificate_view(c)._repr_html_()


def tensor_html(t: Tensor) -> str:
    """A plain table (no script): shape, dtype, autograd state and value statistics."""
    s = stats(t.data)
    rows = [["shape", "(" + ", ".join(map(str, t.shape)) + ")"], ["dtype", str(t.dtype)],
            ["requires_grad", t.requires_grad], ["produced by", t.node.op.name if t.node is not None else "leaf"]]
    rows += [[k, num(s[k]) if isinstance(s[k], float) else s[k]] for k in
             ("min", "max", "mean", "std", "l2", "zeros", "nonfinite") if k in s]
    if t.grad is not None:
        g = np.asarray(t.grad, np.float64)
        rows.append(["grad L2 norm", num(float(np.sqrt(np.sum(g * g))))])
    head = np.array2string(np.asarray(t.data).reshape(-1)[:8], precision=4, separator=", ")
    return (f'<div class="certnn-tensor"><b>Tensor</b> <code>{esc(head)}{"…" if t.data.size > 8 else ""}</code>'
            + table(["", ""], rows) + "</div>")


def enable() -> None:
    Graph._repr_html_ = graph_html
    Tensor._repr_html_ = tensor_html
    Bounds._repr_html_ = bounds_html
    Certificate._repr_html_ = certificate_html


enable()
