"""VNN-COMP VNNLIB properties -> (input box, unsafe output set) pairs.

The subset (that of the VNN-COMP benchmarks)::

    (declare-const X_i Real)      inputs, i = 0..n-1: element i of the row-major
    (declare-const Y_j Real)      flattened model input / output
    (assert F)                    all asserts hold together
    F := (and F ...) | (or F ...) | (<= T T ...) | (>= ...) | (< ...) | (> ...) | (= ...)
    T := number | X_i | Y_j | (+ T ...) | (- T ...) | (* T ...) | (/ T number)

with linear terms only, and no constraint mixing X and Y variables. Strict
comparisons are read as non-strict for bounding (the closed set contains the
open one, so an ``unsat`` over it holds for the property as written), while
``VnnlibProperty.is_counterexample`` keeps them strict: a point on the boundary
of a strict constraint is not a counterexample, and ``certnn vnncomp`` never
reports one. Decimal constants become the nearest float64.

The asserts together describe the *unsafe* inputs/outputs: a counterexample is
an x in the input box whose output y satisfies them. The formula is put in
disjunctive normal form; each conjunct (a "cube") is a box on X (every X_i
must be bounded above and below) and rows G y + h <= 0 on Y. Cubes with the
same box share one ``LinearSpec.unsafe_set`` (an OR over the cubes' ANDs); an
``or`` over different input boxes gives several (box, spec) cases. A cube whose
constraints contradict (lo > hi, or a false constant comparison) is dropped;
when every cube is, the property has no cases and ``empty`` says why (no input
satisfies the asserts, so there is no counterexample).

Tokenizing is one regular-expression pass; comments are blanked in place so
every error can name its line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..io import max_bytes, read_text
from .errors import SpecMismatch, VnnlibError

_COMMENT = re.compile(r";[^\n]*")
_TOKEN = re.compile(r"[()]|[^\s();]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_VAR = re.compile(r"([XY])_([0-9]{1,9})\Z")     # ASCII digits only: X_٣ is not X_3
_MAX_CUBES = 100_000
_MAX_ATOMS = 10_000_000       # atoms over all disjuncts of the expanded DNF
_MAX_DEPTH = 200              # nesting of parentheses (the parser recurses on it)
_IGNORED = {"check-sat", "get-model", "set-logic", "set-info", "set-option", "exit"}
_CMP = {"<=", "<", ">=", ">", "="}


@dataclass(frozen=True)
class InputBox:
    """lo <= x <= hi for the flattened model input (float64 arrays)."""

    lo: np.ndarray
    hi: np.ndarray

    def region(self, shape=None):
        """A one-example ``certnn.spec.region.Region`` box of the given input shape."""
        from ..spec.region import Region
        shape = (self.lo.size,) if shape is None else tuple(shape)
        return Region.box(self.lo.reshape((1,) + shape), self.hi.reshape((1,) + shape))


@dataclass(frozen=True)
class VnnlibProperty:
    """The parsed property: ``cases`` is a list of (InputBox, LinearSpec);
    the property is violated when some case has an x in its box whose output
    lies in its spec's unsafe set. Iterating the property iterates the cases."""

    cases: list = field(default_factory=list)
    n_inputs: int = 0
    n_outputs: int = 0
    source: str = "<vnnlib>"
    exact: list = field(default_factory=list)  # per cube: (lo, hi, lo_strict, hi_strict, G, h, strict)
    empty: str | None = None                   # no cases: why the asserts admit no input

    def is_counterexample(self, x, y) -> bool:
        """Does (x, y) (flattened input and output) satisfy the asserts as written,
        strict comparisons strict? The check a reported ``sat`` must pass."""
        x = np.asarray(x, np.float64).reshape(-1)
        y = np.asarray(y, np.float64).reshape(-1)
        if x.size != self.n_inputs or y.size != self.n_outputs:
            return False
        for lo, hi, lo_strict, hi_strict, G, h, strict in self.exact:
            inside = np.all(np.where(lo_strict, x > lo, x >= lo)) and np.all(np.where(hi_strict, x < hi, x <= hi))
            v = G @ y + h
            if inside and np.all(np.where(strict, v < 0, v <= 0)):
                return True
        return False

    def __iter__(self):
        return iter(self.cases)

    def __len__(self):
        return len(self.cases)

    def __getitem__(self, i):
        return self.cases[i]


