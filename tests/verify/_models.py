"""Small models and certificates shared by the certificate and checker tests."""

import numpy as np

from certnn import nn, zoo
from certnn.spec.region import Region
from certnn.spec.linear import LinearSpec
from certnn.ir import evaluate, trace
from certnn.ir.passes import optimize

W1 = np.array([[1, -1], [2, -1]], np.float32)
W2 = np.array([[1, -1]], np.float32)
TOY_LO, TOY_HI = np.array([[-1.0, -2.0]]), np.array([[2.0, 1.0]])


def toy_graph():
    """auto_LiRPA's toy: y = W2 relu(W1 x), no biases (fused, as a compiled model is)."""
    m = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False)).eval()
    m.load_state_dict({"0.weight": W1, "2.weight": W2})
    g, _ = trace(m, np.zeros((1, 2), np.float32))
    return optimize(g)


def toy_region():
    return Region.box(TOY_LO, TOY_HI)


def toy_spec(d: float, sign: float = 1.0):
    """The claim sign * y + d > 0."""
    return LinearSpec(np.array([[[sign]]]), np.array([[d]]), np.array([0]))


def mlp_graph(seed=0, sizes=(6, 8, 8, 3), activation="relu"):
    from certnn.random import manual_seed
    manual_seed(seed)
    m = zoo.mlp(sizes[0], sizes[1:-1], sizes[-1], activation=activation).eval()
    g, _ = trace(m, np.zeros((1, sizes[0]), np.float32))
    return optimize(g), m


def conv_bn_graph(seed=0):
    """bn -> conv -> relu -> conv -> relu -> flatten -> linear, with non-trivial BN statistics."""
    from certnn.random import manual_seed
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm2d(2)
    m = nn.Sequential(bn, nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Conv2d(3, 4, 2, padding=0), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 2 * 2, 3)).eval()
    sd = {k: np.array(v) for k, v in m.state_dict().items()}
    for name, lo, hi in (("running_mean", -0.2, 0.2), ("running_var", 0.5, 2.0), ("weight", 0.5, 1.5),
                         ("bias", -0.1, 0.1)):
        sd[f"0.{name}"] = rng.uniform(lo, hi, 2).astype(np.float32)
    m.load_state_dict(sd)
    g, _ = trace(m, np.zeros((1, 2, 6, 6), np.float32))
    return optimize(g)


def conv_gap_graph(seed=0, keepdims=False):
    """conv -> relu -> global average pooling (``mean`` over the spatial axes, with or
    without kept axes) -> linear."""
    from certnn import functional as F
    from certnn.random import manual_seed
    manual_seed(seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            h = F.relu(self.conv(x))
            h = F.mean(h, axis=(2, 3), keepdims=keepdims)
            return self.fc(F.flatten(h) if keepdims else h)

    g, _ = trace(Net().eval(), np.zeros((1, 2, 5, 5), np.float32))
    return optimize(g)


def conv_maxpool_graph(seed=0, padding=0):
    """conv -> relu -> max pooling (2x2, or 3x3 stride 2 with padding) -> conv -> relu ->
    flatten -> linear: the zoo CNN's pattern."""
    from certnn.random import manual_seed
    manual_seed(seed)
    pool = nn.MaxPool2d(2) if not padding else nn.MaxPool2d(3, stride=2, padding=padding)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), pool,
                      nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 3)).eval()
    g, _ = trace(m, np.zeros((1, 1, 6, 6), np.float32))
    return optimize(g)


def outputs(g, x):
    (y,), _, _ = evaluate(g, {g.inputs[0].id: np.asarray(x, np.float64)})
    return np.asarray(y, np.float64).reshape(len(x), -1)


def robust_setup(g, n=3, eps=0.05, seed=0, norm="inf"):
    """Points, their predicted labels, and the robustness spec on an eps ball."""
    rng = np.random.default_rng(seed)
    shape = tuple(g.inputs[0].shape[1:])
    x = rng.uniform(0, 1, (n,) + shape)
    labels = outputs(g, x).argmax(1)
    region = Region.ball(x, eps, norm, domain=(0.0, 1.0))
    return region, LinearSpec.robustness(labels, outputs(g, x[:1]).shape[1])


def sample_region(region, k, rng):
    """k points in each example's region (uniform in the box, projected into a ball
    by scaling toward the center; corners for boxes)."""
    n, shape = region.n, region.shape
    lo, hi = region.lo.reshape(n, 1, -1), region.hi.reshape(n, 1, -1)
    u = rng.uniform(0, 1, (n, k, lo.shape[2]))
    x = lo + u * (hi - lo)
    x[:, : k // 4] = np.where(rng.uniform(size=(n, k // 4, lo.shape[2])) < 0.5, lo, hi)  # corners
    if region.norm in ("2", "1"):
        c = region.center.reshape(n, 1, -1)
        q = {"2": 2, "1": 1}[region.norm]
        dist = np.linalg.norm(x - c, ord=q, axis=2, keepdims=True)
        x = c + (x - c) * np.minimum(1.0, region.eps / np.maximum(dist, 1e-300))
        x = np.clip(x, lo, hi)
    return x.reshape((n, k) + shape)


def conv_resize_graph(seed=0, scale=None):
    """:func:`conv_resize_onnx` imported."""
    from certnn.interop.onnx_import import from_model
    return from_model(conv_resize_onnx(seed, scale), "resize.onnx")


def conv_resize_onnx(seed=0, scale=None):
    """conv -> relu -> nearest Resize x2 (imported as reshape, mul by ones, reshape) ->
    [mul by the per-channel constant ``scale``] -> conv (stride 2) -> relu -> flatten ->
    Gemm on (N, 1, 4, 4) inputs, as ONNX: the pattern of upsampling VNN-COMP nets."""
    from onnx import TensorProto, helper, numpy_helper
    r = np.random.default_rng(seed)
    f32 = lambda *s: (0.5 * r.standard_normal(s)).astype(np.float32)  # noqa: E731
    arrays = {"w1": f32(3, 1, 3, 3), "b1": f32(3), "sc": np.array([1, 1, 2, 2], np.float32),
              "w2": f32(4, 3, 3, 3), "b2": f32(4), "W": f32(3, 64), "B": f32(3)}
    up = "u"
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Resize", ["r1", "", "sc"], ["u"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    if scale is not None:
        arrays["k"] = np.asarray(scale, np.float32).reshape(1, 3, 1, 1)
        nodes.append(helper.make_node("Mul", ["k", "u"], ["s"]))
        up = "s"
    nodes += [helper.make_node("Conv", [up, "w2", "b2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c2"], ["r2"]), helper.make_node("Flatten", ["r2"], ["f"]),
              helper.make_node("Gemm", ["f", "W", "B"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                          [numpy_helper.from_array(a, k) for k, a in arrays.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
