"""Graph IR: validation rejects malformed graphs before running, serialisation
round-trips exactly, the hash is stable and sensitive, text and DOT views."""

import json

import numpy as np
import pytest

from certnn.ir.compile import compile
from certnn.errors import GraphError
from certnn.ir import Graph, Node, evaluate, graph_hash, load, save, to_dot, to_text
from certnn.ir.serialize import from_dict, to_dict

from ..zoo_models import build_all


def _tiny():
    return Graph([Node("x", "input", shape=(None, 3)),
                  Node("w", "param", shape=(2, 3)),
                  Node("y", "linear", ("x", "w")),
                  Node("z", "relu", ("y",))], ["z"], {"w": np.ones((2, 3), np.float32)})


def test_validate_infers_shapes_and_dtypes():
    g = _tiny().validate()
    assert g.node("z").shape == (None, 2) and g.node("z").dtype == "float32"


@pytest.mark.parametrize("mutate,match", [
    (lambda g: g.nodes.append(Node("q", "frobnicate", ("z",))), "unknown op.*frobnicate"),
    (lambda g: g.nodes.insert(2, g.nodes.pop(3)), "cycle or forward reference"),
    (lambda g: setattr(g.nodes[2], "inputs", ("x", "nope")), "dangling"),
    (lambda g: g.nodes.append(Node("y", "relu", ("x",))), "duplicate"),
    (lambda g: setattr(g.nodes[1], "shape", (3, 3)), "array is float32"),
    (lambda g: setattr(g.nodes[3], "attrs", {"slope": 2}), "unknown attribute"),
    (lambda g: setattr(g.nodes[3], "shape", (None, 7)), "declared shape"),
    (lambda g: setattr(g, "outputs", ["nothing"]), "output 'nothing'"),
    (lambda g: g.arrays.update(w=np.ones((2, 4), np.float32)) or setattr(g.nodes[1], "shape", (2, 4)),
     "linear"),
])
def test_validate_rejects_malformed(mutate, match):
    g = _tiny()
    mutate(g)
    with pytest.raises(GraphError, match=match):
        g.validate()


def test_cycle_in_json_rejected():
    d = to_dict(_tiny().validate())
    d["nodes"][2]["inputs"] = ["x", "z"]  # y depends on z which depends on y
    with pytest.raises(GraphError, match="cycle"):
        from_dict(d, {"w": np.ones((2, 3), np.float32)})


@pytest.mark.parametrize("idx", range(len(build_all())))
def test_save_load_roundtrip_exact(tmp_path, idx):
    name, m, x = build_all()[idx]
    g = compile(m, x).graph
    path, npz = save(g, tmp_path / name)
    g2 = load(path)
    assert graph_hash(g2) == graph_hash(g)
    (a,), _, _ = evaluate(g, {"x": x})
    (b,), _, _ = evaluate(g2, {"x": x})
    assert np.array_equal(a, b)
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left


def test_hash_is_sensitive_to_weights_and_structure():
    g = _tiny().validate()
    h = graph_hash(g)
    assert h == graph_hash(_tiny().validate())
    g2 = _tiny()
    g2.arrays["w"] = g2.arrays["w"].copy()
    g2.arrays["w"][0, 0] = np.nextafter(np.float32(1), np.float32(2))
    assert graph_hash(g2.validate()) != h
    g3 = _tiny()
    g3.nodes[3] = Node("z", "tanh", ("y",))
    assert graph_hash(g3.validate()) != h


def test_load_rejects_bad_files(tmp_path):
    g = _tiny().validate()
    path, npz = save(g, tmp_path / "g")
    d = json.loads(path.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d | {"version": 99}))
    with pytest.raises(GraphError, match="version 99"):
        load(bad)
    bad.write_text("{not json")
    with pytest.raises(GraphError, match="not valid JSON"):
        load(bad)
    npz.write_bytes(npz.read_bytes()[:50])
    with pytest.raises(GraphError, match="truncated or corrupt"):
        load(path)
    a = dict(g.arrays)
    a["w"] = a["w"] * 2
    with pytest.raises(GraphError, match="SHA-256"):
        from_dict(d, a)


def test_text_and_dot_views():
    g = compile(*build_all()[0][1:]).graph
    t = to_text(g)
    assert t.startswith("graph(%x: f32[N, 20])") and "relu(linear(%x, %0.weight, %0.bias))" in t
    dot = to_dot(g)
    assert dot.startswith("digraph") and '"x" -> "v' in dot and dot.rstrip().endswith("}")
