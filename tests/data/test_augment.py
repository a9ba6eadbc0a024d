"""random_shift: every image is its own translate by at most max_shift pixels,
with zeros shifted in, and the offsets vary across the batch."""

import numpy as np

from certnn.data.augment import random_shift


def _offset(orig, moved, s):
    """The (dy, dx) with moved == orig translated by it (zeros shifted in), or None."""
    h, w = orig.shape[-2:]
    pad = np.zeros(orig.shape[:-2] + (h + 4 * s, w + 4 * s), orig.dtype)
    pad[..., 2 * s:2 * s + h, 2 * s:2 * s + w] = orig
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            if np.array_equal(pad[..., 2 * s - dy:2 * s - dy + h, 2 * s - dx:2 * s - dx + w], moved):
                return dy, dx
    return None


def test_each_image_is_a_translate_within_the_bound():
    rng = np.random.default_rng(0)
    x = np.zeros((40, 1, 9, 9), np.float32)
    x[:, :, 3:6, 3:6] = rng.random((40, 1, 3, 3)) + 0.5      # content away from the border: offsets identifiable
    y = random_shift(x, 2, np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    offsets = [_offset(a, b, 2) for a, b in zip(x, y)]
    assert None not in offsets
    assert len(set(offsets)) > 5                              # not one shift for the whole batch
    assert random_shift(x, 0, rng) is x


def test_shift_moves_pixels_off_the_edge_and_fills_zeros():
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4)
    y = random_shift(x, 1, np.random.default_rng(3))
    dy, dx = _offset(x, y, 1)
    assert (dy, dx) != (0, 0) or np.array_equal(x, y)
    assert (y == 0).sum() == 4 * abs(dy) + 4 * abs(dx) - abs(dy * dx)