# ---------------------------------------------------------------- reading and tokens

def load_vnnlib(path) -> VnnlibProperty:
    """Parse a ``.vnnlib`` or ``.vnnlib.gz`` file (certnn.io's limits: a regular
    file, gzip decompressed up to the size cap, UTF-8 with or without a BOM)."""
    return parse_vnnlib(read_text(path, "VNNLIB property", VnnlibError), str(path))


class _Parser:
    def __init__(self, text: str, source: str):
        self.text, self.source = text, source

    def error(self, msg: str, pos: int) -> VnnlibError:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - self.text.rfind("\n", 0, pos)
        return VnnlibError(msg, self.source, line, col)

    def sexprs(self) -> list:
        """Top-level s-expressions; a list is (pos, [items]), an atom (pos, str)."""
        blanked = _COMMENT.sub(lambda m: " " * len(m.group()), self.text)
        stack: list = [(0, [])]
        for m in _TOKEN.finditer(blanked):
            tok = m.group()
            if tok == "(":
                if len(stack) > _MAX_DEPTH:
                    raise self.error(f"parentheses nest deeper than {_MAX_DEPTH} levels", m.start())
                stack.append((m.start(), []))
            elif tok == ")":
                if len(stack) == 1:
                    raise self.error("unbalanced ')': no open '(' to close", m.start())
                done = stack.pop()
                stack[-1][1].append(done)
            else:
                stack[-1][1].append((m.start(), tok))
        if len(stack) > 1:
            raise self.error("unbalanced '(': never closed", stack[-1][0])
        return stack[0][1]


def _short(tok: str) -> str:
    return tok if len(tok) <= 40 else tok[:37] + "..."


def _is_list(e) -> bool:
    return isinstance(e[1], list)


# ---------------------------------------------------------------- parsing

def parse_vnnlib(text: str, source: str = "<vnnlib>") -> VnnlibProperty:
    """Parse VNNLIB text; ``source`` names it in error messages."""
    p = _Parser(text.removeprefix("\ufeff"), source)
    decl: dict[tuple[str, int], int] = {}   # (kind, index) -> position of the declaration
    asserts = []
    for e in p.sexprs():
        if not _is_list(e) or not e[1] or _is_list(e[1][0]):
            raise p.error("expected a command like (declare-const ...) or (assert ...)", e[0])
        head = e[1][0][1]
        if head == "declare-const":
            _declare(p, e, decl)
        elif head == "assert":
            if len(e[1]) != 2:
                raise p.error("assert takes exactly one formula", e[0])
            asserts.append(e[1][1])
        elif head not in _IGNORED:
            raise p.error(f"unknown command '{head}'", e[1][0][0])
    n_x, n_y = _counts(p, decl)
    cx = _Context(p, decl)
    _check_size(p, asserts, n_x)
    common: list = []
    crossed = [[]]
    for a in asserts:
        d = cx.dnf(a)
        if len(d) == 1:
            common.extend(d[0])
        else:
            crossed = _product(p, crossed, d, a[0])
    return _cases(p, decl, common, crossed, n_x, n_y)


def _declare(p: _Parser, e, decl) -> None:
    items = e[1]
    if len(items) != 3 or _is_list(items[1]) or _is_list(items[2]):
        raise p.error("expected (declare-const NAME Real)", e[0])
    pos, name = items[1]
    m = _VAR.match(name)
    if not m:
        raise p.error(f"variable '{_short(name)}' is not X_<i> or Y_<i> (i: at most 9 ASCII digits)", pos)
    if items[2][1] != "Real":
        raise p.error(f"variable '{name}' must be declared Real, not '{items[2][1]}'", items[2][0])
    key = (m.group(1), int(m.group(2)))
    if key in decl:
        raise p.error(f"variable '{name}' declared twice", pos)
    decl[key] = pos


