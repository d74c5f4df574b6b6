"""Imaging benchmarks: times and peak memory, each against a plain baseline in the same process.

    .venv/bin/python benchmarks/bench_imaging.py [--quick]

1. the 28-slice GE head CT (../shared/data) → CT request layout (85-slice recipe, 896-px frames),
   and with every frame encoded as a JPEG data URI; baseline: plain ``pydicom.dcmread`` +
   ``pixel_array`` of all files. Target ≤ 0.5 s.
2. a generated 512-slice 512 × 512 CT series (DICOM files in a temp dir) → 85 frames; peak
   Python memory (tracemalloc) vs the full volume's size; baseline: dcmread + pixel_array of every
   slice, stacked. Target ≤ 3 s, memory not growing with slices.
3. a generated 10,000 × 10,000 JPEG tile (real H&E pasted on glass) → tissue patches → WSI layout;
   baseline: Pillow decoding the whole tile. Target ≤ 5 s.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from imaging_support import CT_HEAD, TEST_DATA, write_dicom_series  # noqa: E402

from medboard.tools.imaging.layouts import ct_layout, wsi_layout  # noqa: E402
from medboard.tools.imaging.load import load_image  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_memory(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def plain_pydicom(folder: Path) -> np.ndarray:
    import pydicom

    return np.stack([pydicom.dcmread(p).pixel_array for p in sorted(folder.iterdir()) if p.is_file()])


def bench_head_ct() -> None:
    if not (CT_HEAD / "01.dcm").exists():
        print("1. head CT: skipped (../shared/data/imaging/ct_head_ge not found)")
        return
    baseline, _ = timed(lambda: plain_pydicom(CT_HEAD))
    frames, layout = timed(lambda: ct_layout(load_image(CT_HEAD)))
    encoded, _ = timed(lambda: ct_layout(load_image(CT_HEAD)).to_openai_content("jpeg"))
    print(
        f"1. head CT, 28 slices → {len(layout.images)} request frames: {frames:.3f} s "
        f"(with JPEG data URIs {encoded:.3f} s; target ≤ 0.5 s); "
        f"plain dcmread+pixel_array of all files {baseline:.3f} s → ratio {frames / baseline:.1f}×"
    )


def bench_volume(slices: int, side: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "series"
        start = time.perf_counter()
        rng = np.random.default_rng(0)
        noise = rng.normal(0, 20, (side, side)).astype(np.int16)
        write_dicom_series(
            folder,
            slices,
            side,
            side,
            spacing=1.0,
            shuffle_names=True,
            pixels=lambda k: noise + np.int16(k - 1000),
        )
        print(f"   (wrote {slices} DICOM slices of {side}×{side} in {time.perf_counter() - start:.1f} s)")
        baseline, _ = timed(lambda: plain_pydicom(folder), repeat=1)
        ours, layout = timed(lambda: ct_layout(load_image(folder)), repeat=2)
        peak_ours = peak_memory(lambda: ct_layout(load_image(folder)))
        peak_base = peak_memory(lambda: plain_pydicom(folder))
        full_hu = slices * side * side * 4
        frames_out = len(layout.images) * 896 * 896 * 3
        print(
            f"2. generated {slices}×{side}×{side} CT → {len(layout.images)} frames: {ours:.2f} s "
            "(target ≤ 3 s); "
            f"plain dcmread+pixel_array of all slices {baseline:.2f} s → ratio {ours / baseline:.2f}×\n"
            f"   peak Python-heap memory (tracemalloc) {peak_ours / 1e6:.0f} MB = "
            f"{peak_ours / full_hu:.3f}× the "
            f"full volume as float32 HU ({full_hu / 1e6:.0f} MB) and {peak_ours / peak_base:.3f}× the plain "
            f"load's peak ({peak_base / 1e6:.0f} MB); the {len(layout.images)} output frames themselves "
            f"({frames_out / 1e6:.0f} MB of 896² RGB) live in Pillow buffers outside tracemalloc"
        )


def bench_tile(side: int) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the baseline decodes with plain Pillow
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tile.jpg"
        he = Image.open(TEST_DATA / "he_carcinoma_tile.jpg").convert("RGB")
        slide = Image.new("RGB", (side, side), (246, 244, 246))
        rng = np.random.default_rng(1)
        for _ in range((side // 1000) ** 2 // 2):  # about half of the slide is tissue
            x, y = (int(v) for v in rng.integers(0, side - 1000, 2))
            slide.paste(he, (x, y))
        slide.save(path, quality=90)
        del slide
        baseline, _ = timed(lambda: np.asarray(Image.open(path).convert("RGB")), repeat=1)
        ours, layout = timed(lambda: wsi_layout(load_image(path, patches=True)), repeat=1)
        series = load_image(path, patches=True)
        print(
            f"3. {side}×{side} tile → {series.frame_count} tissue patches "
            f"({series.notes[0]}) → WSI layout of {len(layout.images)} images: {ours:.2f} s (target ≤ 5 s); "
            f"plain Pillow decode {baseline:.2f} s → ratio {ours / baseline:.2f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller volume and tile (smoke run)")
    args = parser.parse_args()
    bench_head_ct()
    bench_volume(128 if args.quick else 512, 256 if args.quick else 512)
    bench_tile(4000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
