"""RECIST 1.1 on hand-built lesion sets: every response, the 5 mm and nadir rules, nodes, new lesions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medboard.cli.main import main
from medboard.tools.longitudinal.recist import Lesion, RecistError, TimePoint, assess


def target(lesion_id: str, organ: str, mm: float | None, **kw: object) -> dict:
    return {"id": lesion_id, "organ": organ, "kind": "target", "diameter_mm": mm, **kw}


def node(lesion_id: str, mm: float | None, **kw: object) -> dict:
    return target(lesion_id, "lymph node", mm, lymph_node=True, **kw)


def non_target(lesion_id: str, organ: str, status: str = "present", **kw: object) -> dict:
    return {"id": lesion_id, "organ": organ, "kind": "non-target", "status": status, **kw}


def tp(day: str, lesions: list[dict], new: bool = False) -> TimePoint:
    return TimePoint(date=day, new_lesions=new, lesions=[Lesion(**lesion) for lesion in lesions])


BASELINE = [
    target("L1", "lung", 30.0),
    target("L2", "liver", 20.0),
    node("N1", 20.0),
    non_target("NT1", "bone"),
]


def responses(*follow_ups: list[dict], new: tuple[bool, ...] = ()) -> list[str | None]:
    points = [tp("2020-01-01", BASELINE)]
    for i, lesions in enumerate(follow_ups):
        points.append(tp(f"2020-{i + 3:02d}-01", lesions, new=bool(new[i]) if i < len(new) else False))
    return [r.response for r in assess(points).timepoints]


def test_baseline_has_no_response_and_shows_the_sum() -> None:
    (baseline,) = assess([tp("2020-01-01", BASELINE)]).timepoints
    assert baseline.response is None and baseline.sum_diameters_mm == 70.0
    assert "L1 30 mm + L2 20 mm + N1 20 mm short axis = 70 mm" in baseline.reason


def test_partial_response_at_exactly_30_percent() -> None:
    # 70 → 49 mm is exactly −30 %
    result = assess(
        [
            tp("2020-01-01", BASELINE),
            tp(
                "2020-03-01",
                [
                    target("L1", "lung", 21.0),
                    target("L2", "liver", 14.0),
                    node("N1", 14.0),
                    non_target("NT1", "bone"),
                ],
            ),
        ]
    ).timepoints[1]
    assert result.response == "PR" and result.sum_diameters_mm == 49.0
    assert result.change_from_baseline_mm == -21.0 and result.change_from_baseline_percent == pytest.approx(
        -30.0
    )
    assert "Target PR" in result.reason and "49 mm ≤ 70 % of baseline (49 mm)" in result.reason


def test_stable_disease_just_short_of_partial_response() -> None:
    assert responses(
        [target("L1", "lung", 21.0), target("L2", "liver", 14.0), node("N1", 15.0), non_target("NT1", "bone")]
    ) == [None, "SD"]


def test_complete_response_with_lymph_node_short_axis_under_10mm() -> None:
    # the sum is not 0 (node 8 mm short axis) yet RECIST calls it CR
    follow = [
        target("L1", "lung", None, status="absent"),
        target("L2", "liver", 0.0, status="absent"),
        node("N1", 8.0),
        non_target("NT1", "bone", "absent"),
    ]
    result = assess([tp("2020-01-01", BASELINE), tp("2020-03-01", follow)]).timepoints[1]
    assert result.response == "CR" and result.sum_diameters_mm == 8.0
    assert result.target_response == "CR" and result.non_target_response == "CR"


def test_node_at_10mm_is_not_complete_response() -> None:
    follow = [
        target("L1", "lung", 0.0, status="absent"),
        target("L2", "liver", 0.0, status="absent"),
        node("N1", 10.0),
        non_target("NT1", "bone", "absent"),
    ]
    assert responses(follow) == [None, "PR"]


def test_target_cr_with_persisting_non_target_is_pr() -> None:
    follow = [
        target("L1", "lung", 0.0, status="absent"),
        target("L2", "liver", 0.0, status="absent"),
        node("N1", 5.0),
        non_target("NT1", "bone"),
    ]
    result = assess([tp("2020-01-01", BASELINE), tp("2020-03-01", follow)]).timepoints[1]
    assert (result.target_response, result.non_target_response, result.response) == (
        "CR",
        "non-CR/non-PD",
        "PR",
    )


def test_progression_is_measured_from_the_nadir_not_the_baseline() -> None:
    nadir = [
        target("L1", "lung", 15.0),
        target("L2", "liver", 10.0),
        node("N1", 15.0),
        non_target("NT1", "bone"),
    ]  # 40 mm
    regrow = [
        target("L1", "lung", 20.0),
        target("L2", "liver", 11.0),
        node("N1", 17.0),
        non_target("NT1", "bone"),
    ]  # 48 mm
    result = assess(
        [tp("2020-01-01", BASELINE), tp("2020-03-01", nadir), tp("2020-05-01", regrow)]
    ).timepoints
    assert [r.response for r in result] == [None, "PR", "PD"]
    last = result[2]
    assert (
        last.nadir_mm == 40.0
        and last.change_from_nadir_mm == 8.0
        and last.change_from_nadir_percent == pytest.approx(20.0)
    )
    assert last.change_from_baseline_percent == pytest.approx(
        -31.4285714
    )  # still −31 % from baseline: PD anyway
    assert "Versus nadir 40 mm (2020-03-01): +8 mm (+20 %)" in last.reason


def test_the_5mm_rule_20_percent_but_under_5mm_is_not_progression() -> None:
    small = [target("L1", "lung", 12.0), target("L2", "liver", 12.0)]  # 24 mm baseline
    grown = [target("L1", "lung", 14.0), target("L2", "liver", 14.9)]  # +4.9 mm = +20.4 %
    grown_more = [target("L1", "lung", 14.0), target("L2", "liver", 15.0)]  # +5.0 mm = +20.8 %
    assert [r.response for r in assess([tp("2020-01-01", small), tp("2020-03-01", grown)]).timepoints] == [
        None,
        "SD",
    ]
    assert [
        r.response for r in assess([tp("2020-01-01", small), tp("2020-03-01", grown_more)]).timepoints
    ] == [None, "PD"]


def test_new_lesion_is_progression_whatever_the_sum() -> None:
    shrunk = [
        target("L1", "lung", 10.0),
        target("L2", "liver", 5.0),
        node("N1", 10.0),
        non_target("NT1", "bone"),
    ]
    points = [tp("2020-01-01", BASELINE), tp("2020-03-01", shrunk, new=True)]
    result = assess(points).timepoints[1]
    assert result.target_response == "PR" and result.response == "PD" and "new lesion" in result.reason


def test_unequivocal_non_target_progression_is_progression() -> None:
    follow = [
        target("L1", "lung", 30.0),
        target("L2", "liver", 20.0),
        node("N1", 20.0),
        non_target("NT1", "bone", "unequivocal-progression"),
    ]
    result = assess([tp("2020-01-01", BASELINE), tp("2020-03-01", follow)]).timepoints[1]
    assert (result.target_response, result.non_target_response, result.response) == ("SD", "PD", "PD")


def test_missing_measurement_is_not_evaluable_unless_already_progression() -> None:
    missing = [
        target("L1", "lung", 30.0),
        target("L2", "liver", None),
        node("N1", 20.0),
        non_target("NT1", "bone"),
    ]
    result = assess([tp("2020-01-01", BASELINE), tp("2020-03-01", missing)]).timepoints[1]
    assert result.response == "NE" and result.sum_diameters_mm is None and "L2 not measured" in result.reason
    not_listed = [target("L1", "lung", 30.0), node("N1", 20.0), non_target("NT1", "bone")]
    assert responses(not_listed) == [None, "NE"]
    # the measured lesions alone already exceed nadir by ≥ 20 % and ≥ 5 mm: PD even with one missing
    grown = [
        target("L1", "lung", 70.0),
        target("L2", "liver", None),
        node("N1", 20.0),
        non_target("NT1", "bone"),
    ]
    assert responses(grown) == [None, "PD"]
    # an NE time point is not a nadir
    points = [tp("2020-01-01", BASELINE), tp("2020-03-01", missing), tp("2020-05-01", BASELINE)]
    assert assess(points).timepoints[2].nadir_mm == 70.0


def test_non_targets_only_report_non_cr_non_pd_as_sd() -> None:
    points = [tp("2020-01-01", [non_target("NT1", "bone")]), tp("2020-03-01", [non_target("NT1", "bone")])]
    result = assess(points).timepoints[1]
    assert result.response == "SD" and "non-CR/non-PD" in result.reason and result.sum_diameters_mm is None


@pytest.mark.parametrize(
    ("lesions", "message"),
    [
        ([target(f"L{i}", f"organ{i}", 20.0) for i in range(6)], "at most 5"),
        (
            [target("L1", "lung", 20.0), target("L2", "Lung", 20.0), target("L3", "lung", 20.0)],
            "at most 2 per organ",
        ),
        ([target("L1", "lung", 8.0)], "below the 10 mm"),
        ([node("N1", 12.0)], "short axis 12 mm is below the 15 mm"),
        ([target("L1", "lung", None)], "must be present and measured"),
    ],
)
def test_baseline_selection_is_validated(lesions: list[dict], message: str) -> None:
    with pytest.raises(RecistError, match=message):
        assess([tp("2020-01-01", lesions)])


def test_time_points_must_be_chronological() -> None:
    with pytest.raises(RecistError, match=r"timepoint 1 \(2019-12-01\): date is not after"):
        assess([tp("2020-01-01", BASELINE), tp("2019-12-01", BASELINE)])


def test_follow_up_lesions_must_come_from_baseline() -> None:
    with pytest.raises(RecistError, match=r"timepoint 1 \(2020-03-01\), lesion L9: not recorded at baseline"):
        assess([tp("2020-01-01", BASELINE), tp("2020-03-01", [target("L9", "lung", 20.0)])])


# --- CLI ---------------------------------------------------------------------------------------


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "lesions.json"
    path.write_text(json.dumps(document))
    return path


def test_cli_json_reports_every_time_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    follow = [
        target("L1", "lung", 15.0),
        target("L2", "liver", 10.0),
        node("N1", 15.0),
        non_target("NT1", "bone"),
    ]
    regrow = [
        target("L1", "lung", 20.0),
        target("L2", "liver", 11.0),
        node("N1", 17.0),
        non_target("NT1", "bone"),
    ]
    document = {
        "timepoints": [
            {"date": "2020-01-01", "new_lesions": False, "lesions": BASELINE},
            {"date": "2020-03-01", "new_lesions": False, "lesions": follow},
            {"date": "2020-05-01", "new_lesions": False, "lesions": regrow},
        ]
    }
    assert main(["recist", str(_write(tmp_path, document)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["timepoints"]
    assert [t["response"] for t in out] == [None, "PR", "PD"]
    assert {
        "date",
        "sum_diameters_mm",
        "change_from_baseline_mm",
        "change_from_baseline_percent",
        "change_from_nadir_mm",
        "change_from_nadir_percent",
        "nadir_mm",
        "response",
        "reason",
    } <= set(out[2])
    assert (
        out[2]["sum_diameters_mm"] == 48.0
        and out[2]["nadir_mm"] == 40.0
        and out[2]["change_from_nadir_mm"] == 8.0
    )
    assert main(["recist", str(_write(tmp_path, document))]) == 0
    assert "2020-05-01" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ({"timepoints": []}, "no time points"),
        (
            {
                "timepoints": [
                    {
                        "date": "2020-01-01",
                        "lesions": [{"id": "L1", "organ": "lung", "kind": "target", "diameter_mm": -3}],
                    }
                ]
            },
            "timepoint 0 (2020-01-01), lesion L1, diameter_mm",
        ),
        (
            {
                "timepoints": [
                    {
                        "date": "2020-01-01",
                        "lesions": [{"id": "L1", "organ": "lung", "kind": "tumour", "diameter_mm": 30}],
                    }
                ]
            },
            "lesion L1, kind",
        ),
        ({"timepoints": [{"date": "March", "lesions": []}]}, "timepoint 0 (March), date"),
        (
            {
                "timepoints": [
                    {"date": "2020-01-01", "lesions": [target("L1", "lung", 30.0)]},
                    {"date": "2020-02-01", "lesions": [target("L2", "lung", 30.0)]},
                ]
            },
            "timepoint 1 (2020-02-01), lesion L2",
        ),
    ],
)
def test_cli_malformed_input_exits_2_naming_file_and_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, message: str
) -> None:
    path = tmp_path / "lesions.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    assert main(["recist", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err
    assert main(["recist", str(tmp_path / "missing.json")]) == 2


# --- lesions from the imaging reader's mask measurements ------------------------------------


def _disk(radius_px: int, size: int = 64) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    disk = ((rows - size // 2) ** 2 + (cols - size // 2) ** 2) <= radius_px**2
    volume = np.zeros((5, size, size), dtype=np.uint8)
    volume[2] = disk
    return volume


def test_lesions_from_mask_measurements_cite_the_measured_frame() -> None:
    from medboard.tools.imaging.measure import measure_mask
    from medboard.tools.longitudinal.recist import lesion_from_mask

    spacing = (5.0, 0.8, 0.8)
    before = measure_mask(_disk(20), spacing)
    after = measure_mask(_disk(12), spacing)
    gone = measure_mask(np.zeros((5, 64, 64), dtype=np.uint8), spacing)
    l_before = lesion_from_mask(before, lesion_id="L1", organ="liver", series="ct-2020-01")
    l_after = lesion_from_mask(after, lesion_id="L1", organ="liver", series="ct-2020-04")
    assert l_before.diameter_mm == before.max_inplane_diameter_mm > 30.0
    assert [e.reference for e in l_before.evidence] == ["image:ct-2020-01#frame=2"]
    result = assess(
        [TimePoint(date="2020-01-01", lesions=[l_before]), TimePoint(date="2020-04-01", lesions=[l_after])]
    )
    shrink = 1 - after.max_inplane_diameter_mm / before.max_inplane_diameter_mm
    assert shrink > 0.3 and result.timepoints[1].response == "PR"
    assert result.timepoints[1].evidence[0].reference == "image:ct-2020-04#frame=2"
    assert lesion_from_mask(gone, lesion_id="L1", organ="liver", series="ct-2020-07").status == "absent"
    with pytest.raises(RecistError, match="short axis"):
        lesion_from_mask(before, lesion_id="N1", organ="mediastinal lymph node", series="ct")
