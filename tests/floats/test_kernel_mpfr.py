"""The kernel against MPFR (gmpy2) in every rounding mode, with flags.

binary32 in MPFR: precision 24, emin=-148, emax=128, subnormalize=True
(gmpy2.ieee(32)). MPFR has no roundTiesToAway; RNA is derived: the exact
result is a tie iff it is inexact at precision 24 but exact at precision 25
(emin=-149, so the half-quanta of the subnormal range are representable),
and then RNA = round-away-from-zero, else RNA = RNE. Underflow is IEEE's
(tiny after rounding AND inexact): tiny iff the result rounded to 24 bits
with MPFR's (practically unbounded) default exponent range is nonzero and
below 2**-126; MPFR's own underflow flag refers to its emin and is not used.
"""

import gmpy2
import numpy as np
import pytest

from certnn.floats import kernel as K
from certnn.floats.formats import BINARY32 as B32

from ._gen import SPECIAL_B32, finite_b32, rng_for, similar_pairs

MODES = {K.RNE: gmpy2.RoundToNearest, K.RTZ: gmpy2.RoundToZero, K.RUP: gmpy2.RoundUp,
         K.RDN: gmpy2.RoundDown, K.RNA: None}
OPS = {"add": (K.add, 2), "sub": (K.sub, 2), "mul": (K.mul, 2), "div": (K.div, 2), "sqrt": (K.sqrt, 1),
       "fma": (K.fma, 3)}
N = 3000                                  # per (mode, op): 18_000 cases per mode


def _ctx(prec, rnd, bounded=True):
    if bounded:
        return gmpy2.context(precision=prec, emin=-148 - (prec - 24), emax=128, subnormalize=True, round=rnd)
    return gmpy2.context(precision=prec, round=rnd)


class Oracle:
    def __init__(self, mode):
        self.mode = mode
        if mode is K.RNA:
            self.near, self.away = _ctx(24, gmpy2.RoundToNearest), _ctx(24, gmpy2.RoundAwayZero)
            self.probe = _ctx(25, gmpy2.RoundToZero)
            self.unear = _ctx(24, gmpy2.RoundToNearest, False)
            self.uaway = _ctx(24, gmpy2.RoundAwayZero, False)
            self.uprobe = _ctx(25, gmpy2.RoundToZero, False)
        else:
            self.ctx, self.unb = _ctx(24, MODES[mode]), _ctx(24, MODES[mode], False)

    @staticmethod
    def _call(ctx, op, args):
        ctx.clear_flags()
        return getattr(ctx, op)(*args), ctx

    def _rna(self, near, away, probe, op, args):
        r, c = self._call(near, op, args)
        flags = (c.inexact, c.overflow, c.invalid, c.divzero)
        if c.inexact:
            self._call(probe, op, args)
            if not probe.inexact:                      # exact at 25 bits: a tie
                r, c = self._call(away, op, args)
                flags = (c.inexact, c.overflow, c.invalid, c.divzero)
        return r, flags

    def __call__(self, op, args):
        if self.mode is K.RNA:
            r, (inexact, overflow, invalid, divzero) = self._rna(self.near, self.away, self.probe, op, args)
            unb, _ = self._rna(self.unear, self.uaway, self.uprobe, op, args)
        else:
            r, c = self._call(self.ctx, op, args)
            inexact, overflow, invalid, divzero = c.inexact, c.overflow, c.invalid, c.divzero
            unb, _ = self._call(self.unb, op, args)
        tiny = gmpy2.is_finite(unb) and unb != 0 and abs(unb) < gmpy2.mpfr(2) ** -126
        names = {n for n, on in (("inexact", inexact), ("overflow", overflow), ("invalid", invalid),
                                 ("divbyzero", divzero), ("underflow", tiny and inexact)) if on}
        bits = int(np.array(float(r), dtype=np.float32).view(np.uint32))
        return bits, names


def _operands(rng, op, arity):
    n = N - 200
    half = n // 2
    a, b = similar_pairs(rng, half, "mul" if op in ("mul", "div", "fma") else op)
    cols = [np.concatenate([a, finite_b32(rng, n - half)]), np.concatenate([b, finite_b32(rng, n - half)])]
    if op == "sqrt":
        cols[0] &= np.uint64(0x7FFFFFFF)
    if arity == 3:
        # c near -a*b half of the time (cancellation), else random
        ab = [K.mul(B32, int(x), int(y), K.RTZ) for x, y in zip(cols[0].tolist(), cols[1].tolist())]
        c = (np.array(ab, dtype=np.int64) ^ (1 << 31)) + rng.integers(-3, 4, n)
        c = (c & 0xFFFFFFFF).astype(np.uint64)
        c = np.where(rng.random(n) < 0.5, c, finite_b32(rng, n))
        c = np.where(np.array([K.is_nan(B32, int(v)) for v in c.tolist()]), 0, c).astype(np.uint64)
        cols.append(c)
    specials = [v for v in SPECIAL_B32 if not K.is_nan(B32, v)]     # MPFR has one NaN, no payloads
    extra = rng.choice(np.array(specials, dtype=np.uint64), size=(200, arity))
    cols = [np.concatenate([c, extra[:, i]]) for i, c in enumerate(cols[:arity])]
    return [c.tolist() for c in cols]


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("mode", list(MODES), ids=lambda m: m.name)
def test_matches_mpfr_with_flags(mode, op):
    fn, arity = OPS[op]
    rng = rng_for("mpfr", mode.name, op)
    cols = _operands(rng, op, arity)
    oracle = Oracle(mode)
    bad, flagged = [], set()
    for args in zip(*cols):
        mp_args = [gmpy2.mpfr(K.to_float(B32, v)) for v in args]
        want, want_flags = oracle(op, mp_args)
        fl = K.Flags()
        got = fn(B32, *args, mode, fl)
        flagged |= fl.names()
        same = (K.is_nan(B32, got) and K.is_nan(B32, want)) or got == want
        if not same or fl.names() != want_flags:
            bad.append(([hex(v) for v in args], hex(got), hex(want), sorted(fl.names()), sorted(want_flags)))
    assert not bad, f"{len(bad)} of {len(cols[0])} differ, e.g. {bad[:4]}"
    assert "inexact" in flagged
    if op in ("mul", "div", "fma"):
        assert {"underflow", "overflow"} <= flagged
