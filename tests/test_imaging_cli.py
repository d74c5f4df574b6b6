"""`medboard image info|frames|measure` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imaging_support import TEST_DATA, dicom_testfile, shared_ct_head, write_dicom_series
from PIL import Image

from medboard.cli.main import main


def test_info_lists_every_series_of_a_mixed_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dicom_series(tmp_path / "a", 4, 8, 8, series_uid="1.2.3.100")
    write_dicom_series(tmp_path / "b", 6, 8, 8, series_uid="1.2.3.200", seed=2)
    assert main(["image", "info", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {s["series_uid"]: s["frame_count"] for s in payload} == {"1.2.3.100": 4, "1.2.3.200": 6}
    order = payload[1]["slice_order"]
    assert [row["position_mm"] for row in order] == sorted(row["position_mm"] for row in order)


def test_info_text_on_head_ct(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "info", str(shared_ct_head())]) == 0
    out = capsys.readouterr().out
    assert "CT volume, 28 frame(s), shape 28×512×512" in out and "slice order" in out and "01.dcm" in out


def test_frames_ct_writes_the_exact_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series_dir = tmp_path / "series"
    write_dicom_series(series_dir, 100, 32, 32)
    out = tmp_path / "out"
    assert main(["image", "frames", str(series_dir), "--recipe", "ct", "--out", str(out)]) == 0
    request = json.loads((out / "request.json").read_text())
    parts = request["parts"]
    assert request["recipe"] == "ct" and request["image_count"] == 85
    assert parts[0]["type"] == "text" and parts[-1]["type"] == "text"
    images = [p for p in parts if p["type"] == "image"]
    assert [p["type"] for p in parts[1:5]] == ["image", "text", "image", "text"]
    assert parts[2]["text"] == "SLICE 1" and parts[-2]["text"] == "SLICE 85"
    assert images[0]["frame"] == 0 and images[-1]["frame"] == 99
    assert images[3]["evidence"] == f"image:{request['series']['id']}#frame={images[3]['frame']}"
    for part in images:
        with Image.open(out / part["file"]) as frame:
            assert frame.size == (896, 896) and frame.mode == "RGB"
    assert len(list(out.glob("*.png"))) == 85
    assert "85 frame(s)" in capsys.readouterr().out


def test_frames_longitudinal_cxr(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "image",
            "frames",
            str(TEST_DATA / "00000001_000.png"),
            "--recipe",
            "cxr",
            "--prior",
            dicom_testfile("RG1_UNCR.dcm"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    parts = json.loads((out / "request.json").read_text())["parts"]
    assert [(p["type"], p.get("role")) for p in parts] == [
        ("image", "prior"),
        ("image", "current"),
        ("text", None),
    ]


def test_frames_wsi_and_budget_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wsi"
    assert (
        main(
            [
                "image",
                "frames",
                str(TEST_DATA / "he_carcinoma_tile.jpg"),
                "--recipe",
                "wsi",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    parts = json.loads((out / "request.json").read_text())["parts"]
    assert [p["type"] for p in parts] == ["text", "image"]
    series_dir = tmp_path / "series"
    write_dicom_series(series_dir, 20, 8, 8)
    rc = main(["image", "frames", str(series_dir), "--out", str(tmp_path / "x"), "--max-images", "8"])
    assert rc == 2
    assert "allows 8 per prompt" in capsys.readouterr().err


def test_measure_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "image",
            "measure",
            str(TEST_DATA / "brain1_image.nrrd"),
            "--mask",
            str(TEST_DATA / "brain1_label.nrrd"),
            "--label",
            "1",
            "--json",
        ]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["voxels"] == 4137
    assert payload["volume_mm3"] == pytest.approx(16412.659, abs=1e-3)
    assert 40 < payload["max_inplane_diameter_mm"] < 53.6
    assert {"voxels", "volume_mm3", "max_inplane_diameter_mm"} <= payload.keys()


def test_measure_text_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    image, mask = str(TEST_DATA / "brain1_image.nrrd"), str(TEST_DATA / "brain1_label.nrrd")
    assert main(["image", "measure", image, "--mask", mask]) == 0
    out = capsys.readouterr().out
    assert out.startswith("voxels: 4137\nvolume_mm3: ") and "max_inplane_diameter_mm: " in out
    assert main(["image", "measure", image, "--mask", mask, "--label", "5"]) == 2
    assert "label 5 not in mask" in capsys.readouterr().err
    assert main(["image", "measure", image, "--mask", str(TEST_DATA / "00000001_000.png")]) == 2
    assert "does not match image shape" in capsys.readouterr().err


def test_ct_recipe_on_a_picture_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["image", "frames", str(TEST_DATA / "retina.jpg"), "--recipe", "ct", "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "retina.jpg" in err and "needs a volume" in err and "Traceback" not in err
