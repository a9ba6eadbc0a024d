"""A fixed-feature Frechet distance for MNIST samples.

The feature net is a certnn MNIST classifier trained by the zoo's recipe
(:data:`FEATURE_NET`: MLP 784-256-128-10, relu, SGD with Nesterov momentum,
3 epochs, seed 0; about 97.5 % test accuracy); features are the 128 activations
of its last hidden layer. With (mu_a, S_a) and (mu_b, S_b) the feature means and
covariances of two sample sets,

    FD = ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})

(the FID formula of Heusel et al. 2017 with this net instead of Inception; the
numbers are comparable only between models scored with the same net and sample
count). The reference set is the MNIST test split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import linalg, special

from ..errors import CertnnError
from ..tensor import Tensor, no_grad

FEATURE_NET = {"arch": "mlp", "hidden": [256, 128], "epochs": 3, "seed": 0}


def feature_net(cache, data_dir=None, log=print):
    """The feature classifier: loaded from the checkpoint folder ``cache`` when
    it holds one trained by the recipe, else trained there (about a minute)."""
    from ..zoo import load_checkpoint
    from ..zoo.train import TrainConfig, train_mnist
    cache = Path(cache)
    if (cache / "checkpoint.json").exists():
        model, meta = load_checkpoint(cache)
        cfg = meta.get("info", {}).get("config", {})
        if cfg.get("hidden") == FEATURE_NET["hidden"] and cfg.get("epochs") == FEATURE_NET["epochs"]:
            return model
    log(f"training the feature net {FEATURE_NET} into {cache}")
    train_mnist(TrainConfig(hidden=list(FEATURE_NET["hidden"]), epochs=FEATURE_NET["epochs"],
                            seed=FEATURE_NET["seed"]), data_dir=data_dir, out=cache, progress=False,
                log=lambda s: None)
    model, _ = load_checkpoint(cache)
    return model


def features(net, images: np.ndarray, batch: int = 2000) -> np.ndarray:
    """Last-hidden-layer activations of ``net`` (a Sequential MLP) for images in [0, 1]."""
    layers = list(net)[:-1]
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    out = []
    with no_grad():
        for i in range(0, len(x), batch):
            h = Tensor(x[i:i + batch])
            for layer in layers:
                h = layer(h)
            out.append(h.data.astype(np.float64))
    return np.concatenate(out)


def frechet_distance(fa: np.ndarray, fb: np.ndarray) -> float:
    if len(fa) < 2 or len(fb) < 2:
        raise CertnnError("the Frechet distance needs at least two samples on each side")
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    root = linalg.sqrtm(sa @ sb)
    root = root.real if np.iscomplexobj(root) else root        # round-off imaginary parts
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2.0 * root))


def predict(net, images: np.ndarray) -> np.ndarray:
    """The classifier's labels of ``images``."""
    with no_grad():
        return net(Tensor(np.asarray(images, np.float32).reshape(len(images), -1))).data.argmax(1)


CONFIDENCE = 0.9


def confident_fraction(net, images: np.ndarray, threshold: float = CONFIDENCE) -> float:
    """The fraction of ``images`` that the classifier ``net`` labels with softmax
    confidence max_k p_k >= ``threshold``: a proxy for "recognisable digit" (real
    MNIST test digits score high, noise and half-formed strokes low). Report it
    next to the same number on real digits and the class histogram."""
    if not 0.0 < threshold < 1.0:
        raise CertnnError(f"the confidence threshold must be in (0, 1), got {threshold}")
    with no_grad():
        logits = net(Tensor(np.asarray(images, np.float32).reshape(len(images), -1))).data
    return float((special.softmax(logits.astype(np.float64), axis=1).max(1) >= threshold).mean())


def classifier_accuracy(net, images: np.ndarray, labels: np.ndarray) -> float:
    return float((predict(net, images) == labels).mean())


def class_histogram(net, images: np.ndarray, classes: int = 10) -> list[int]:
    """How many of ``images`` the classifier ``net`` assigns to each class: a
    generator that has collapsed onto few modes puts most samples in few classes."""
    return np.bincount(predict(net, images), minlength=classes).tolist()


def conditional_accuracy(net, images: np.ndarray, labels: np.ndarray, classes: int = 10) -> dict:
    """How often the classifier labels a sample drawn for class y as y: overall
    and per class (a conditional model that ignored y would score about 1/classes)."""
    hit = predict(net, images) == np.asarray(labels)
    return {"accuracy": float(hit.mean()),
            "per_class": [float(hit[labels == k].mean()) if np.any(labels == k) else None for k in range(classes)]}
