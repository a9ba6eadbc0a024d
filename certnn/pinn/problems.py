"""PDE problems as small declarative descriptions.

A :class:`Problem` names its coordinates and their box, the equation as a sympy
expression that is 0 for a solution (in the symbols ``u``, ``u_t``, ``u_x``,
``u_xx``, ... (the letters after ``_`` are the coordinates differentiated in)
and the coordinates themselves), and its initial/boundary conditions, each
"u = g on the face where coordinate c equals a value". A closed-form
solution, when known, and the comparison theorem that turns residual bounds
into error bounds (:mod:`certnn.pinn.error`) are part of the description.
Nothing here is a hand-written residual function: training, the grid check
and the certified bounds all read the same sympy expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from ..errors import CertnnError
from .reference import burgers_cole_hopf

t, x, y = sympy.symbols("t x y", real=True)
u, u_t, u_x, u_xx, u_y, u_yy = sympy.symbols("u u_t u_x u_xx u_y u_yy", real=True)
pi = sympy.pi


@dataclass(frozen=True)
class Condition:
    """u = ``value`` on the face of the domain where coordinate ``coord`` equals ``at``."""
    name: str
    coord: str
    at: float
    value: sympy.Expr


@dataclass(frozen=True)
class Problem:
    name: str
    coords: tuple                   # coordinate names, in the network's default input order
    lo: tuple                       # the domain box (exact binary64 numbers)
    hi: tuple
    equation: sympy.Expr            # residual: 0 for a solution
    conditions: tuple
    solution: sympy.Expr | None = None
    reference: Callable | None = None  # points (n, d) -> true u, when there is no closed form
    error_theorem: str | None = None   # "heat" or "poisson" (certnn.pinn.error)
    hidden: tuple = (20, 20, 20)       # default architecture (tanh MLP)
    train: dict = field(default_factory=dict)   # default training settings
    doc: str = ""

    # ---- symbols ---------------------------------------------------------------------------
    @property
    def coord_symbols(self) -> tuple:
        return tuple(sympy.Symbol(c, real=True) for c in self.coords)

    def derivative_symbols(self) -> dict:
        """Symbol of u or one of its derivatives -> multi-index (sorted coordinate indices)."""
        out = {}
        names = {s.name for s in self.coord_symbols}
        for s in self.equation.free_symbols:
            if s.name == "u":
                out[s] = ()
            elif s.name.startswith("u_"):
                letters = s.name[2:]
                if any(c not in names for c in letters):
                    raise CertnnError(f"problem {self.name}: symbol {s.name} differentiates in unknown "
                                      f"coordinates (coordinates: {', '.join(self.coords)})")
                out[s] = tuple(sorted(self.coords.index(c) for c in letters))
            elif s.name not in names:
                raise CertnnError(f"problem {self.name}: unknown symbol {s.name} in the equation")
        return out

    def needs(self) -> list:
        return list(self.derivative_symbols().values())

    def face(self, c: Condition) -> tuple[np.ndarray, np.ndarray]:
        """The condition's face as a (degenerate) box."""
        k = self.coords.index(c.coord)
        lo, hi = np.array(self.lo, float), np.array(self.hi, float)
        lo[k] = hi[k] = c.at
        return lo, hi

    def grid(self, n: int) -> tuple[np.ndarray, tuple]:
        """An n x n (x ...) grid of the closed domain: points (n^d, d) and the grid shape."""
        axes = [np.linspace(a, b, n) for a, b in zip(self.lo, self.hi)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1), tuple(len(a) for a in axes)

    @property
    def has_reference(self) -> bool:
        return self.solution is not None or self.reference is not None

    def exact(self, points: np.ndarray) -> np.ndarray:
        """The true solution at ``points`` (n, d): the closed form, else the reference method."""
        if self.solution is None:
            if self.reference is None:
                raise CertnnError(f"problem {self.name} has no closed-form or reference solution")
            return self.reference(points)
        f = sympy.lambdify(self.coord_symbols, self.solution, "numpy")
        return np.broadcast_to(np.asarray(f(*points.T), float), (len(points),)).copy()

    def check_solution(self) -> sympy.Expr:
        """The equation and conditions applied to the closed form (0 when it solves them)."""
        syms = self.derivative_symbols()
        cs = self.coord_symbols
        sub = {s: sympy.diff(self.solution, *[cs[i] for i in m]) if m else self.solution for s, m in syms.items()}
        res = [sympy.simplify(self.equation.subs(sub))]
        for c in self.conditions:
            k = self.coords.index(c.coord)
            res.append(sympy.simplify((self.solution - c.value).subs(cs[k], c.at)))
        return res


