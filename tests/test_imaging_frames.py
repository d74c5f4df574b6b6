"""Model-ready frame functions on arrays: windows, sampling, min–max, letterbox round trip, budgets."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from medboard.tools.imaging.budget import (
    IMAGE_TOKENS,
    EndpointLimits,
    ImageBudgetError,
    check_budget,
    max_images_that_fit,
)
from medboard.tools.imaging.frames import (
    CT_WINDOWS,
    ct_rgb,
    data_uri,
    encode_image,
    letterbox,
    minmax_u8,
    pad_to_square,
    sample_indices,
    square_transform,
    window,
)


def test_ct_windows_are_googles() -> None:
    assert CT_WINDOWS == ((-1024, 1024), (-135, 215), (0, 80))
    hu = np.array([[-2000.0, -1024.0, -135.0, 0.0, 40.0, 80.0, 215.0, 1024.0, 3000.0]], np.float32)
    rgb = ct_rgb(hu)
    assert rgb.shape == (1, 9, 3) and rgb.dtype == np.uint8
    for channel, (lo, hi) in enumerate(CT_WINDOWS):
        expected = np.clip(np.round((hu[0].astype(np.float64) - lo) / (hi - lo) * 255), 0, 255)
        assert rgb[0, :, channel].tolist() == expected.astype(int).tolist()
        assert window(np.array([lo, (lo + hi) / 2, hi]), lo, hi).tolist() == [0, 128, 255]
    np.testing.assert_array_equal(window(hu, -135, 215), rgb[..., 1])


@pytest.mark.parametrize(("count", "limit"), [(1, 85), (28, 85), (85, 85), (86, 85), (2000, 85), (513, 10)])
def test_sample_indices_uniform(count: int, limit: int) -> None:
    picked = sample_indices(count, limit)
    assert len(picked) == min(count, limit)
    assert picked[0] == 0 and picked[-1] == count - 1
    assert picked == sorted(set(picked))
    if count > limit:
        gaps = np.diff(picked)
        assert gaps.max() - gaps.min() <= 1  # uniform up to rounding


def test_minmax_is_per_volume() -> None:
    volume = np.stack([np.full((4, 4), 10.0), np.full((4, 4), 60.0), np.full((4, 4), 110.0)])
    scaled = minmax_u8(volume)
    assert scaled[0, 0, 0] == 0 and scaled[1, 0, 0] == 128 and scaled[2, 0, 0] == 255


@pytest.mark.parametrize(("rows", "cols"), [(512, 512), (1955, 1841), (300, 1000), (1000, 37), (896, 900)])
def test_letterbox_box_round_trip(rows: int, cols: int) -> None:
    frame = np.random.default_rng(rows).integers(0, 255, (rows, cols), dtype=np.uint8)
    image, transform = letterbox(frame)
    assert image.size == (896, 896) and image.mode == "RGB"
    rng = np.random.default_rng(cols)
    for _ in range(20):
        y0, y1 = sorted(rng.uniform(0, rows, 2))
        x0, x1 = sorted(rng.uniform(0, cols, 2))
        box = transform.source_to_box((y0, x0, y1, x1))
        assert all(0 <= v <= 1000 for v in box)
        back = transform.box_to_source(box)
        assert back == pytest.approx((y0, x0, y1, x1), abs=1e-6)
        # the box is also where the pixels went: integer 0–1000 boxes land within one model pixel
        rounded = transform.box_to_source([round(v) for v in box])
        assert rounded == pytest.approx((y0, x0, y1, x1), abs=transform.side / 1000 + 1e-6)


def test_letterbox_content_lands_where_the_transform_says() -> None:
    frame = np.zeros((200, 800), np.uint8)
    frame[50:150, 600:700] = 255  # a bright square
    image, transform = letterbox(frame)
    model = np.asarray(image)[..., 0]
    ys, xs = np.nonzero(model > 128)
    box_model = (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    box = [v * 1000 / 896 for v in box_model]
    y0, x0, y1, x1 = transform.box_to_source(box)
    assert (y0, x0, y1, x1) == pytest.approx((50, 600, 150, 700), abs=2)


def test_pad_to_square_centres() -> None:
    square, transform = pad_to_square(np.ones((10, 30), np.uint8))
    assert square.shape == (30, 30) and transform.pad == (10, 0)
    assert square[10:20].all() and not square[:10].any() and not square[20:].any()
    assert square_transform(30, 10).pad == (0, 10)


def test_encoding_round_trips() -> None:
    from PIL import Image

    image, _ = letterbox(np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8))
    png = encode_image(image, "png")
    assert png.startswith(b"\x89PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(image))
    uri = data_uri(encode_image(image, "jpeg"), "jpeg")
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\xff\xd8")


def test_budget() -> None:
    limits = EndpointLimits(max_model_len=8192, max_images=16, reserve_output=1024)
    assert check_budget(16, 100, limits) >= 16 * IMAGE_TOKENS
    with pytest.raises(ImageBudgetError, match="allows 16 per prompt"):
        check_budget(17, 100, limits)
    small = EndpointLimits(max_model_len=4096, max_images=64, reserve_output=1024)
    fit = max_images_that_fit(200, small)
    assert fit == (4096 - 1024 - 200) // (IMAGE_TOKENS + small.overhead_per_image)
    check_budget(fit, 200, small)
    with pytest.raises(ImageBudgetError, match="max-model-len 4096"):
        check_budget(fit + 1, 200, small)


def test_overlay_draws_model_box_on_source_pixels(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from medboard.tools.imaging.overlay import Box, save_overlay

    frame = np.zeros((300, 600), np.uint8)  # wide: padded top and bottom for the model
    _, transform = letterbox(frame)
    model_box = transform.source_to_box((100, 200, 200, 400))
    path = save_overlay(
        frame, [Box(tuple(round(v) for v in model_box), "lesion")], tmp_path / "o.png", transform
    )
    drawn = np.asarray(Image.open(path))
    assert drawn.shape == (300, 600, 3)
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 100)
    ys, xs = np.nonzero(red)
    assert abs(ys.min() - 100) <= 1 and abs(xs.min() - 200) <= 1
    assert abs(ys.max() - 199) <= 1 and abs(xs.max() - 399) <= 1