def _counts(p: _Parser, decl) -> tuple[int, int]:
    out = []
    for kind in "XY":
        idx = sorted(i for k, i in decl if k == kind)
        if not idx:
            raise p.error(f"no {kind}_i variables declared", len(p.text))
        if idx != list(range(len(idx))):
            gap = next(i for i, j in enumerate(idx) if i != j)
            raise p.error(f"{kind} variables must be numbered 0..{idx[-1]}: {kind}_{gap} is not declared",
                          decl[(kind, idx[-1])])
        out.append(len(idx))
    return out[0], out[1]


def _dnf_size(e) -> tuple[int, int]:
    """(disjuncts, atoms over all disjuncts) of ``e``'s DNF, counted without expanding
    it (capped just above the limits, so the numbers stay small)."""
    if not _is_list(e) or not e[1] or _is_list(e[1][0]):
        return 1, 1
    head, args = e[1][0][1], e[1][1:]
    if head == "and":
        cubes, atoms = 1, 0
        for a in args:
            c, t = _dnf_size(a)
            cubes, atoms = min(cubes * c, _MAX_CUBES + 1), min(atoms * c + t * cubes, _MAX_ATOMS + 1)
        return cubes, atoms
    if head == "or":
        sizes = [_dnf_size(a) for a in args]
        return min(sum(c for c, _ in sizes), _MAX_CUBES + 1), min(sum(t for _, t in sizes), _MAX_ATOMS + 1)
    return 1, max(1, len(args) - 1) * (2 if head == "=" else 1)


def _check_size(p: _Parser, asserts, n_x: int) -> None:
    """Refuse a property whose DNF (the asserts' conjunction) would not fit in memory,
    before building any of it."""
    cubes, atoms = 1, 0
    for a in asserts:
        c, t = _dnf_size(a)
        cubes, atoms = min(cubes * c, _MAX_CUBES + 1), min(atoms * c + t * cubes, _MAX_ATOMS + 1)
        if cubes > _MAX_CUBES:
            raise p.error(f"the formula expands to more than {_MAX_CUBES} disjuncts", a[0])
        if atoms > _MAX_ATOMS:
            raise p.error(f"the formula expands to more than {_MAX_ATOMS} constraints over all disjuncts", a[0])
    if cubes * (n_x * 18 + 8) > max_bytes():
        raise p.error(f"{cubes} disjuncts over {n_x} inputs need more than {max_bytes()} bytes", 0)


def _product(p, a: list, b: list, pos: int) -> list:
    if len(a) * len(b) > _MAX_CUBES:
        raise p.error(f"the formula expands to more than {_MAX_CUBES} disjuncts", pos)
    return [x + y for x in a for y in b]


