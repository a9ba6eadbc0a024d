"""Pictures of a reach result (matplotlib): every state over time with the tube
(the enclosures of each time sub-interval, or of each step for a discrete plant),
simulated trajectories and the parts of the spec on that state; every spec
half-space over several states as its own value ``a . x - b`` over time; and
the phase plane of the first two states. A picture shows the same objects the
checker checks; it is evidence of nothing by itself."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .closed_loop import LoopTM
from .flow import flow_step
from .problem import Problem, Scenario
from .sets import functional
from .simulate import Loop, corners_and_samples, simulate
from .taylor import concat

SUB = 4


def tube_enclosures(tube, problem: Problem, scenario: Scenario, sub: int = SUB):
    """(times (T, 2), enclosures TM of shape (T, P, n)): the tube over each of ``sub``
    parts of every period (continuous), or at every step (discrete)."""
    N, P = tube.steps, tube.pieces
    if problem.time == "discrete":
        times = np.array([[k, k] for k in range(N + 1)], np.float64) * float(problem.period)
        return times, concat([t[None] for t in tube.states])
    loop = LoopTM(problem, scenario, int(tube.settings["tm_order"]))
    X = concat([tube.states[k] for k in range(N)])
    cat = lambda f: np.concatenate([f(c) for c in tube.claims])  # noqa: E731
    V, _, _ = loop.network_input(X)
    params = loop.controls(X, V, cat(lambda c: c.a), cat(lambda c: c.r_lo), cat(lambda c: c.r_hi))
    S = int(tube.settings["substeps"])
    h = problem.period / S
    parts, times = [], []
    Y = X
    for j in range(S):
        Bl = np.concatenate([tube.apriori[k][j][0] for k in range(N)])
        Bh = np.concatenate([tube.apriori[k][j][1] for k in range(N)])
        rel = [(h * Fraction(i, sub), h * Fraction(i + 1, sub)) for i in range(sub)]
        _, Y, E = flow_step(loop.f, problem.states, Y, params, h, int(tube.settings["time_order"]), Bl, Bh, rel)
        parts.append(E)                                          # (sub, N * P, n)
        times.append([(j * h + a, j * h + b) for a, b in rel])
    # order: step k, substep j, part i
    encl, tt = [], []
    for k in range(N):
        rows = slice(k * P, (k + 1) * P)
        for j in range(S):
            for i in range(sub):
                encl.append(parts[j][i][rows][None])
                a, b = times[j][i]
                tt.append((float(problem.period * k + a), float(problem.period * k + b)))
    return np.array(tt), concat(encl)


def plot_result(problem: Problem, scenario: Scenario, result, path, trajectories: int = 40, seed: int = 0) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rng = np.random.default_rng(seed)
    loop = Loop.of(problem, scenario)
    x0 = scenario.inner_points(corners_and_samples(scenario.lo, scenario.hi, trajectories, rng))
    per = 10 if problem.time == "continuous" else 1
    tr = simulate(loop, x0, per_period=per)
    cex = None
    if result.counterexample:
        cex = simulate(loop, np.array([result.counterexample["x0"]]), per_period=per)
    prop = scenario.prop
    multi = [h for poly in prop.unsafe for h in poly if np.count_nonzero(h.a_float) > 1] + \
            [h for h in prop.target if np.count_nonzero(h.a_float) > 1]
    n = problem.n
    panels = n + len(multi) + (1 if n >= 2 else 0)
    cols = 2 if panels > 1 else 1
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.2 * rows), squeeze=False)
    axes = axes.ravel()
    enc = None
    if result.tube is not None:
        times, E = tube_enclosures(result.tube, problem, scenario)
        lo, hi = E.range()                                    # (T, P, n)
        enc = (times, E, lo, hi)
    T = float(problem.period * scenario.steps)
    for i in range(n):
        ax = axes[i]
        if enc is not None:
            times, _, lo, hi = enc
            for t, l, u in zip(times, lo[..., i].min(1), hi[..., i].max(1)):
                w = max(t[1] - t[0], T / 400)
                ax.add_patch(Rectangle((t[0], l), w, u - l, color="tab:blue", alpha=0.35, lw=0))
        ax.plot(tr.times, tr.states[..., i].T, color="0.3", lw=0.6, alpha=0.7)
        if cex is not None:
            ax.plot(cex.times, cex.states[0, :, i], color="tab:red", lw=1.5, label="counterexample")
        _spec_lines(ax, prop, i, T)
        ax.set_xlabel("t")
        ax.set_ylabel(problem.states[i])
        ax.autoscale_view()
    for j, h in enumerate(multi):
        ax = axes[n + j]
        a, b = h.a_float, float(h.b)
        if enc is not None:
            times, E = enc[0], enc[1]
            f = functional(E, h)
            flo, fhi = f.range()
            for t, l, u in zip(times, flo.min(1), fhi.max(1)):
                ax.add_patch(Rectangle((t[0], l), max(t[1] - t[0], T / 400), u - l, color="tab:blue", alpha=0.35,
                                       lw=0))
        ax.plot(tr.times, (tr.states @ a - b).T, color="0.3", lw=0.6, alpha=0.7)
        if cex is not None:
            ax.plot(cex.times, cex.states[0] @ a - b, color="tab:red", lw=1.5)
        ax.axhline(0.0, color="tab:red", lw=1)
        ax.set_xlabel("t")
        ax.set_ylabel(h.text(problem.states).replace(" <= ", " - ") + "")
        ax.autoscale_view()
    if n >= 2:
        ax = axes[n + len(multi)]
        if enc is not None:
            _, _, lo, hi = enc
            for l, u in zip(lo.reshape(-1, n), hi.reshape(-1, n)):
                ax.add_patch(Rectangle((l[0], l[1]), u[0] - l[0], u[1] - l[1], fill=False, ec="tab:blue", lw=0.5))
        ax.plot(tr.states[..., 0].T, tr.states[..., 1].T, color="0.3", lw=0.6, alpha=0.7)
        if cex is not None:
            ax.plot(cex.states[0, :, 0], cex.states[0, :, 1], color="tab:red", lw=1.5)
        ax.set_xlabel(problem.states[0])
        ax.set_ylabel(problem.states[1])
        ax.autoscale_view()
    for ax in axes[panels:]:
        ax.axis("off")
    margin = "-" if result.margin is None else f"{result.margin:.4g}"
    fig.suptitle(f"{problem.name} / {scenario.name}: {result.verdict} (tightest margin {margin}); "
                 f"blue: reach tube, grey: simulations, red: spec")
    fig.tight_layout()
    path = Path(path)
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return path


def _spec_lines(ax, prop, i, T):
    """Half-spaces on state i alone: a line at the bound over the window, shaded on
    the unsafe side (unsafe sets) or marked as the target's edge."""
    for poly in prop.unsafe:
        for h in poly:
            a = h.a_float
            if np.count_nonzero(a) == 1 and a[i] != 0:
                bound = float(h.b) / a[i]
                w0, w1 = (float(x) for x in prop.window)
                ax.hlines(bound, w0, w1, color="tab:red", lw=1.2)
                lim = 1e9 if a[i] < 0 else -1e9                      # {a x <= b}: the unsafe side
                ax.fill_between([w0, w1], bound, bound + (abs(bound) + 1) * 0.02 * np.sign(lim),
                                color="tab:red", alpha=0.25, lw=0)
    for h in prop.target:
        a = h.a_float
        if np.count_nonzero(a) == 1 and a[i] != 0:
            t0, t1 = (float(x) for x in prop.target_window)
            ax.hlines(float(h.b) / a[i], max(t0 - T * 0.02, 0), t1, color="tab:green", lw=1.5)
