"""The McCormick-planes theorems: they pass, and a wrong plane is caught."""

import pytest

from certnn.ops import relax
from certnn.proofs import planes
from certnn.proofs.theorems import ProofFailed


def test_mul_mccormick_is_proved():
    assert "all unsat" in planes.prove_mccormick("mul")


def test_swapped_planes_are_caught(monkeypatch):
    # lower plane built on u_y, upper on l_y: (x - l_x)(y - u_y) <= 0 says it is an upper bound
    def swapped(los, his, var, **_):
        (lx, ly), (ux, uy) = los, his
        return relax._McCormick([lx, uy], [ux, ly], *[relax.np.multiply] * 3)
    monkeypatch.setitem(relax.BILINEAR, "mul", swapped)
    with pytest.raises(ProofFailed, match="sound fails"):
        planes.prove_mccormick("mul")


def test_back_disagreeing_with_forward_is_caught(monkeypatch):
    class Shifted(relax._McCormick):
        def back(self, a):
            rows, bias = super().back(a)
            return rows, bias - 1.0          # a looser but different function than forward's
    monkeypatch.setitem(relax.BILINEAR, "mul",
                        lambda los, his, var, **_: Shifted(los, his, *[relax.np.multiply] * 3))
    with pytest.raises(ProofFailed, match="back = forward fails"):
        planes.prove_mccormick("mul")
