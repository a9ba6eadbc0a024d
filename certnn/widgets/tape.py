"""The autograd tape of one training step: the tensors in forward (creation)
order, the order in which the backward sweep visits them, and each one's
gradient (total cotangent) norm, recorded from the eager tape through the
sweep's ``observe`` hook (:func:`certnn.tensor.backpropagate`)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor, backpropagate, reachable
from .page import Evidence, View, num, table


def record_step(model, x, labels) -> dict:
    """Run ``cross_entropy(model(x), labels)`` eagerly and sweep backward once,
    recording the tape: per tensor its name, op, inputs, shape, value norm, its
    forward and backward positions and its gradient norm. Gradients are left in the
    parameters' ``.grad`` as a training step would (call ``zero_grad`` to reuse)."""
    names = {id(p): k for k, p in model.named_parameters()}
    xt = Tensor(np.asarray(x))
    logits = model(xt)
    loss = F.cross_entropy(logits, np.asarray(labels))
    tape = reachable([loss])
    label, n_op, n_leaf = {}, 0, 0
    for t in tape:
        if t is xt:
            label[id(t)] = "x"
        elif id(t) in names:
            label[id(t)] = names[id(t)]
        elif t.node is None:
            n_leaf += 1
            label[id(t)] = f"c{n_leaf}"
        else:
            n_op += 1
            label[id(t)] = f"t{n_op}"
    seen = []
    backpropagate([loss], [np.ones_like(loss.data)],
                  observe=lambda t, g: seen.append((id(t), float(np.linalg.norm(np.asarray(g, np.float64))))))
    bwd = {tid: (k, norm) for k, (tid, norm) in enumerate(seen)}
    rows = []
    for k, t in enumerate(tape):
        kind = "input" if t is xt else ("param" if id(t) in names else ("const" if t.node is None else t.node.op.name))
        b = bwd.get(id(t))
        rows.append({"name": label[id(t)], "op": kind, "fwd": k,
                     "inputs": [label[id(i)] for i in t.node.inputs] if t.node is not None else [],
                     "shape": list(t.shape), "dtype": str(t.dtype),
                     "value_norm": float(np.linalg.norm(np.asarray(t.data, np.float64))) if t.dtype.kind == "f" else None,
                     "bwd": None if b is None else b[0], "grad_norm": None if b is None else b[1]})
    return {"loss": float(loss.data), "batch": len(labels), "nodes": rows}


def tape_view(step: dict, title: str = "Autograd tape of one training step", anchor: str = "tape") -> View:
    rows = sorted((r for r in step["nodes"] if r["bwd"] is not None), key=lambda r: r["bwd"])
    params = [r for r in step["nodes"] if r["op"] == "param"]
    body = (f"<p>Loss (mean cross-entropy over a batch of {step['batch']}): {num(step['loss'])}. "
            f"{len(step['nodes'])} tensors on the tape, {len(rows)} visited by the backward sweep "
            "(reverse creation order, tensors that need a gradient only).</p>"
            + table(["parameter", "shape", "value norm", "gradient norm", "gradient / value"],
                    [[p["name"], "x".join(map(str, p["shape"])), num(p["value_norm"]), num(p["grad_norm"] or 0.0),
                      num((p["grad_norm"] or 0.0) / p["value_norm"]) if p["value_norm"] else "-"] for p in params],
                    "tape-params"))
    ev = [Evidence("forward values, cotangents and their norms", "computed",
                   "one eager step in the model's dtype; each cotangent comes from its op's vjp rule, which the "
                   "conformance suite tests (adjoint identity, central differences)")]
    return View(title, "tape", body, step, ev, scripts=("tape.js",), anchor=anchor)
