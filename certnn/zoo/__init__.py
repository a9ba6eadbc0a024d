"""Model architectures, built from a JSON-able config so a checkpoint can
rebuild its module: ``{"arch": "mlp", "hidden": [128], ...}``."""

from __future__ import annotations

from .. import nn
from ..errors import CheckpointError


def mlp(in_features: int = 784, hidden=(128,), num_classes: int = 10, activation: str = "relu"):
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
    if activation not in acts:
        raise CheckpointError(f"unknown activation '{activation}'; known: {', '.join(acts)}")
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), acts[activation]()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def cnn(in_channels: int = 1, num_classes: int = 10, width: int = 8, image_size: int = 28):
    """conv3x3(width) - relu - maxpool2 - conv3x3(2 width) - relu - maxpool2 - linear."""
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * side * side, num_classes))


def input_shape(config: dict) -> tuple:
    if config["arch"] == "mlp":
        return (config.get("in_features", 784),)
    return (config.get("in_channels", 1), config.get("image_size", 28), config.get("image_size", 28))


def build(config: dict):
    cfg = dict(config)
    arch = cfg.pop("arch", None)
    builders = {"mlp": mlp, "cnn": cnn}
    if arch not in builders:
        raise CheckpointError(f"unknown architecture {arch!r}; known: {', '.join(builders)}")
    try:
        return builders[arch](**cfg)
    except TypeError as e:
        raise CheckpointError(f"bad config for architecture '{arch}': {e}") from None


def load_checkpoint(path):
    """Rebuild the module (in eval mode) from a checkpoint folder or its JSON file.
    Returns ``(module, meta)``."""
    from ..interop.checkpoint import GRAPH_PREFIX, read_meta
    meta, state, _ = read_meta(path)
    module = build(meta["config"])
    module.load_state_dict({k: v for k, v in state.items() if not k.startswith(GRAPH_PREFIX)})
    return module.eval(), meta
