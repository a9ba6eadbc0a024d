"""Global backprop: the LEAN_mnist theorem at a small size, and a wrong rule
or a wrong compiled sweep makes it fail."""

from dataclasses import replace

import pytest

from certnn.ir import compile as compile_mod
from certnn.ops import registry
from certnn.proofs.backprop import prove_lean_mnist
from certnn.proofs.theorems import ProofFailed


def test_lean_mnist_at_2_2_2():
    assert "8 (label, activation pattern) regions" in prove_lean_mnist(2, 2, 2)


def test_a_wrong_relu_vjp_is_caught(monkeypatch):
    relu = registry.get_op("relu")
    monkeypatch.setitem(registry._REGISTRY, "relu", replace(relu, vjp=lambda ct, out, x: (ct,)))
    with pytest.raises(ProofFailed, match="eager, label 0, ReLU pattern .*-"):
        prove_lean_mnist(2, 2, 2)


def test_a_wrong_compiled_sweep_is_caught(monkeypatch):
    real = compile_mod.backward

    def drop_a_bias(*args, **kw):
        grads = real(*args, **kw)
        return {k: (0 * g if k.endswith("2.bias") else g) for k, g in grads.items()}
    monkeypatch.setattr(compile_mod, "backward", drop_a_bias)
    with pytest.raises(ProofFailed, match="compiled, .*gradient of net.2.bias"):
        prove_lean_mnist(2, 2, 2)
