"""ReLU-split branch and bound on any graph :mod:`certnn.bounds` can bound:
convolutions, BatchNorm, pooling, residual additions, reshapes and dense layers.

The root: intermediate bounds of every node CROWN needs, once for the whole
region (CROWN, or alpha-CROWN with optimized intermediate slopes), then
alpha-CROWN on the spec rows alone with those bounds fixed. Each sub-problem
adds sign constraints on relu inputs anywhere in the graph and is bounded by
beta-CROWN (:mod:`certnn.bounds.split`): the root's bounds clipped by its
splits, its parent's slopes and multipliers as a warm start, alpha and beta
optimized jointly, a whole batch of sub-problems per bound call.

Branching: ``babsr`` splits the unstable, unsplit neuron whose upper
relaxation intercept costs the open rows most; ``fsb`` (filtered smart
branching) takes the ``topk`` best neurons by that score and keeps the one
whose better child (``fsb_reduce="max"``, as alpha,beta-CROWN's kfsb runs on
sri_resnet_a; "min": whose worse child) has the best bound after one
beta-CROWN sweep with the parent's parameters (both children of all
candidates in one batch).

Falsification during the search: the input points that minimize the open
sub-problems' bounds, improved by a few PGD steps, are replayed by the caller
(``on_cex``), in the rounds that keep those attacks within ``CEX_SHARE`` of the
search's time (on sri_resnet_a they took a ninth of it, every round, and every
``sat`` there is found before the search); a sub-problem with no neuron left to
split that is not proved ends the search ``unknown`` (the network is linear there, but no LP is set up
for general graphs).

``record``: the search as it runs by default, keeping the split tree and each
leaf's spec slopes and multipliers at the neurons unstable at the root
(:class:`GraphReluProof` with ``keep``): every leaf's intermediate bounds are
the root's clipped by its splits, which the independent checker re-derives
once for the whole box, so a proof costs the checker one CROWN of the graph
plus one spec sweep per leaf (:mod:`certnn.verify.bab_certificate`). An
alpha-CROWN root's slopes go into the certificate too (sparse, see
:func:`root_bounds`'s ``record``), so the checker re-derives the same root.

``certifiable``: every sub-problem's intermediate bounds are recomputed by
plain CROWN under its own constraints from scratch, and kept per leaf with its
constraints, slopes and multipliers. Costly on large networks: one CROWN of
the whole graph per sub-problem, for the producer and the checker alike.

Evidence: an unsat is ``computed`` (float64 bounds), ``certified`` once its
certificate is re-checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..allocator import available_bytes
from ..bounds.crown import intermediate_bounds
from ..bounds.net import Net
from ..bounds.split import batch_region, relu_inputs, split_bounds, sweep
from ..spec.region import Region

BRANCHING = ("babsr", "fsb")
FSB_REDUCE = ("max", "min")     # fsb ranks a candidate by its better / its worse child
ROOT_METHODS = ("crown", "alpha-crown")
PRECISIONS = {"float32": np.float32, "float64": np.float64}
DOMAIN_BYTES = 3 << 30        # memory for the queue of open sub-problems (about 11 KB each on sri_resnet_a)
QUEUE_SHARE = 4               # at most 1/4 of the memory available at the search's start (see queue_budget)
CEX_SHARE = 0.05              # the search's attacks on its open sub-problems: at most this share of its time
CONFIRM = 0.01                # float32 steps: sub-problems' bounds re-done in float64 only above -CONFIRM
PROOF_BYTES = 1 << 30         # a recorded proof's leaves beyond this: the proof is dropped, the search goes on
# a recorded leaf closes only above this bound: the checker's sound arithmetic re-derives
# it a little lower (on sri_resnet_a a leaf the search had closed came out at -1.05e-6:
# the root bounds' outward rounding, up to 2e-8 deep in the net, times the spec's coefficients)
PROOF_MARGIN = 1e-4


@dataclass(frozen=True)
class GraphBabOptions:
    """The search's settings (``verify_case(..., graph_options=...)``).

    ``root``: the whole region's intermediate bounds by CROWN, or by alpha-CROWN
    with the slopes of every intermediate neuron CROWN leaves unstable optimized
    (``root_iters`` steps each, for at most ``root_share`` of the time left;
    alpha,beta-CROWN's root; since stop 33 17-31 s on sri_resnet_a, so the
    share went from 0.07, which stopped it after the first two of eight nodes,
    to 0.3). ``spec_iters``: the root's alpha-CROWN steps on the spec rows.
    ``refresh``: each sub-problem's
    intermediate bounds are recomputed by CROWN under its own splits and
    intersected with its parent's (both are sound on the sub-problem, so is the
    intersection). ``branching``/``topk``/``fsb_reduce``: see the module
    (``fsb`` ranked candidates by the worse child up to stop 34; by the better
    one it needs 27-43 % fewer branches, but on sri_resnet_a its look-ahead
    sweep still costs more time than ``babsr`` saves, docs/bab.md); ``batch``
    sub-problems are bounded per round with ``iters`` joint alpha/beta steps
    (1 since stop 30: warm-started from its parent, a child gains less from more
    steps than the search gains from more children; sri_resnet_a idx 3667, 60 s,
    side by side: worst open bound -0.17 with 1 step, -0.19 with 2, -0.21 to
    -0.22 with 3, -0.24 with 4).
    ``falsify_share``: at most this share of a case's time goes to the attacks
    before any bound (the search attacks its open sub-problems all along, within
    ``CEX_SHARE`` of its time).
    ``precision``: what the alpha/beta optimization steps compute in; with
    ``float32`` every bound that can close a sub-problem is still one float64
    sweep's, at the parameters the float32 steps chose
    (:func:`certnn.bounds.split.split_bounds`, ``confirm``). ``lr_alpha``,
    ``lr_beta``: the Adam steps of the slopes and the multipliers (a new split's
    multiplier starts at 0 and gets only ``iters`` steps: 0.2 needed 17-18 % fewer
    branches than 0.05 on sri_resnet_a's search-closed cases).
    ``chains``: chains of dense layers with more than 16 inputs (MNIST MLPs)
    take this search too, not the chain engine (:mod:`certnn.verify.bab_relu`,
    still used for certificates, input splitting and small inputs): on deep
    MNIST MLPs it runs 13-27x the branches per second and decides more
    within 60 s (``docs/vnncomp.md``). ``chain_batch`` replaces ``batch``
    there: a chain's sweep is cheap next to a round's fixed cost (256 closed
    the 256x4 stand-in's two medium cases in 15.8 s and 41.0 s, against 20.2 s
    and 58.3 s with 32, same branches; on sri_resnet_a 64 was no better than 32).
    ``lazy``: see :func:`certnn.bounds.split.split_bounds`; off (None) by
    default: on sri_resnet_a idx 3667 0.1 closed the case in 121-124 s against
    132 s, on a deep MLP it was no faster (``docs/bab.md``, stop 31)."""
    falsify_share: float = 0.1
    root: str = "alpha-crown"
    root_iters: int = 20
    root_share: float = 0.3
    spec_iters: int = 50
    refresh: bool = False
    branching: str = "babsr"
    topk: int = 3
    batch: int = 32
    iters: int = 1
    precision: str = "float32"
    lr_alpha: float = 0.1
    lr_beta: float = 0.2
    chains: bool = True
    chain_batch: int = 256
    lazy: float | None = None
    fsb_reduce: str = "max"

    @classmethod
    def from_pairs(cls, pairs) -> "GraphBabOptions":
        """The defaults with ``KEY=VALUE`` overrides (a command line's ``--bab``),
        each value read as its field's type ("none" for an optional number,
        true/false/1/0/yes/no for a flag); a ValueError names the pair at fault."""
        from dataclasses import fields
        types = {f.name: str(f.type) for f in fields(cls)}
        kw = {}
        for pair in pairs:
            key, eq, text = str(pair).partition("=")
            key, text = key.strip().replace("-", "_"), text.strip()
            if not eq or not key:
                raise ValueError(f"{pair!r}: expected KEY=VALUE")
            if key not in types:
                raise ValueError(f"{pair!r}: unknown option {key!r}; use one of {', '.join(sorted(types))}")
            if key in kw:
                raise ValueError(f"{pair!r}: {key} given twice")
            kind = types[key]
            try:
                if kind.endswith("| None") and text.lower() == "none":
                    kw[key] = None
                elif kind == "bool":
                    flag = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
                    kw[key] = flag[text.lower()]
                elif kind == "int":
                    kw[key] = int(text)
                elif kind.startswith("float"):
                    kw[key] = float(text)
                else:
                    kw[key] = text
            except (KeyError, ValueError):
                want = {"bool": "true or false", "int": "an integer", "float": "a number"}.get(
                    kind, "a number or none")
                raise ValueError(f"{pair!r}: {key} takes {want}, not {text[:40]!r}") from None
        try:
            return cls(**kw)
        except ValueError as e:
            raise ValueError(f"{', '.join(map(str, pairs))}: {e}") from None

    def overrides(self) -> dict:
        """The settings that differ from the defaults (what a result records)."""
        from dataclasses import asdict
        base = asdict(type(self)())
        return {k: v for k, v in asdict(self).items() if v != base[k]}

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if self.root not in ROOT_METHODS:
            raise ValueError(f"unknown root method {self.root!r}; use one of {', '.join(ROOT_METHODS)}")
        if self.branching not in BRANCHING:
            raise ValueError(f"unknown branching {self.branching!r}; use one of {', '.join(BRANCHING)}")
        if self.fsb_reduce not in FSB_REDUCE:
            raise ValueError(f"unknown fsb_reduce {self.fsb_reduce!r}; use one of {', '.join(FSB_REDUCE)}")
        if self.lazy is not None and not self.lazy >= 0:
            raise ValueError(f"lazy must be None or >= 0, got {self.lazy!r}")
        for name in ("iters", "root_iters", "spec_iters"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)!r}")
        for name in ("batch", "chain_batch", "topk"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("lr_alpha", "lr_beta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("root_share", "falsify_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")


@dataclass
class GraphReluProof:
    """Node 0 is the root. ``split[i] = (k, neuron)`` (k indexes ``split_nodes``,
    neuron is flat) for internal nodes with children ``kids[i] = (plus, minus)``;
    ``leaves`` maps a proved node to its row in ``rows`` (per row: ``splits``
    {z: signs}, ``betas`` {z: (K, *shape)}, ``alphas`` {relu: (K, *shape)},
    ``inter`` {node: (lo, hi)} its intermediate bounds).

    With ``keep`` ({split node: flat neuron indices}, the neurons unstable at the
    root) the leaves' intermediate bounds are the root's clipped by their splits,
    and a row holds only ``alphas`` {relu: (K, len(keep[its input]))} at those
    neurons (any other is stable in every leaf, where its slope does not matter)
    and ``betas`` {z: (flat indices of its split neurons, (K, n) multipliers)} (a
    multiplier of an unsplit neuron multiplies a zero sign). ``group``: the spec
    group the proof is about (its rows alone), None for all of them.
    ``root_slopes``: the root's alpha-CROWN slopes in sparse form, which the
    checker needs to re-derive the root's bounds (``record`` of
    :func:`certnn.bounds.crown.intermediate_bounds`); None: plain CROWN."""
    split_nodes: list
    split: dict = field(default_factory=dict)
    kids: dict = field(default_factory=dict)
    leaves: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    n_nodes: int = 1
    keep: dict | None = None
    relu_of: dict = field(default_factory=dict)   # split node -> its relu (with keep)
    group: int | None = None
    nbytes: int = 0
    root_slopes: dict | None = None


@dataclass
class GraphSplitResult:
    status: str
    stats: dict = field(default_factory=dict)
    x: np.ndarray | None = None         # a replayed counterexample (flat), when sat
    proof: GraphReluProof | None = None


@dataclass
class _Doms:
    splits: dict          # z -> (n, *shape) int8
    alphas: dict          # relu -> (n, K, *shape) float32 (warm starts)
    betas: dict           # z -> (n, K, *shape) float32
    cands: np.ndarray     # (n, c) the best-scored candidate neurons, flat over the relu inputs side by side
    cand_scores: np.ndarray   # (n, c) their branching scores, best first (< 0: no candidate)
    lb: np.ndarray        # (n, K)
    depth: np.ndarray
    node: np.ndarray
    inter: dict | None    # certifiable: node -> ((n, *shape), (n, *shape))

    def __len__(self):
        return self.lb.shape[0]

    def take(self, idx):
        pick = lambda d: {k: v[idx] for k, v in d.items()}  # noqa: E731
        inter = None if self.inter is None else {k: (lo[idx], hi[idx]) for k, (lo, hi) in self.inter.items()}
        return _Doms(pick(self.splits), pick(self.alphas), pick(self.betas), self.cands[idx],
                     self.cand_scores[idx], self.lb[idx], self.depth[idx], self.node[idx], inter)

    @staticmethod
    def cat(parts):
        parts = [p for p in parts if p is not None and len(p)]
        if not parts:
            return None
        cat = lambda name: {k: np.concatenate([getattr(p, name)[k] for p in parts])  # noqa: E731
                            for k in getattr(parts[0], name)}
        inter = None
        if parts[0].inter is not None:
            inter = {k: tuple(np.concatenate([p.inter[k][i] for p in parts]) for i in (0, 1)) for k in parts[0].inter}
        arr = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return _Doms(cat("splits"), cat("alphas"), cat("betas"), arr("cands"), arr("cand_scores"), arr("lb"),
                     arr("depth"), arr("node"), inter)


class _Queue:
    """The open sub-problems, packed. Per relu input only the neurons in ``keep``
    are stored (the ones unstable at the root: when every sub-problem's bounds lie
    within the root's, no other neuron is split, has a slope that matters, a
    multiplier or a branching score; on sri_resnet_a 1,328 of 11,364), in
    preallocated arrays with free slots, so a round copies what it takes and what
    it adds, never the whole queue. ``pop`` gives back full-shape arrays (splits
    and multipliers 0, slopes 0 elsewhere). A sub-problem keeps only its best few
    branching candidates (``_top``), not every neuron's score: with one step per
    round (stop 30) the queue grows about 700 sub-problems a second on sri_resnet_a
    and filled 2 GiB in about 200 s with full scores (half-precision scores cost 4 %
    of the branches side by side: their tie-break is below float16's resolution)."""

    def __init__(self, net: Net, keep: dict, relu_of: dict, proto: _Doms):
        self.net, self.keep, self.relu_of = net, keep, relu_of
        self.z_of = {r: z for z, r in relu_of.items()}
        packed = self._pack(proto)
        self.arrays = {name: np.zeros((0,) + a.shape[1:], a.dtype) for name, a in packed.items()}
        self.per_domain = sum(a.dtype.itemsize * int(np.prod(a.shape[1:])) for a in packed.values())
        self.alive = np.zeros(0, bool)
        self.key = np.zeros(0)              # per slot: the order of the search (lowest first); +inf when free
        self.has_inter = proto.inter is not None

    def __len__(self):
        return int(self.alive.sum())

    def bytes_per_domain(self) -> int:
        return self.per_domain

    def reserve(self, capacity: int) -> None:
        """Room for ``capacity`` sub-problems at once, so that the queue never grows
        by copying. Zeroed arrays this large are mapped lazily (calloc, mmap): only
        the slots ever used take memory. Growing by half instead copied up to 2.6 GB
        at a time, each copy faulting in fresh pages: 16 of a 63 s search on the
        256x6 MNIST stand-in, and 4.8 GB resident. Where the system refuses the
        reservation the queue still grows as needed."""
        extra = capacity - len(self.alive)
        if extra <= 0:
            return
        try:
            grown = {k: np.zeros((capacity,) + a.shape[1:], a.dtype) for k, a in self.arrays.items()}
        except MemoryError:
            return
        for k, a in self.arrays.items():
            grown[k][:len(a)] = a                 # touches the used slots only (concatenate would write all)
        alive, key = np.zeros(capacity, bool), np.full(capacity, np.inf)
        alive[:len(self.alive)], key[:len(self.key)] = self.alive, self.key
        self.arrays, self.alive, self.key = grown, alive, key

    def _pack(self, d: _Doms) -> dict:
        n = len(d)
        out = {"lb": d.lb, "depth": d.depth, "node": d.node, "cands": d.cands, "cand_scores": d.cand_scores}
        for z, v in d.splits.items():
            out["s:" + z] = v.reshape(n, -1)[:, self.keep[z]]
        for z, v in d.betas.items():
            out["b:" + z] = v.reshape(n, v.shape[1], -1)[:, :, self.keep[z]]
        for r, v in d.alphas.items():
            if r in self.z_of:          # a relu's slopes; other relaxed ops' parameters as they are
                out["a:" + r] = v.reshape(n, v.shape[1], -1)[:, :, self.keep[self.z_of[r]]]
            else:
                out["A:" + r] = v
        if d.inter is not None:
            for k, (lo, hi) in d.inter.items():
                out["l:" + k], out["h:" + k] = lo, hi
        return out

    def push(self, d: _Doms | None, key: np.ndarray | None = None) -> None:
        """Store ``d``; ``key`` (n,): its order in :meth:`best` (NaN counts as -inf,
        the first to be taken; none: +inf)."""
        if d is None or not len(d):
            return
        n = len(d)
        free = np.flatnonzero(~self.alive)
        if len(free) < n:
            grow = max(n - len(free), len(self.alive) // 2, 64)     # by half: the copy is the peak
            self.arrays = {k: np.concatenate([a, np.zeros((grow,) + a.shape[1:], a.dtype)])
                           for k, a in self.arrays.items()}
            self.alive = np.concatenate([self.alive, np.zeros(grow, bool)])
            self.key = np.concatenate([self.key, np.full(grow, np.inf)])
            free = np.flatnonzero(~self.alive)
        slots = free[:n]
        for k, v in self._pack(d).items():
            self.arrays[k][slots] = v
        self.alive[slots] = True
        self.key[slots] = np.inf if key is None else np.nan_to_num(key, nan=-np.inf, posinf=np.inf, neginf=-np.inf)

    def best(self, n: int) -> np.ndarray:
        """The slots of the ``n`` stored sub-problems with the lowest keys, lowest
        first, ties to the lower slot: what a stable sort of all of them would
        give, by one partition of the key array (sorting 160,000 keys every round
        took a fifth of a 60 s search on the 256x6 MNIST stand-in)."""
        k, alive = self.key, self.alive
        if n >= len(self):
            sel = np.flatnonzero(alive)
        else:
            t = np.partition(k, n - 1)[n - 1]
            below = np.flatnonzero(alive & (k < t))
            sel = np.concatenate([below, np.flatnonzero(alive & (k == t))[:n - len(below)]])
        return sel[np.lexsort((sel, k[sel]))]

    def pop(self, slots: np.ndarray) -> _Doms:
        a = {k: v[slots] for k, v in self.arrays.items()}
        self.alive[slots] = False
        self.key[slots] = np.inf

        def unpack(packed, z, fill):
            out = np.full(packed.shape[:-1] + (self.net.size(z),), fill, packed.dtype)
            out[..., self.keep[z]] = packed
            return out.reshape(packed.shape[:-1] + self.net.shape(z))

        splits, betas, alphas, inter = {}, {}, {}, None
        for k, v in a.items():
            tag, key = k[:2], k[2:]
            if tag == "s:":
                splits[key] = unpack(v, key, 0)
            elif tag == "b:":
                betas[key] = unpack(v, key, 0.0)
            elif tag == "a:":
                alphas[key] = unpack(v, self.z_of[key], 0.0)
            elif tag == "A:":
                alphas[key] = v
        if self.has_inter:
            inter = {k[2:]: (v, a["h:" + k[2:]]) for k, v in a.items() if k.startswith("l:")}
        return _Doms(splits, alphas, betas, a["cands"], a["cand_scores"], a["lb"], a["depth"], a["node"], inter)


def queue_budget() -> int:
    """Bytes the queue of open sub-problems may fill: ``DOMAIN_BYTES``, or a
    ``QUEUE_SHARE``-th of the memory available now where that is less, so that two
    suite workers and the rest fit beside it. A search past it ends ``unknown``
    rather than having its worker killed for memory."""
    avail = available_bytes()
    return DOMAIN_BYTES if avail is None else int(min(DOMAIN_BYTES, avail // QUEUE_SHARE))


def group_score(lb: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per sub-problem: min over groups of the group's best row (> 0: proved)."""
    return np.min(np.stack([lb[:, groups == g].max(axis=1) for g in range(int(groups.max()) + 1)], 1), axis=1)


def root_bounds(net: Net, region: Region, method: str = "crown", iters: int = 20, deadline: float | None = None,
                alpha_stop: float | None = None, record: dict | None = None):
    """The whole region's bounds of every node CROWN needs, (1, *shape) each; None
    when ``deadline`` passes first. alpha-CROWN takes no step past ``alpha_stop``.
    ``record``: filled with the tuned slopes a certificate carries (see
    :func:`certnn.bounds.crown.intermediate_bounds`)."""
    try:
        b, _ = intermediate_bounds(net, region, "alpha-crown" if method == "alpha-crown" else "crown", iters,
                                   deadline=deadline, alpha_stop=alpha_stop, record=record)
    except TimeoutError:
        return None
    return b


def relu_split_graph(net: Net, region: Region, C: np.ndarray, d: np.ndarray, groups: np.ndarray, root: dict,
                     deadline: float, on_cex=None, *, alphas: dict | None = None, certifiable: bool = False,
                     batch: int = 32, iters: int = 20, root_iters: int = 50, branching: str = "babsr",
                     topk: int = 3, refresh: bool = False, precision: str = "float64", lr_alpha: float = 0.1,
                     lr_beta: float = 0.05, lazy: float | None = None, record: bool = False,
                     fsb_reduce: str = "max") -> GraphSplitResult:
    """Decide ``C y + d`` (C (1, K, out), d (1, K), ``groups`` (K,)) over the one-example
    ``region``: unsat when every sub-problem has every group with a positive row.
    ``root``: bounds valid on the whole region ((1, *shape), see :func:`root_bounds`);
    ``alphas``: spec slopes to start from ((1, K, *shape) per relu). ``on_cex(points)``
    gets flat candidate inputs (n, d) and returns a replayed counterexample or None.
    ``refresh``: each sub-problem's intermediate bounds are CROWN's under its splits
    intersected with its parent's (nodes before the first split reused).
    ``precision``: of the optimization steps (the bounds are float64 sweeps' either way).
    ``record``: keep the proof with the root's intermediate bounds (see the module)."""
    if branching not in BRANCHING:
        raise ValueError(f"unknown branching {branching!r}; use one of {', '.join(BRANCHING)}")
    zs = list(relu_inputs(net))
    K = C.shape[1]
    stats = {"engine": f"graph relu split ({branching})", "branches": 0, "max_depth": 0, "bounded": 1,
             "rounds": 0, "infeasible": 0}
    # certifiable sub-problems' bounds are recomputed from scratch, not within the
    # root's: every neuron is kept there
    keep = {z: (np.arange(net.size(z)) if certifiable else
                np.flatnonzero(((root[z][0] < 0) & (root[z][1] > 0)).reshape(-1))) for z in zs}
    proof = GraphReluProof(zs) if certifiable else \
        GraphReluProof(zs, keep=keep, relu_of=relu_inputs(net)) if record else None
    splits0 = {z: np.zeros((1,) + net.shape(z), np.int8) for z in zs}
    inter0 = {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in root.items() if k != net.input} \
        if certifiable or refresh else None
    work = PRECISIONS[precision]
    margin = PROOF_MARGIN if proof is not None else 0.0
    sb = split_bounds(net, region, C, d, root, splits0, alphas, None, iters=root_iters, deadline=deadline, work=work,
                      proved=margin)
    stats["root_lb"] = float(group_score(sb.lb, groups)[0])
    n_cands = 1 if branching == "babsr" else max(1, topk)
    dom = _Doms(splits0, _f32(sb.alphas), _f32(sb.betas), *_top(sb.scores, zs, n_cands), sb.lb,
                np.zeros(1, np.int64), np.zeros(1, np.int64), inter0)
    if group_score(sb.lb, groups)[0] > margin:
        if proof is not None:
            _add_leaves(proof, dom, [0], sb)
        return GraphSplitResult("unsat", stats, proof=proof)
    queue = _Queue(net, keep, relu_inputs(net), dom)
    max_domains = max(64, queue_budget() // max(1, queue.bytes_per_domain()))
    # a round pops at most `batch` and pushes at most twice that, past the check below
    queue.reserve(max_domains + 2 * max(1, batch))
    queue.push(dom, group_score(sb.lb, groups))
    if on_cex is not None and sb.x is not None:
        x = on_cex(_worst_points(sb.x, sb.lb, region))
        if x is not None:
            return GraphSplitResult("sat", stats, x)
    per_dom = 0.0
    t_search, t_cex = time.monotonic(), 0.0
    while (count := len(queue)):
        if time.monotonic() > deadline:
            score = queue.key[queue.alive]
            return GraphSplitResult("timeout", dict(stats, open=count, worst_lb=float(score.min()),
                                                    open_lb_quartiles=[float(q) for q in
                                                                       np.quantile(score, [0.25, 0.5, 0.75])]))
        if count > max_domains:
            return GraphSplitResult("unknown", dict(stats, reason="too many open sub-problems"))
        left = deadline - time.monotonic()
        n = min(batch, count, max(1, int(left / per_dom)) if per_dom > 0 else batch)
        t_round = time.monotonic()
        cur = queue.pop(queue.best(n))
        choice = _choose(net, region, C, d, root, cur, groups, branching, topk, work, fsb_reduce)
        if choice is None:
            return GraphSplitResult("unknown", dict(stats, reason="a sub-problem with every unstable neuron split "
                                                    "was not proved"))
        kids = _children(cur, choice, zs, proof)
        m = len(kids)
        stats["rounds"] += 1
        stats["branches"] += len(cur)
        stats["bounded"] += m
        stats["max_depth"] = max(stats["max_depth"], int(kids.depth.max()))
        kroot, infeasible = root, np.zeros(m, bool)
        if certifiable or refresh:
            # certifiable: from scratch, as the checker re-derives them; else within the parent's
            kroot, _ = intermediate_bounds(net, batch_region(region, m), "crown", splits=kids.splits,
                                           known=None if certifiable else kids.inter)
            kroot = {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in kroot.items()}
            infeasible = np.zeros(m, bool)
            for k, (lo, hi) in kroot.items():
                if k != net.input:
                    infeasible |= np.any((lo > hi).reshape(m, -1), axis=1)
            kids.inter = {k: v for k, v in kroot.items() if k != net.input}
            kroot = {k: (lo, np.maximum(lo, hi)) for k, (lo, hi) in kroot.items()}   # empty ones: any order
        sb = split_bounds(net, region, np.broadcast_to(C, (m,) + C.shape[1:]), np.broadcast_to(d, (m, K)), kroot,
                          kids.splits, kids.alphas, kids.betas, iters=iters, deadline=deadline, work=work,
                          lr_alpha=lr_alpha, lr_beta=lr_beta,
                          confirm=None if work == np.float64 else CONFIRM, lazy=None if certifiable else lazy,
                          proved=margin)
        kids.alphas, kids.betas, kids.lb = _f32(sb.alphas), _f32(sb.betas), sb.lb
        kids.cands, kids.cand_scores = _top(sb.scores, zs, n_cands)
        score = group_score(sb.lb, groups)
        done = (score > margin) | infeasible
        if margin > 0:
            # a recorded leaf in (0, margin] with no unstable neuron left to split is
            # closed all the same: the checker decides it (else the search ends `unknown`)
            split_all = np.ones(m, bool)
            for z in zs:
                split_all &= np.all(kids.splits[z].reshape(m, -1)[:, keep[z]] != 0, axis=1)
            done |= split_all & (score > 0)
        stats["infeasible"] += int(infeasible.sum())
        if proof is not None:
            _add_leaves(proof, kids, np.flatnonzero(done), sb)
            if proof.nbytes > PROOF_BYTES:
                stats["proof"] = f"dropped: its leaves passed {PROOF_BYTES >> 20} MiB"
                proof = None
        open_ = np.flatnonzero(~done)
        per_dom = (time.monotonic() - t_round) / n
        if on_cex is not None and len(open_) and t_cex <= CEX_SHARE * (time.monotonic() - t_search):
            t = time.monotonic()
            x = on_cex(_worst_points(sb.x[open_], sb.lb[open_], region))
            t_cex += time.monotonic() - t
            if x is not None:
                return GraphSplitResult("sat", stats, x)
        queue.push(kids.take(open_), score[open_])
    return GraphSplitResult("unsat", stats, proof=proof)


def _f32(d: dict) -> dict:
    return {k: np.asarray(v, np.float32) for k, v in d.items()}


def _worst_points(x: np.ndarray, lb: np.ndarray, region: Region) -> np.ndarray:
    """Per open sub-problem, the input point minimizing its weakest row's bound (flat)."""
    k = np.argmin(lb, axis=1)
    pts = x[np.arange(len(k)), k]
    return np.clip(pts, region.lo, region.hi).reshape(len(k), -1)


def _top(scores: dict, zs: list, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sub-problem the ``c`` best-scored neurons, flat over the relu inputs
    ``zs`` side by side (ties: the first), and their scores, best first."""
    s = np.concatenate([scores[z].reshape(len(scores[z]), -1) for z in zs], axis=1)
    c = min(c, s.shape[1])
    if c == 1:
        idx = np.argmax(s, axis=1)[:, None]
    else:
        idx = np.argsort(-s, axis=1, kind="stable")[:, :c]
    return idx, np.take_along_axis(s, idx, 1).astype(np.float32)


def _choose(net, region, C, d, root, cur: _Doms, groups, branching: str, topk: int, work=np.float64,
            reduce: str = "max"):
    """(node index into zs, flat neuron) per sub-problem, or None when some
    sub-problem has no candidate neuron. ``fsb``'s look-ahead sweep runs in
    ``work`` precision (it only ranks candidates); ``reduce``: a candidate is
    worth its better child's bound ("max") or its worse child's ("min")."""
    zs = list(cur.splits)
    offs = np.cumsum([0] + [int(np.prod(cur.splits[z].shape[1:])) for z in zs])
    if np.any(cur.cand_scores[:, 0] < 0):
        return None
    if branching == "babsr" or topk <= 1:
        best = cur.cands[:, 0]
    else:
        n = len(cur)
        k = min(topk, cur.cands.shape[1])
        cand = cur.cands[:, :k]                                               # (n, k)
        valid = cur.cand_scores[:, :k] >= 0
        # both children of every candidate: 2 k n sub-problems, one sweep
        reps = np.repeat(np.arange(n), 2 * k)
        sign = np.tile(np.array([1, -1], np.int8), n * k)
        flat = np.repeat(cand.reshape(-1), 2)
        splits = {z: cur.splits[z][reps].copy() for z in zs}
        _set(splits, zs, offs, np.arange(2 * k * n), flat, sign)
        K = C.shape[1]
        wnet = net.working(work)
        cast = lambda ps: {kk: np.asarray(v[reps], wnet.dtype) for kk, v in ps.items()}  # noqa: E731
        bnds = root if cur.inter is None else \
            {kk: (v[0][reps], v[1][reps]) for kk, v in _with_input(cur.inter, root, net).items()}
        bnds = {kk: (np.asarray(lo, wnet.dtype), np.asarray(hi, wnet.dtype)) for kk, (lo, hi) in bnds.items()}
        lb, *_ = sweep(wnet, region, np.broadcast_to(np.asarray(C, wnet.dtype), (2 * k * n,) + C.shape[1:]),
                       np.broadcast_to(np.asarray(d, wnet.dtype), (2 * k * n, K)), bnds, splits,
                       cast(cur.alphas), cast(cur.betas))
        kid = group_score(lb, groups).reshape(n, k, 2)
        worth = kid.max(axis=2) if reduce == "max" else kid.min(axis=2)
        worth = np.where(valid, worth, -np.inf)
        best = cand[np.arange(n), np.argmax(worth, axis=1)]
    node = np.searchsorted(offs, best, side="right") - 1
    return node, best - offs[node]


def _with_input(inter, root, net):
    out = dict(inter)
    out[net.input] = root[net.input]
    return out


def _set(splits, zs, offs, rows, flat, sign):
    node = np.searchsorted(offs, flat, side="right") - 1
    for j, z in enumerate(zs):
        m = node == j
        if m.any():
            v = splits[z].reshape(splits[z].shape[0], -1)
            v[rows[m], flat[m] - offs[j]] = sign[m]


def _children(cur: _Doms, choice, zs, proof: GraphReluProof | None) -> _Doms:
    """Two children per sub-problem (z >= 0 first, then z <= 0), parameters inherited."""
    node, idx = choice
    n = len(cur)
    kids = _Doms.cat([cur, cur])
    sign = np.concatenate([np.ones(n, np.int8), -np.ones(n, np.int8)])
    offs = np.cumsum([0] + [int(np.prod(cur.splits[z].shape[1:])) for z in zs])
    _set(kids.splits, zs, offs, np.arange(2 * n), np.tile(offs[node] + idx, 2), sign)
    kids.depth = kids.depth + 1
    if proof is not None:
        kids.node = proof.n_nodes + np.arange(2 * n)
        for i in range(n):
            p = int(cur.node[i])
            proof.split[p] = (int(node[i]), int(idx[i]))
            proof.kids[p] = (proof.n_nodes + i, proof.n_nodes + n + i)
        proof.n_nodes += 2 * n
    return kids


def _add_leaves(proof: GraphReluProof, dom: _Doms, idx, sb) -> None:
    if proof.keep is not None:
        z_of = {r: z for z, r in proof.relu_of.items()}
        for i in idx:
            proof.leaves[int(dom.node[i])] = len(proof.rows)
            split = {z: np.flatnonzero(dom.splits[z][i].reshape(-1)) for z in dom.splits}
            row = {"alphas": {r: np.asarray(v[i], np.float64).reshape(v.shape[1], -1)[:, proof.keep[z_of[r]]]
                              for r, v in sb.alphas.items() if r in z_of},
                   "betas": {z: (split[z], np.asarray(v[i], np.float64).reshape(v.shape[1], -1)[:, split[z]])
                             for z, v in sb.betas.items() if split.get(z, ()).size}}
            proof.nbytes += sum(a.nbytes for a in row["alphas"].values()) + \
                sum(a.nbytes + b.nbytes for a, b in row["betas"].values())
            proof.rows.append(row)
        return
    for i in idx:
        proof.leaves[int(dom.node[i])] = len(proof.rows)
        proof.rows.append({"splits": {z: v[i].copy() for z, v in dom.splits.items()},
                           "alphas": {r: np.asarray(v[i], np.float64).copy() for r, v in sb.alphas.items()},
                           "betas": {z: np.asarray(v[i], np.float64).copy() for z, v in sb.betas.items()},
                           "inter": {k: (lo[i].copy(), hi[i].copy()) for k, (lo, hi) in dom.inter.items()}})
