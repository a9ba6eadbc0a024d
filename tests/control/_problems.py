"""Problem folders for the control tests: the shared benchmarks, and small toys written on the fly."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest


def bench(name: str) -> Path:
    root = Path(os.environ.get("CERTNN_BENCHMARKS", "")) / "controllers" / name
    if not (root / "spec.json").exists():
        pytest.skip(f"benchmark {name} not available")
    return root


def copy_bench(name: str, tmp: Path, edit=None) -> Path:
    """A copy of a benchmark problem whose spec.json can be edited (``edit(doc)``)."""
    dst = tmp / name
    shutil.copytree(bench(name), dst)
    if edit is not None:
        doc = json.loads((dst / "spec.json").read_text())
        edit(doc)
        (dst / "spec.json").write_text(json.dumps(doc))
    return dst


def short_pendulum(tmp: Path, steps: int = 6, scenarios=("verification",)) -> Path:
    """InvertedPendulum cut to ``steps`` periods, safety window over the whole run."""
    def edit(doc):
        doc["scenarios"] = [s for s in doc["scenarios"] if s["name"] in scenarios]
        for s in doc["scenarios"]:
            s["time_horizon"], s["horizon_steps"] = round(steps * 0.05, 9), steps
            s.pop("unsafe_halfspaces_union", None)
        doc["time_horizon"], doc["horizon_steps"] = round(steps * 0.05, 9), steps
        doc["specification"]["time_window"] = [0.0, round(steps * 0.05, 9)]
        doc["specification"]["unsafe_halfspaces_union"] = [{"a": {"theta": -1.0}, "b": -1.3},
                                                           {"a": {"theta": 1.0}, "b": 0.0}]
    return copy_bench("InvertedPendulum", tmp, edit)


def toy(tmp: Path, name="toy", time="discrete", steps=8, unsafe_b=-5.0, seed=0, expected="verified",
        extra=None) -> Path:
    """A 2-state plant with a seeded 2-8-1 tanh controller; unsafe: x0 >= -unsafe_b."""
    rng = np.random.default_rng(seed)
    folder = tmp / name
    folder.mkdir(parents=True)
    W0, b0 = rng.normal(0, 0.6, (8, 2)), rng.normal(0, 0.1, 8)
    W1, b1 = rng.normal(0, 0.4, (1, 8)), rng.normal(0, 0.1, 1)
    np.savez(folder / "controller.npz", W0=W0, b0=b0, W1=W1, b1=b1, activations=np.array(["tanh", "linear"]))
    dyn = ({"x0": "x0 + 0.1*x1", "x1": "0.98*x1 + 0.1*u - 0.05*sin(x0)"} if time == "discrete"
           else {"x0": "x1", "x1": "u - 0.5*sin(x0)"})
    doc = {"name": name, "time": time, "state_names": ["x0", "x1"], "control_names": ["u"], "dynamics": dyn,
           "control_period": 1 if time == "discrete" else 0.1, "horizon_steps": steps,
           "controller": {"file": "controller.npz", "network_input": ["x0", "x1"],
                          "control_from_network_output": {"u": "y[0] - 0.1*x0"}},
           "initial_set": {"lo": [0.4, -0.1], "hi": [0.5, 0.1]},
           "specification": {"type": "safety", "statement": "x0 < -unsafe_b",
                             "unsafe_halfspaces_union": [{"a": {"x0": -1.0}, "b": unsafe_b}]},
           "scenarios": [{"name": "main", "expected_result": expected}]}
    if extra:
        extra(doc)
    (folder / "spec.json").write_text(json.dumps(doc))
    return folder
