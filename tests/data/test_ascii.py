import numpy as np
import pytest

from certnn.data.ascii import RAMP, render, render_many


def _img():
    img = np.zeros((28, 28), np.uint8)
    img[5, 3] = 255
    img[6, 4] = 128
    return img


def test_render_shape_and_ramp():
    text = render(_img(), wide=1)
    lines = text.split("\n")
    assert len(lines) == 28 and all(len(line) == 28 for line in lines)
    assert lines[5][3] == "@" and lines[6][4] == RAMP[round(128 / 255 * 9)]
    assert set(lines[0]) == {" "}


def test_render_label_and_wide():
    lines = render(_img(), label=np.uint8(7)).split("\n")
    assert lines[0].strip() == "label 7"
    assert len(lines) == 29 and all(len(line) == 56 for line in lines)
    assert lines[6][6:8] == "@@"


def test_uint8_and_float_agree():
    img = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    assert render(img) == render(img / 255.0) == render((img / 255.0).astype(np.float32))


def test_float_clipped_and_nan():
    img = np.array([[-1.0, 0.5, 2.0, np.nan]])
    assert render(img, wide=1) == " =@ "


def test_ramp_endpoints():
    assert render(np.array([[0, 255]], np.uint8), wide=1) == " @"
    assert render(np.array([[0.0, 1.0]]), wide=1) == " @"


def test_render_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        render(np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="uint8 or float"):
        render(np.zeros((2, 2), bool))


def test_render_many_side_by_side_and_stacked():
    images = np.stack([_img(), 255 - _img(), _img()])
    labels = np.array([3, 1, 4], np.uint8)
    side = render_many(images, labels, [0, 2], wide=1, gap=2)
    lines = side.split("\n")
    assert len(lines) == 29
    assert lines[0].startswith("#0 label 3") and "#2 label 4" in lines[0]
    assert lines[0].index("#2") == 30
    assert lines[6][3] == "@" and lines[6][30 + 3] == "@"

    stacked = render_many(images, labels, [0, 1], per_row=1, wide=1).split("\n")
    assert len(stacked) == 29 + 1 + 29
    assert stacked[0] == "#0 label 3" and stacked[30] == "#1 label 1"
    assert stacked[29] == ""


def test_render_many_wraps_to_width_and_defaults():
    images = np.full((5, 28, 28), 255, np.uint8)
    text = render_many(images, width=120)  # 56-wide blocks: 2 per row
    assert text.count("#") == 5
    rows = text.split("\n\n")
    assert len(rows) == 3
    assert all(len(line) <= 120 for line in text.split("\n"))
    assert render_many(images, indices=[]) == ""


def test_render_many_bad_index():
    with pytest.raises(IndexError, match="index 9"):
        render_many(np.zeros((3, 28, 28), np.uint8), None, [9])
