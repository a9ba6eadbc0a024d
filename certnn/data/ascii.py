"""Images as text, for ``certnn show mnist``.

A pixel of intensity ``v`` in [0, 1] (uint8 pixels are divided by 255) becomes
``RAMP[round(v * (len(RAMP) - 1))]``: blank for 0, ``@`` for 1 (values outside
[0, 1] are clipped, NaN shows as 0). Each pixel is
printed ``wide`` characters wide (default 2) so that the image looks square in
a terminal, whose characters are about twice as tall as they are wide.
"""

from __future__ import annotations

import numpy as np

RAMP = " .:-=+*#%@"


def _levels(image) -> np.ndarray:
    x = np.asarray(image)
    if x.ndim != 2:
        raise ValueError(f"render expects a 2-D image, got shape {x.shape}")
    if x.dtype.kind in "iu":
        v = np.clip(x / 255.0, 0.0, 1.0)
    elif x.dtype.kind == "f":
        v = np.clip(np.nan_to_num(x.astype(np.float64), nan=0.0), 0.0, 1.0)
    else:
        raise ValueError(f"render expects uint8 or float pixels, got {x.dtype}")
    return np.rint(v * (len(RAMP) - 1)).astype(np.intp)


def _lines(image, label=None, title: str | None = None, wide: int = 2) -> list[str]:
    levels = _levels(image)
    rows = ["".join(RAMP[i] * wide for i in row) for row in levels]
    head = " ".join(s for s in (title, None if label is None else f"label {int(label)}") if s)
    return ([head.ljust(len(rows[0]) if rows else 0)] if head else []) + rows


def render(image, label=None, *, wide: int = 2) -> str:
    """The image as lines of text, under a ``label N`` line when ``label`` is given."""
    return "\n".join(_lines(image, label, wide=wide))


def render_many(images, labels=None, indices=None, *, per_row: int | None = None,
                width: int = 120, gap: int = 2, wide: int = 2) -> str:
    """``images[i]`` for each ``i`` in ``indices`` (default: all), titled ``#i label N``.

    Images are laid side by side, ``per_row`` to a row (default: as many as fit
    in ``width`` characters, at least one), rows separated by a blank line;
    ``per_row=1`` stacks them.
    """
    images = np.asarray(images)
    indices = range(len(images)) if indices is None else [int(i) for i in indices]
    for i in indices:
        if not -len(images) <= i < len(images):
            raise IndexError(f"index {i} out of range for {len(images)} images")
    blocks = [_lines(images[i], None if labels is None else labels[i], f"#{i}", wide) for i in indices]
    if not blocks:
        return ""
    block_w = max(len(line) for b in blocks for line in b)
    if per_row is None:
        per_row = max(1, (width + gap) // (block_w + gap))
    if per_row < 1:
        raise ValueError(f"per_row must be >= 1, got {per_row}")
    out = []
    for start in range(0, len(blocks), per_row):
        row = blocks[start:start + per_row]
        height = max(len(b) for b in row)
        for k in range(height):
            parts = [(b[k] if k < len(b) else "").ljust(block_w) for b in row]
            out.append((" " * gap).join(parts).rstrip())
        out.append("")
    return "\n".join(out[:-1])