# ---- the built-in problems --------------------------------------------------------------------

NU = sympy.Rational(1, 100) / pi

BURGERS = Problem(
    "burgers", ("t", "x"), (0.0, -1.0), (1.0, 1.0),
    u_t + u * u_x - NU * u_xx,
    (Condition("initial", "t", 0.0, -sympy.sin(pi * x)),
     Condition("left", "x", -1.0, sympy.Integer(0)),
     Condition("right", "x", 1.0, sympy.Integer(0))),
    reference=lambda p: burgers_cole_hopf(p[:, 0], p[:, 1]),
    hidden=(20,) * 9,
    # one-stage form of the two-stage run recorded in benchmarks/results/pinn.json (docs/pinn.md)
    train={"points": 4000, "boundary": 100, "adam": 1500, "batch": 2000, "lbfgs": 5600, "rounds": 14, "add": 500,
           "lr": 2e-3},
    doc="viscous Burgers, nu = 0.01/pi (Raissi et al. 2019; the dCROWN benchmark)")

HEAT_K = sympy.Integer(1)
HEAT = Problem(
    "heat", ("t", "x"), (0.0, 0.0), (1.0, 1.0),
    u_t - HEAT_K * u_xx,
    (Condition("initial", "t", 0.0, sympy.sin(pi * x)),
     Condition("left", "x", 0.0, sympy.Integer(0)),
     Condition("right", "x", 1.0, sympy.Integer(0))),
    solution=sympy.exp(-HEAT_K * pi ** 2 * t) * sympy.sin(pi * x),
    error_theorem="heat",
    train={"points": 2000, "boundary": 200, "adam": 2000, "batch": 500, "lbfgs": 3000, "rounds": 6, "add": 300,
           "lr": 3e-3},
    doc="heat equation u_t = u_xx, one Fourier mode")

POISSON = Problem(
    "poisson", ("x", "y"), (0.0, 0.0), (1.0, 1.0),
    -(u_xx + u_yy) - 2 * pi ** 2 * sympy.sin(pi * x) * sympy.sin(pi * y),
    (Condition("left", "x", 0.0, sympy.Integer(0)), Condition("right", "x", 1.0, sympy.Integer(0)),
     Condition("bottom", "y", 0.0, sympy.Integer(0)), Condition("top", "y", 1.0, sympy.Integer(0))),
    solution=sympy.sin(pi * x) * sympy.sin(pi * y),
    error_theorem="poisson",
    train={"points": 2000, "boundary": 200, "adam": 2000, "lbfgs": 3000, "lr": 3e-3},
    doc="-Laplace u = 2 pi^2 sin(pi x) sin(pi y) on the unit square, u = 0 on the boundary")

ALLEN_CAHN = Problem(
    "allen-cahn", ("t", "x"), (0.0, -1.0), (1.0, 1.0),
    u_t - sympy.Rational(1, 100) * u_xx - u + u ** 3,
    (Condition("initial", "t", 0.0, sympy.Rational(53, 100) * x + sympy.Rational(47, 100) * sympy.sin(-3 * pi * x / 2)),
     Condition("left", "x", -1.0, sympy.Integer(-1)),
     Condition("right", "x", 1.0, sympy.Integer(1))),
    train={"points": 3000, "boundary": 200, "adam": 2000, "lbfgs": 4000, "lr": 3e-3},
    doc="Allen-Cahn u_t = 0.01 u_xx + u - u^3 with u(t, +-1) = +-1 (Trefethen's metastable example)")

PROBLEMS = {p.name: p for p in (BURGERS, HEAT, POISSON, ALLEN_CAHN)}


def get_problem(name: str) -> Problem:
    if name not in PROBLEMS:
        raise CertnnError(f"unknown problem {name!r}; built-in problems: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]
