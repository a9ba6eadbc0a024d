"""A layered (Sugiyama-style) drawing of a DAG, fast enough for graphs of
thousands of nodes in plain Python.

* **Ranks.** A computed node sits one rank below its deepest computed input
  (graph inputs at rank 0); a source (parameter, constant) sits one rank above
  its first consumer, next to it, so weights do not pile up in the top row.
* **Order within a rank.** Computed nodes are placed rank by rank at the mean x
  of their inputs (the barycenter heuristic), sources at their consumer's x;
  then each row is swept left to right so that no two boxes overlap, and
  shifted back so that its mean displacement is zero.
"""

from __future__ import annotations

NODE_W, NODE_H, GAP_X, GAP_Y = 150, 36, 18, 64


def layered(n_nodes: int, inputs: list[list[int]], is_source: list[bool], is_input: list[bool]) -> list[tuple]:
    """(x, y) of each node's centre; ``inputs[i]`` are the indices of node i's
    inputs (all smaller than i: the node list is in topological order)."""
    consumers: list[list[int]] = [[] for _ in range(n_nodes)]
    for i, ins in enumerate(inputs):
        for j in ins:
            consumers[j].append(i)
    rank = [0] * n_nodes
    for i in range(n_nodes):
        if not is_source[i] or is_input[i]:
            rank[i] = 1 + max((rank[j] for j in inputs[i] if not is_source[j] or is_input[j]), default=-1)
    # sources hang above their first consumer; an unused source sits at the top
    for i in range(n_nodes):
        if is_source[i] and not is_input[i]:
            rank[i] = max(0, min((rank[c] for c in consumers[i]), default=1) - 1)
    x = [0.0] * n_nodes
    rows: dict[int, list[int]] = {}
    for i in range(n_nodes):
        rows.setdefault(rank[i], []).append(i)
    placed = [False] * n_nodes
    for r in sorted(rows):
        comp = [i for i in rows[r] if not (is_source[i] and not is_input[i])]
        for i in comp:
            known = [x[j] for j in inputs[i] if placed[j]]
            x[i] = sum(known) / len(known) if known else 0.0
        _spread(comp, x)
        for i in comp:
            placed[i] = True
    # second pass: sources at their first consumer's x, offset by their input slot
    for r in sorted(rows):
        for i in rows[r]:
            if is_source[i] and not is_input[i] and consumers[i]:
                c = min(consumers[i])
                slot = inputs[c].index(i) - (len(inputs[c]) - 1) / 2
                x[i] = x[c] + slot * (NODE_W + GAP_X) * 0.6
        _spread(rows[r], x)
    return [(x[i], rank[i] * (NODE_H + GAP_Y)) for i in range(n_nodes)]


def _spread(row: list[int], x: list[float]) -> None:
    """Keep the order of the desired x's, push boxes apart, keep the row's mean."""
    if not row:
        return
    order = sorted(row, key=lambda i: (x[i], i))
    want = [x[i] for i in order]
    got = list(want)
    for k in range(1, len(got)):
        got[k] = max(got[k], got[k - 1] + NODE_W + GAP_X)
    shift = sum(w - g for w, g in zip(want, got)) / len(got)
    for i, g in zip(order, got):
        x[i] = g + shift
