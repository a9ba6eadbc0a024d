"""Expressions of a problem description, parsed safely and compiled once.

A problem's dynamics, network-input map and output post-processing are Python
expressions in a JSON file. They are *never* evaluated as Python: the text is
parsed with :mod:`ast` and only a whitelist of node kinds is translated into a
sympy expression (numbers, the problem's names, ``+ - * / **``, unary minus,
``y[j]`` and the functions in :data:`FUNCTIONS`). A numeric literal keeps the
exact decimal value written in the file (``0.05`` is 1/20, not the binary64
number nearest to it), so the expressions are exact rational-coefficient
functions.

:func:`compile_tape` turns a sympy expression into a *tape*: a list of
operations in evaluation order (``const``, ``var``, ``add``, ``sub``, ``mul``,
``div``, ``neg`` and the unary functions), with integer powers expanded into
products. One tape is read by several algebras (NumPy floats for simulation,
intervals and Taylor models for enclosures, truncated power series for the
Taylor method) through :func:`evaluate`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fractions import Fraction

import sympy

from ..errors import CertnnError

FUNCTIONS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "exp": sympy.exp,
             "log": sympy.log, "sqrt": sympy.sqrt}
UNARY = ("sin", "cos", "exp", "log", "sqrt")       # tape ops; tan = sin / cos
MAX_TEXT, MAX_POWER = 10_000, 64


class ExpressionError(CertnnError, ValueError):
    """An expression in a problem file uses something the reader does not accept.
    ``where`` names the field, ``why`` says what is wrong."""

    def __init__(self, where: str, why: str):
        self.where, self.why = where, why
        super().__init__(f"{where}: {why}")


def parse(text, names, where: str, output_name: str | None = None) -> sympy.Expr:
    """The sympy expression of ``text`` over the symbols ``names`` (and
    ``output_name[j]`` when given: the network outputs). ``where`` names the
    field for error messages."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(where, f"expected an expression string, got {text!r}")
    if len(text) > MAX_TEXT:
        raise ExpressionError(where, f"expression longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(where, f"not a valid expression ({e.msg}): {text!r}") from None
    symbols = {n: sympy.Symbol(n, real=True) for n in names}
    return _Translator(text.strip(), symbols, where, output_name).visit(tree.body)


def output_symbol(j: int, output_name: str = "y") -> sympy.Symbol:
    return sympy.Symbol(f"{output_name}[{j}]", real=True)


class _Translator:
    def __init__(self, text, symbols, where, output_name):
        self.text, self.symbols, self.where, self.out = text, symbols, where, output_name

    def fail(self, node, why):
        seg = ast.get_source_segment(self.text, node) or type(node).__name__
        raise ExpressionError(self.where, f"{why}: {seg!r}")

    def visit(self, node):
        if isinstance(node, ast.Constant):
            return sympy.Rational(self.number(node))
        if isinstance(node, ast.Name):
            if node.id in self.symbols:
                return self.symbols[node.id]
            self.fail(node, f"unknown name (known: {', '.join(self.symbols) or 'none'})")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            x = self.visit(node.operand)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.BinOp):
            a, b = self.visit(node.left), self.visit(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                if b == 0:
                    self.fail(node, "division by zero")
                return a / b
            if isinstance(node.op, ast.Pow):
                if not b.is_Rational or (not b.is_Integer and b.q != 2) or abs(b) > MAX_POWER:
                    self.fail(node, f"exponents must be integer or half-integer constants up to {MAX_POWER}")
                return a ** b
            self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords \
                    or len(node.args) != 1:
                self.fail(node, f"only one-argument calls of {', '.join(FUNCTIONS)} are allowed")
            return FUNCTIONS[node.func.id](self.visit(node.args[0]))
        if isinstance(node, ast.Subscript) and self.out is not None and isinstance(node.value, ast.Name) \
                and node.value.id == self.out:
            idx = node.slice
            if isinstance(idx, ast.Constant) and isinstance(idx.value, int) and not isinstance(idx.value, bool) \
                    and idx.value >= 0:
                return output_symbol(idx.value, self.out)
            self.fail(node, f"{self.out}[...] needs a non-negative integer index")
        self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def number(self, node) -> Fraction:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(node, "only real numbers are allowed as constants")
        seg = (ast.get_source_segment(self.text, node) or repr(v)).replace("_", "")
        try:
            return Fraction(seg)            # the decimal as written, exactly
        except ValueError:
            return Fraction(v)              # e.g. a hexadecimal integer


# ------------------------------------------------------------------ tapes

@dataclass(frozen=True)
class Tape:
    """Operations in evaluation order: ``("const", Fraction)``, ``("var", name)``,
    ``(op, i[, j])`` with i, j indices of earlier operations. ``outputs`` are the
    indices of the compiled expressions."""
    ops: tuple
    outputs: tuple

    @property
    def names(self) -> set:
        return {o[1] for o in self.ops if o[0] == "var"}


def compile_tape(exprs) -> Tape:
    """One tape for several sympy expressions (common subexpressions shared)."""
    ops, memo = [], {}

    def emit(op):
        if op not in memo:
            memo[op] = len(ops)
            ops.append(op)
        return memo[op]

    def power(b: int, n: int) -> int:       # binary exponentiation, n >= 1
        if n == 1:
            return b
        half = power(b, n // 2)
        sq = emit(("mul", half, half))
        return emit(("mul", sq, b)) if n % 2 else sq

    def walk(e) -> int:
        if e.is_Rational:
            return emit(("const", Fraction(int(e.p), int(e.q))))
        if e.is_Symbol:
            return emit(("var", e.name))
        if e.is_Add or e.is_Mul:
            args = [walk(a) for a in e.args]
            acc = args[0]
            for a in args[1:]:
                acc = emit(("add" if e.is_Add else "mul", acc, a))
            return acc
        if e.is_Pow:
            b, n = walk(e.base), e.exp
            if n.is_Integer:
                k = int(n)
                if k == 0:
                    return emit(("const", Fraction(1)))
                p = power(b, abs(k))
                return p if k > 0 else emit(("div", emit(("const", Fraction(1))), p))
            if n.is_Rational and n.q == 2:
                r = emit(("sqrt", b))
                k = int(n.p)
                p = r if abs(k) == 1 else emit(("mul", power(b, (abs(k) - 1) // 2), r))
                return p if k > 0 else emit(("div", emit(("const", Fraction(1))), p))
        name = type(e).__name__
        if name == "tan":
            a = walk(e.args[0])
            return emit(("div", emit(("sin", a)), emit(("cos", a))))
        if name in UNARY:
            return emit((name, walk(e.args[0])))
        raise ExpressionError("expression", f"cannot compile {e} ({name})")

    outs = tuple(walk(sympy.sympify(e)) for e in exprs)
    return Tape(tuple(ops), outs)


def evaluate(tape: Tape, env: dict, alg) -> list:
    """Evaluate every output of ``tape`` with variable values ``env`` in the algebra
    ``alg`` (an object with ``const, add, sub, mul, div, neg`` and the unary
    functions; ``const`` receives a Fraction)."""
    vals = []
    for op in tape.ops:
        kind = op[0]
        if kind == "const":
            vals.append(alg.const(op[1]))
        elif kind == "var":
            if op[1] not in env:
                raise ExpressionError("expression", f"no value for the name {op[1]!r}")
            vals.append(env[op[1]])
        elif len(op) == 3:
            vals.append(getattr(alg, kind)(vals[op[1]], vals[op[2]]))
        else:
            vals.append(getattr(alg, kind)(vals[op[1]]))
    return [vals[i] for i in tape.outputs]
