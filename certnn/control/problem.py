"""The closed-loop problem reader: ``PROBLEM_DIR/spec.json`` + the controller file.

The format is the one of ``$CERTNN_BENCHMARKS/controllers/README.md`` (ARCH-COMP
AINNCS problems): states, controls, dynamics as Python expressions (continuous
time: the right-hand side of ``d(state)/dt``; discrete time: the value at step
k+1), the control period and horizon, the controller (network file, the
network-input map, the control as an expression over the outputs ``y[j]``), the
initial box, the specification and scenarios.

Semantics read from it (the *sampled-data closed loop*): at ``t_k = k * period``
the controller reads ``x(t_k)``, forms the network input, evaluates the network
and the post-processing to get ``u_k``, and ``u_k`` is held constant on
``[t_k, t_k + period]`` (zero-order hold) while the plant evolves; a discrete
plant steps ``x_{k+1} = f(x_k, u_k)`` once per period.

Numbers keep the decimal value written in the file: the dynamics' constants and
the period are exact rationals, and the initial box is enclosed in binary64 by
rounding its bounds outward. Expressions are parsed by :mod:`.expr` (never
``eval``). Every problem with the file raises :class:`ProblemError` naming the
file and the field.

Disturbances (``disturbance_names``, ``disturbance_set``) are supported when
``disturbance_semantics`` says how they vary: ``"constant"`` (one unknown value
for the whole run: an extra state with zero derivative) or ``"zero-order-hold"``
(a new unknown value each control period). Several networks (``controllers``)
are supported when each scenario names the one it uses; a switch between
networks during a run is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import jsonschema
import numpy as np
import sympy

from ..errors import CertnnError
from ..floats.interval import down, up
from ..ir.graph import Graph
from . import expr as ex
from .network import NetworkError, io_sizes, load_npz, load_onnx, load_polar

SPEC_FILE = "spec.json"
DESCRIPTIVE_OK = (str,)
ASSUMPTIONS = {
    "problem-expressions-parsed":
        "the reader's translation of each expression in spec.json (Python syntax, parsed with the ast module, "
        "whitelisted node by node into sympy, decimal literals kept exact) means what the problem's authors "
        "meant by it; the translation is code, tested on the shared benchmarks against the authors' own "
        "simulations (certnn/control/expr.py)",
}


class ProblemError(CertnnError, ValueError):
    """A problem description is missing, malformed or uses an unsupported feature."""


# ------------------------------------------------------------------ data

@dataclass(frozen=True)
class Halfspace:
    """``{x : a . x <= b}`` with exact rational coefficients (one per state)."""
    a: tuple
    b: Fraction

    @property
    def a_float(self) -> np.ndarray:
        return np.array([float(c) for c in self.a])

    def text(self, states) -> str:
        terms = " + ".join(f"{c}*{s}" for c, s in zip(self.a, states) if c != 0) or "0"
        return f"{terms} <= {self.b}"


@dataclass(frozen=True)
class Property:
    """Unsafe set: a union of polyhedra (each an intersection of closed half-spaces),
    to be avoided for every t in ``window``. Target: an intersection of half-spaces
    that every trajectory must be in at some time in ``target_window`` (the final
    time when the window is a point)."""
    unsafe: tuple = ()
    window: tuple | None = None          # (t0, t1) Fractions
    target: tuple = ()
    target_window: tuple | None = None   # (t0, t1) Fractions

    def describe(self, states) -> str:
        parts = []
        if self.unsafe:
            polys = [" and ".join(h.text(states) for h in p) for p in self.unsafe]
            parts.append(f"avoid ({') or ('.join(polys)}) for t in [{_t(self.window[0])}, {_t(self.window[1])}]")
        if self.target:
            w = self.target_window
            when = f"at t = {_t(w[1])}" if w[0] == w[1] else f"at some t in [{_t(w[0])}, {_t(w[1])}]"
            parts.append(f"reach ({' and '.join(h.text(states) for h in self.target)}) {when}")
        return "; ".join(parts)


def _t(q: Fraction) -> str:
    return f"{float(q):g}"


@dataclass(frozen=True)
class Controller:
    name: str
    graph: Graph
    inputs: tuple           # sympy expressions over the states (network input, in order)
    outputs: tuple          # sympy expressions over y[j] (and states), one per control
    files: tuple            # paths read (for digests)


@dataclass(frozen=True)
class Scenario:
    name: str
    lo: np.ndarray          # initial box, outward-rounded binary64 enclosure of the decimal box
    hi: np.ndarray
    steps: int
    prop: Property
    expected: str | None
    controller: str
    exact: tuple = ()       # the decimal box as written: ((lo, hi) Fractions) per state

    def inner_points(self, pts: np.ndarray) -> np.ndarray:
        """Sample points moved into the decimal box: clipped to the binary64 numbers
        inside it, or (a bound that is a non-representable point) to the nearest one."""
        out = np.array(pts, np.float64, copy=True)
        for i, (ql, qh) in enumerate(self.exact):
            a, b = _ceil_float(ql), _floor_float(qh)
            if a <= b:
                out[..., i] = np.clip(out[..., i], a, b)
            else:
                out[..., i] = float(ql)
        return out

    def contains_exact(self, lo, hi) -> bool:
        """Does the box [lo, hi] meet the decimal initial box?"""
        return all(Fraction(float(a)) <= qh and Fraction(float(b)) >= ql
                   for a, b, (ql, qh) in zip(lo, hi, self.exact))


def _ceil_float(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) >= q else float(np.nextafter(f, np.inf))


def _floor_float(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) <= q else float(np.nextafter(f, -np.inf))


@dataclass(frozen=True)
class Problem:
    name: str
    folder: Path
    time: str                       # "continuous" | "discrete"
    states: tuple
    controls: tuple
    dynamics: tuple                 # sympy expressions, one per state
    period: Fraction
    controllers: dict
    scenarios: tuple
    digest: str                     # sha256 over spec.json and the controller files
    held: tuple = ()                # zero-order-hold disturbances (names), with their box
    held_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    held_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return len(self.states)

    def scenario(self, name: str | None = None) -> Scenario:
        if name is None:
            return self.scenarios[0]
        for s in self.scenarios:
            if s.name == name:
                return s
        raise ProblemError(f"{self.folder / SPEC_FILE}: no scenario {name!r} "
                           f"(scenarios: {', '.join(s.name for s in self.scenarios)})")

    def controller_of(self, scenario: Scenario) -> Controller:
        return self.controllers[scenario.controller]


# ------------------------------------------------------------------ schema (checked once, at the boundary)

_NUM = {"type": "number"}
_BOX = {"type": "object", "required": ["lo", "hi"],
        "properties": {"lo": {"type": "array", "items": _NUM}, "hi": {"type": "array", "items": _NUM}}}
_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_EXPR = {"type": ["string", "number"]}
_CONTROLLER = {"type": "object", "properties": {
    "file": {"type": "string"}, "polar_file": {"type": "string"},
    "network_input": {"type": "array", "items": _EXPR, "minItems": 1},
    "control_from_network_output": {"type": "object", "additionalProperties": _EXPR},
    "layer_sizes": {"type": "array", "items": {"type": "integer"}},
    "activations": {"type": "array", "items": {"type": "string"}}},
    "required": ["network_input", "control_from_network_output"]}
SCHEMA = {
    "type": "object",
    "required": ["time", "state_names", "control_names", "dynamics", "control_period", "initial_set"],
    "properties": {
        "name": {"type": "string"},
        "time": {"enum": ["continuous", "discrete"]},
        "state_names": _NAMES, "control_names": _NAMES,
        "disturbance_names": {"type": "array", "items": {"type": "string"}},
        "disturbance_set": _BOX,
        "disturbance_semantics": {"enum": ["constant", "zero-order-hold"]},
        "dynamics": {"type": "object", "additionalProperties": _EXPR},
        "control_period": {"type": "number", "exclusiveMinimum": 0},
        "time_horizon": {"type": "number", "exclusiveMinimum": 0},
        "horizon_steps": {"type": "integer", "minimum": 1},
        "controller": _CONTROLLER,
        "controllers": {"type": "object", "additionalProperties": _CONTROLLER, "minProperties": 1},
        "initial_set": _BOX,
        "specification": {"type": "object"},
        "scenarios": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                 "properties": {"name": {"type": "string"}}}},
    },
}


def _validate(doc, path):
    try:
        jsonschema.validate(doc, SCHEMA)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ProblemError(f"{path}: field '{where}': {e.message}") from None


# ------------------------------------------------------------------ reading

def load_problem(folder) -> Problem:
    folder = Path(folder)
    path = folder / SPEC_FILE if folder.is_dir() else folder
    folder = path.parent
    try:
        raw = path.read_bytes()
        doc = json.loads(raw, parse_float=Decimal)
    except FileNotFoundError:
        raise ProblemError(f"{path}: no such problem file (a problem is a folder with {SPEC_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProblemError(f"{path}: cannot read the problem ({e})") from None
    _validate(doc, path)
    r = _Reader(path, doc)
    return r.problem(raw)


class _Reader:
    def __init__(self, path: Path, doc: dict):
        self.path, self.doc = path, doc

    def fail(self, fld, why):
        raise ProblemError(f"{self.path}: field '{fld}': {why}")

    def expr(self, text, names, fld, output_name=None):
        try:
            return ex.parse(text, names, fld, output_name=output_name)
        except ex.ExpressionError as e:
            self.fail(e.where, e.why)

    # ---- names and dynamics
    def names(self):
        d = self.doc
        states, controls = list(d["state_names"]), list(d["control_names"])
        dist = list(d.get("disturbance_names") or [])
        allnames = states + controls + dist
        for fld, group in (("state_names", states), ("control_names", controls), ("disturbance_names", dist)):
            for n in group:
                if not n.isidentifier() or n in ex.FUNCTIONS or n == "y":
                    self.fail(fld, f"{n!r} is not a usable name (an identifier other than y and "
                                   f"{', '.join(ex.FUNCTIONS)})")
        if len(set(allnames)) != len(allnames):
            self.fail("state_names", "state, control and disturbance names must be distinct")
        return states, controls, dist

    def problem(self, raw: bytes) -> Problem:
        d = self.doc
        if "switching" in d or "controller_switching" in d:
            self.fail("switching" if "switching" in d else "controller_switching",
                      "switching between networks during a run is not supported")
        states, controls, dist = self.names()
        semantics = d.get("disturbance_semantics")
        if dist and semantics is None:
            self.fail("disturbance_names", "the disturbance's behaviour over time is not stated; add "
                      "\"disturbance_semantics\": \"constant\" or \"zero-order-hold\" (arbitrary time-varying "
                      "disturbances are not supported)")
        if dist and "disturbance_set" not in d:
            self.fail("disturbance_set", "disturbance_names needs a disturbance_set box")
        dyn = d["dynamics"]
        if set(dyn) != set(states):
            self.fail("dynamics", f"must give exactly the states {states}, got {sorted(dyn)}")
        symbols = states + controls + dist
        dynamics = [self.expr(dyn[s], symbols, f"dynamics.{s}") for s in states]
        period = Fraction(d["control_period"])
        held, held_lo, held_hi = (), np.zeros(0), np.zeros(0)
        if dist:
            dlo, dhi, dq = self.box(d["disturbance_set"], len(dist), "disturbance_set", exact=True)
            if semantics == "constant":     # an extra state that never changes
                zero = sympy.Integer(0)
                dynamics += [zero if d["time"] == "continuous" else sympy.Symbol(w, real=True) for w in dist]
                states = states + dist
                const_box = (dlo, dhi, [a for a, _ in dq], [b for _, b in dq])
            else:
                held, held_lo, held_hi, const_box = tuple(dist), dlo, dhi, None
        else:
            const_box = None
        controllers, files = self.controllers(states)
        scenarios = self.scenarios(states, period, const_box, controllers)
        h = hashlib.sha256(raw)
        for f in sorted(set(files)):
            h.update(Path(f).read_bytes())
        return Problem(str(d.get("name") or self.path.parent.name), self.path.parent, d["time"], tuple(states),
                       tuple(controls), tuple(dynamics), period, controllers, scenarios, h.hexdigest(),
                       held, held_lo, held_hi)

    # ---- controllers
    def controllers(self, states):
        d = self.doc
        if ("controller" in d) == ("controllers" in d):
            self.fail("controller", "give exactly one of 'controller' and 'controllers'")
        specs = {"default": d["controller"]} if "controller" in d else dict(d["controllers"])
        out, files = {}, []
        for name, c in specs.items():
            fld = "controller" if "controller" in d else f"controllers.{name}"
            ctrl = self.controller(name, c, fld, states)
            out[name] = ctrl
            files += ctrl.files
        return out, files

    def controller(self, name, c, fld, states) -> Controller:
        folder = self.path.parent
        file, polar = c.get("file"), c.get("polar_file")
        if file is None and polar is None:
            self.fail(fld, "needs 'file' (.npz or .onnx) or 'polar_file'")
        files = []
        try:
            if file is not None:
                p = folder / file
                files.append(p)
                g = load_onnx(p) if p.name.lower().endswith((".onnx", ".onnx.gz")) else load_npz(p)
            if polar is not None:
                p = folder / polar
                files.append(p)
                gp, offset, scale = load_polar(p)
                if (offset, scale) != (0.0, 1.0):
                    self.fail(f"{fld}.polar_file", f"output offset/scale ({offset}, {scale}) are not the identity; "
                              "state the post-processing in control_from_network_output instead")
                if file is None:
                    g = gp
                elif not _same_weights(g, gp):
                    self.fail(f"{fld}.polar_file", f"the network differs from {file}")
        except NetworkError as e:
            self.fail(f"{fld}.file", str(e))
        n_in, n_out = io_sizes(g)
        sizes = c.get("layer_sizes")
        if sizes is not None and (sizes[0] != n_in or sizes[-1] != n_out):
            self.fail(f"{fld}.layer_sizes", f"{sizes} does not match the network ({n_in} inputs, {n_out} outputs)")
        acts = c.get("activations")
        if acts is not None and file is not None and file.endswith(".npz"):
            got = [n.op for n in g.nodes if n.op in ("relu", "sigmoid", "tanh")]
            want = [a.lower() for a in acts if a.lower() in ("relu", "sigmoid", "tanh")]
            if got != want:
                self.fail(f"{fld}.activations", f"{acts} does not match the network's activations")
        ins = c["network_input"]
        if len(ins) != n_in:
            self.fail(f"{fld}.network_input", f"{len(ins)} expressions for a network with {n_in} inputs")
        inputs = tuple(self.expr(e, states, f"{fld}.network_input[{i}]") for i, e in enumerate(ins))
        post = c["control_from_network_output"]
        controls = list(self.doc["control_names"])
        if set(post) != set(controls):
            self.fail(f"{fld}.control_from_network_output", f"must give exactly the controls {controls}")
        outputs = []
        for u in controls:
            e = self.expr(post[u], states, f"{fld}.control_from_network_output.{u}", output_name="y")
            bad = [s.name for s in e.free_symbols if s.name.startswith("y[") and int(s.name[2:-1]) >= n_out]
            if bad:
                self.fail(f"{fld}.control_from_network_output.{u}", f"{bad[0]} but the network has {n_out} outputs")
            outputs.append(e)
        return Controller(name, g, inputs, tuple(outputs), tuple(str(f) for f in files))

    # ---- sets and properties
    def box(self, b, n, fld, exact=False):
        lo, hi = b["lo"], b["hi"]
        if len(lo) != n or len(hi) != n:
            self.fail(fld, f"lo and hi need {n} entries each")
        qlo, qhi = [Fraction(v) for v in lo], [Fraction(v) for v in hi]
        if any(a > b for a, b in zip(qlo, qhi)):
            self.fail(fld, "lo exceeds hi somewhere")
        flo = np.array([float(v) for v in qlo])
        fhi = np.array([float(v) for v in qhi])
        # the decimal box, enclosed: a bound that is not exactly a binary64 number steps outward
        flo = np.where([Fraction(f) > q for f, q in zip(flo, qlo)], down(flo), flo)
        fhi = np.where([Fraction(f) < q for f, q in zip(fhi, qhi)], up(fhi), fhi)
        if not (np.isfinite(flo).all() and np.isfinite(fhi).all()):
            self.fail(fld, "bounds must be finite")
        if exact:
            return flo, fhi, tuple(zip(qlo, qhi))
        return flo, fhi

    def scenarios(self, states, period, const_box, controllers):
        d = self.doc
        n_plant = len(d["state_names"])
        spec = d.get("specification")
        if spec is None:
            self.fail("specification", "missing")
        self.box(d["initial_set"], n_plant, "initial_set")
        base = {"initial_set": d["initial_set"], "horizon_steps": d.get("horizon_steps"),
                "time_horizon": d.get("time_horizon")}
        entries = d.get("scenarios") or [{"name": "default"}]
        out = []
        for i, s in enumerate(entries):
            fld = f"scenarios[{i}]" if d.get("scenarios") else "(top level)"
            merged = {**base, **{k: v for k, v in s.items() if k in base}}
            lo, hi, exact = self.box(merged["initial_set"], n_plant, f"{fld}.initial_set"
                                     if "initial_set" in s else "initial_set", exact=True)
            if const_box is not None:
                lo, hi = np.concatenate([lo, const_box[0]]), np.concatenate([hi, const_box[1]])
                exact = exact + tuple(zip(const_box[2], const_box[3]))
            steps = self.steps(merged, period, fld)
            own = {k: v for k, v in s.items() if k in PROPERTY_FIELDS}
            if any(k in FORMS for k in own):    # a scenario's own property replaces the shared one
                merged_spec = {**{k: v for k, v in spec.items() if k not in FORMS}, **own}
            else:
                merged_spec = {**spec, **own}
            prop = self.prop(merged_spec, states, period * steps, fld, own)
            expected = s.get("expected_result")
            if expected not in (None, "verified", "falsified"):
                self.fail(f"{fld}.expected_result", f"{expected!r} is not 'verified' or 'falsified'")
            ctrl = s.get("controller", "default")
            if ctrl not in controllers:
                self.fail(f"{fld}.controller", f"{ctrl!r} is not one of the controllers {sorted(controllers)}")
            out.append(Scenario(str(s["name"]), lo, hi, steps, prop, expected, ctrl, exact))
        names = [s.name for s in out]
        if len(set(names)) != len(names):
            self.fail("scenarios", "scenario names must be distinct")
        return tuple(out)

    def steps(self, m, period, fld):
        steps, horizon = m.get("horizon_steps"), m.get("time_horizon")
        if horizon is not None:
            want = math.ceil(Fraction(horizon) / period)
            if steps is not None and steps != want:
                self.fail(f"{fld}.horizon_steps", f"{steps} but ceil(time_horizon / control_period) = {want}")
            steps = want
        if steps is None:
            self.fail(f"{fld}.horizon_steps", "missing (give horizon_steps or time_horizon)")
        return int(steps)

    def halfspace(self, h, states, fld):
        if not isinstance(h, dict) or not isinstance(h.get("a"), dict) or "b" not in h:
            self.fail(fld, "a half-space is {\"a\": {state: coefficient}, \"b\": number}")
        unknown = [k for k in h["a"] if k not in states]
        if unknown:
            self.fail(f"{fld}.a", f"unknown state(s) {unknown}")
        try:
            a = tuple(Fraction(h["a"].get(s, 0)) for s in states)
            b = Fraction(h["b"])
        except (TypeError, ValueError):
            self.fail(fld, "coefficients must be numbers")
        return Halfspace(a, b)

    def box_halfspaces(self, b, states, fld):
        """A box over some states ({"lo": {state: v}, "hi": {...}} or lo/hi lists) as half-spaces."""
        lo, hi = b.get("lo"), b.get("hi")
        if isinstance(lo, list) and isinstance(hi, list) and len(lo) == len(hi) == len(states):
            lo, hi = dict(zip(states, lo)), dict(zip(states, hi))
        if not isinstance(lo, dict) or not isinstance(hi, dict):
            self.fail(fld, "a box is {\"lo\": [...], \"hi\": [...]} over all states, or maps state -> bound")
        out = []
        for k, v in lo.items():
            if v is not None:
                out.append(self.halfspace({"a": {k: -1}, "b": -Fraction(v)}, states, fld))
        for k, v in hi.items():
            if v is not None:
                out.append(self.halfspace({"a": {k: 1}, "b": Fraction(v)}, states, fld))
        return tuple(out)

    def prop(self, s, states, T, fld, own):
        unsafe, target = [], []
        for key, val in s.items():
            f = f"{fld}.{key}" if key in own else f"specification.{key}"
            if key == "safe_halfspace":       # safe {a.x <= b}: unsafe {a.x >= b} (closed, conservative)
                h = self.halfspace(val, states, f)
                unsafe.append((Halfspace(tuple(-c for c in h.a), -h.b),))
            elif key == "safe_halfspaces_intersection":
                for j, v in enumerate(val):
                    h = self.halfspace(v, states, f"{f}[{j}]")
                    unsafe.append((Halfspace(tuple(-c for c in h.a), -h.b),))
            elif key == "safe_box":
                for h in self.box_halfspaces(val, states, f):
                    unsafe.append((Halfspace(tuple(-c for c in h.a), -h.b),))
            elif key == "unsafe_halfspaces_union":
                unsafe += [(self.halfspace(v, states, f"{f}[{j}]"),) for j, v in enumerate(val)]
            elif key == "unsafe_halfspace":
                unsafe.append((self.halfspace(val, states, f),))
            elif key == "unsafe_polyhedra_union":
                unsafe += [tuple(self.halfspace(h, states, f"{f}[{j}]") for h in p) for j, p in enumerate(val)]
            elif key in ("unsafe_box", "unsafe_boxes_union"):
                for j, b in enumerate(val if key == "unsafe_boxes_union" else [val]):
                    unsafe.append(self.box_halfspaces(b, states, f"{f}[{j}]"))
            elif key == "target_halfspaces_intersection":
                target += [self.halfspace(v, states, f"{f}[{j}]") for j, v in enumerate(val)]
            elif key == "target_halfspace":
                target.append(self.halfspace(val, states, f))
            elif key == "target_box":
                target += list(self.box_halfspaces(val, states, f))
            elif key in PROPERTY_FIELDS or key in DESCRIPTIVE_FIELDS or _descriptive(val):
                continue
            else:
                self.fail(f, "unsupported specification form (supported: " + ", ".join(FORMS) + ")")
        if not unsafe and not target:
            self.fail(f"{fld}.specification", "states no property (an unsafe set, a safe set or a target)")
        window = s.get("time_window")
        if window is not None:
            if not (isinstance(window, list) and len(window) == 2):
                self.fail(f"{fld}.time_window", "expected [t0, t1]")
            w = (Fraction(window[0]), Fraction(window[1]))
            if not 0 <= w[0] <= w[1]:
                self.fail(f"{fld}.time_window", "needs 0 <= t0 <= t1")
        else:
            w = (Fraction(0), T)
        w = (min(w[0], T), min(w[1], T))
        twin = None
        if target:
            twin = w if (window is not None and not unsafe) else (T, T)
        return Property(tuple(unsafe), w if unsafe else None, tuple(target), twin)


FORMS = ("safe_halfspace", "safe_halfspaces_intersection", "safe_box", "unsafe_halfspace",
         "unsafe_halfspaces_union", "unsafe_polyhedra_union", "unsafe_box", "unsafe_boxes_union",
         "target_halfspace", "target_halfspaces_intersection", "target_box")
PROPERTY_FIELDS = FORMS + ("time_window",)
DESCRIPTIVE_FIELDS = ("type", "statement", "unsafe", "source_lines", "notes", "meaning", "check_in_source",
                      "property", "expected_result", "expected_result_source", "name")


def _descriptive(val) -> bool:
    """Prose and source references (strings, lists of {path, line} records) carry no property."""
    if isinstance(val, str):
        return True
    if isinstance(val, list) and all(isinstance(v, dict) and "path" in v for v in val):
        return True
    return False


def _same_weights(a: Graph, b: Graph) -> bool:
    pa = [np.asarray(a.arrays[n.id]) for n in a.nodes if n.op == "param"]
    pb = [np.asarray(b.arrays[n.id]) for n in b.nodes if n.op == "param"]
    return len(pa) == len(pb) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(pa, pb))