class _Context:
    """Formulas to DNF over atoms; an atom is (pos, kind, coeffs, const, strict)
    meaning sum coeffs[i] * kind_i + const <= 0 (< 0 when strict), kind "X", "Y"
    or "" (no variables)."""

    def __init__(self, p: _Parser, decl):
        self.p, self.decl = p, decl

    def dnf(self, e) -> list:
        p = self.p
        if not _is_list(e) or not e[1]:
            raise p.error("expected a formula like (<= X_0 1), (and ...) or (or ...)", e[0])
        head_pos, head = e[1][0]
        if _is_list(e[1][0]):
            raise p.error("expected an operator", head_pos)
        args = e[1][1:]
        if head == "and":     # conjuncts with one disjunct first: no copying per argument
            single, multi = [], []
            for a in args:
                d = self.dnf(a)
                if len(d) == 1:
                    single.extend(d[0])
                else:
                    multi.append((d, a[0]))
            out = [single]
            for d, pos in multi:
                out = _product(p, out, d, pos)
            return out
        if head == "or":
            if not args:
                raise p.error("(or) needs at least one formula", e[0])
            return [cube for a in args for cube in self.dnf(a)]
        if head in _CMP:
            if len(args) < 2:
                raise p.error(f"'{head}' needs two terms", e[0])
            terms = [self.term(a) for a in args]
            cube = []
            strict = head in ("<", ">")
            for (pa, la), (pb, lb) in zip(terms, terms[1:]):
                if head in ("<=", "<", "="):
                    cube.append(self.atom(pa, la, lb) + (strict,))
                if head in (">=", ">", "="):
                    cube.append(self.atom(pa, lb, la) + (strict,))
            return [cube]
        if head in ("not", "=>", "xor", "ite"):
            raise p.error(f"operator '{head}' is outside the supported VNNLIB subset", head_pos)
        raise p.error(f"unknown operator '{head}'", head_pos)

    def atom(self, pos, lhs, rhs):
        """lhs <= rhs as (pos, kind, coeffs, const) of lhs - rhs <= 0."""
        coeffs = dict(lhs[0])
        for v, c in rhs[0].items():
            coeffs[v] = coeffs.get(v, 0.0) - c
        coeffs = {v: c for v, c in coeffs.items() if c != 0.0}
        const = lhs[1] - rhs[1]
        if not (np.isfinite(list(coeffs.values())).all() and np.isfinite(const)):
            raise self.p.error("a coefficient or constant of this constraint overflows float64 "
                               "(or is NaN)", pos)
        kinds = {v[0] for v in coeffs}
        if len(kinds) > 1:
            raise self.p.error("a constraint mixing X and Y variables is not supported", pos)
        kind = kinds.pop() if kinds else ""
        return (pos, kind, {v[1]: c for v, c in coeffs.items()}, const)

    def term(self, e):
        """(pos, (coeffs {(kind, i): c}, const))."""
        p = self.p
        pos = e[0]
        if not _is_list(e):
            tok = e[1]
            m = _VAR.match(tok)
            if m:
                key = (m.group(1), int(m.group(2)))
                if key not in self.decl:
                    raise p.error(f"unknown variable '{tok}' (not declared)", pos)
                return pos, ({key: 1.0}, 0.0)
            if _NUMBER.match(tok):
                if not np.isfinite(float(tok)):
                    raise p.error(f"number '{_short(tok)}' overflows float64", pos)
                return pos, ({}, float(tok))
            raise p.error(f"unknown variable or bad number '{_short(tok)}'", pos)
        if not e[1] or _is_list(e[1][0]):
            raise p.error("expected an arithmetic operator", pos)
        op_pos, op = e[1][0]
        args = [self.term(a)[1] for a in e[1][1:]]
        if not args:
            raise p.error(f"'{op}' needs arguments", pos)
        if op == "+":
            return pos, _lin_sum(args, [1.0] * len(args))
        if op == "-":
            if len(args) == 1:
                return pos, _lin_sum(args, [-1.0])
            return pos, _lin_sum(args, [1.0] + [-1.0] * (len(args) - 1))
        if op == "*":
            var = [a for a in args if a[0]]
            if len(var) > 1:
                raise p.error("product of two variable terms is not linear", op_pos)
            k = 1.0
            for a in args:
                if not a[0]:
                    k *= a[1]
            base = var[0] if var else ({}, 1.0)
            return pos, ({v: k * c for v, c in base[0].items()}, k * base[1])
        if op == "/":
            if len(args) != 2 or args[1][0] or args[1][1] == 0.0:
                raise p.error("'/' takes a term and a non-zero constant", op_pos)
            d = args[1][1]
            return pos, ({v: c / d for v, c in args[0][0].items()}, args[0][1] / d)
        if op in _CMP or op in ("and", "or"):
            raise p.error(f"'{op}' is a formula, but a term is expected here", op_pos)
        raise p.error(f"unknown operator '{op}'", op_pos)


def _lin_sum(args, signs):
    coeffs: dict = {}
    const = 0.0
    for (co, k), s in zip(args, signs):
        for v, c in co.items():
            coeffs[v] = coeffs.get(v, 0.0) + s * c
        const += s * k
    return coeffs, const


# ---------------------------------------------------------------- cubes -> cases

