"""A VNN-COMP-style net with a nearest Resize, end to end: the suite decides a
robust property `unsat`, writes its certificate, and the independent checker
accepts it (the Resize reaches the checker as a broadcast ``mul`` by ones)."""

import numpy as np
import pytest

from certnn import run
from certnn.interop import load_onnx

from ._models import conv_resize_onnx


def _vnnlib(x, label, eps, outputs=3):
    lines = [f"(declare-const X_{i} Real)" for i in range(x.size)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(outputs)]
    for i, v in enumerate(x.reshape(-1)):
        lines += [f"(assert (<= X_{i} {float(v + eps)!r}))", f"(assert (>= X_{i} {float(v - eps)!r}))"]
    others = " ".join(f"(and (>= Y_{j} Y_{label}))" for j in range(outputs) if j != label)
    return "\n".join(lines + [f"(assert (or {others}))"]) + "\n"


@pytest.mark.parametrize("scale", [None, (0.5, -2.0, 1.5)])
def test_upsampling_net_unsat_is_certified(tmp_path, scale):
    from certnn.verify.bab_checker import check_bab_certificate
    from certnn.verify.vnncomp import run_instance
    model = tmp_path / "resize.onnx"
    model.write_bytes(conv_resize_onnx(seed=2, scale=scale).SerializeToString())
    g = load_onnx(model)
    assert "mul" in {n.op for n in g.nodes}
    x0 = np.random.default_rng(3).uniform(0.2, 0.8, (1, 1, 4, 4))
    label = int(np.argmax(run(g, x0)))
    prop = tmp_path / "robust.vnnlib"
    prop.write_text(_vnnlib(x0, label, 2e-3))
    v = run_instance(model, prop, 30, cert_path=tmp_path / "cert.json")
    assert v.status == "unsat" and v.stats["certificate"]["written"], v.stats
    res = check_bab_certificate(tmp_path / "cert.json")
    assert res.ok, res.reasons