def _cases(p: _Parser, decl, common, crossed, n_x: int, n_y: int) -> VnnlibProperty:
    from ..spec.linear import LinearSpec

    base = _Cube(n_x, n_y)
    false = "a comparison of constants is false"
    if not base.add(p, common):
        return VnnlibProperty([], n_x, n_y, p.source, empty=false)
    groups: dict[bytes, tuple] = {}
    exact = []
    why = None
    for extra in crossed:
        cube = base.copy()
        if not cube.add(p, extra):
            why = why or false
            continue
        bad = ~(np.isfinite(cube.lo) & np.isfinite(cube.hi))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            side = "lower" if not np.isfinite(cube.lo[i]) else "upper"
            raise p.error(f"input X_{i} has no {side} bound (every X_i must lie in a box)", decl[("X", i)])
        if np.any(cube.lo > cube.hi):  # an empty input box: no counterexample there
            i = int(np.argmax(cube.lo > cube.hi))
            why = why or f"X_{i} >= {float(cube.lo[i])!r} and X_{i} <= {float(cube.hi[i])!r} leave no value for X_{i}"
            continue
        key = cube.lo.tobytes() + cube.hi.tobytes()
        G = np.array(cube.G) if cube.G else np.zeros((1, n_y))   # no output constraint: always unsafe
        h = np.array(cube.h) if cube.h else np.zeros(1)
        strict = np.array(cube.strict) if cube.h else np.zeros(1, bool)
        groups.setdefault(key, (cube.lo, cube.hi, []))[2].append((G, h))
        exact.append((cube.lo, cube.hi, cube.lo_strict, cube.hi_strict, G, h, strict))
    cases = [(InputBox(lo, hi), LinearSpec.unsafe_set(disj)) for lo, hi, disj in groups.values()]
    return VnnlibProperty(cases, n_x, n_y, p.source, exact, None if cases else why)


class _Cube:
    def __init__(self, n_x: int, n_y: int):
        self.n_y = n_y
        self.lo, self.hi = np.full(n_x, -np.inf), np.full(n_x, np.inf)
        self.lo_strict, self.hi_strict = np.zeros(n_x, bool), np.zeros(n_x, bool)
        self.G: list = []
        self.h: list = []
        self.strict: list = []

    def copy(self) -> "_Cube":
        c = _Cube.__new__(_Cube)
        c.n_y, c.lo, c.hi, c.G, c.h = self.n_y, self.lo.copy(), self.hi.copy(), list(self.G), list(self.h)
        c.lo_strict, c.hi_strict, c.strict = self.lo_strict.copy(), self.hi_strict.copy(), list(self.strict)
        return c

    def add(self, p: _Parser, atoms) -> bool:
        """Conjoin ``atoms``; False when a constant comparison is false."""
        idx, bound, upper, strict_x = [], [], [], []
        for pos, kind, coeffs, const, strict in atoms:
            if kind == "":
                if const > 0 or (strict and const == 0):
                    return False
            elif kind == "X":
                if len(coeffs) != 1:
                    raise p.error("an input constraint on several X variables is not supported "
                                  "(inputs must form a box)", pos)
                (i, c), = coeffs.items()
                if not np.isfinite(-const / c):
                    raise p.error(f"the bound on X_{i} overflows float64", pos)
                idx.append(i)
                bound.append(-const / c + 0.0)  # + 0.0: no -0.0 bounds
                upper.append(c > 0)
                strict_x.append(strict)
            else:
                row = np.zeros(self.n_y)
                for j, c in coeffs.items():
                    row[j] = c
                self.G.append(row)
                self.h.append(const)
                self.strict.append(strict)
        for i, b, up, st in zip(idx, bound, upper, strict_x):  # the tighter bound wins; strict on a tie
            if up and b < self.hi[i] or not up and b > self.lo[i]:
                (self.hi if up else self.lo)[i] = b
                (self.hi_strict if up else self.lo_strict)[i] = st
            elif b == (self.hi if up else self.lo)[i]:
                (self.hi_strict if up else self.lo_strict)[i] |= st
        return True


# ---------------------------------------------------------------- model check

def check_against(prop: VnnlibProperty, graph) -> None:
    """Raise ``SpecMismatch`` unless the property's X / Y counts equal the
    model's flattened input / output sizes (the batch dim not counted)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise SpecMismatch(f"{prop.source}: VNNLIB properties need a model with one input and one "
                           f"output; this one has {len(graph.inputs)} and {len(graph.outputs)}")
    n_in = _size(graph.inputs[0].shape)
    n_out = _size(graph.node(graph.outputs[0]).shape)
    if (prop.n_inputs, prop.n_outputs) != (n_in, n_out):
        raise SpecMismatch(f"{prop.source}: the property has {prop.n_inputs} inputs (X) and "
                           f"{prop.n_outputs} outputs (Y), the model {n_in} and {n_out}")


def _size(shape) -> int:
    return int(np.prod([d for d in shape if d is not None], dtype=np.int64))
