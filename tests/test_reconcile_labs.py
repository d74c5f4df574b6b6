"""`tools/reconcile/labs.py`: lab series per comparable unit, implausible values, facts after death.

Real records (Synthea loyd_connelly and, when the shared data folder is there, adan_pulido); the
variations are planted by editing the bundle's JSON here and loading the copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medboard.models.picture import PatientStatus
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture
from medboard.tools.reconcile.labs import MAX_LISTED, lab_series

DATA = Path(__file__).parent / "data" / "fhir"
LOYD = DATA / "synthea" / "loyd_connelly.json"
SHARED_SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir" / "synthea"
EGFR, PROTEIN, GLUCOSE = "33914-3", "2885-2", "2339-0"


def _bundle(path: Path = LOYD) -> dict[str, Any]:
    return json.loads(path.read_text())


def _observations(bundle: dict[str, Any], loinc: str) -> list[dict[str, Any]]:
    """The bundle's Observations with that LOINC code and a valueQuantity, in date order (raw JSON)."""
    found = [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
        and "valueQuantity" in entry["resource"]
        and any(c.get("code") == loinc for c in entry["resource"]["code"]["coding"])
    ]
    return sorted(found, key=lambda r: r["effectiveDateTime"])


def _planted(bundle: dict[str, Any], tmp_path: Path, name: str = "planted.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


def _series_for(picture_labs: list, code: str) -> list:
    return [s for s in picture_labs if s.code == code]


def test_egfr_split_by_annotation_distinct_unit(tmp_path: Path) -> None:
    bundle = _bundle()
    egfr = _observations(bundle, EGFR)
    assert len(egfr) >= 3
    planted = egfr[-1]
    planted["valueQuantity"].update(unit="mL/min/{1.73_m2}", code="mL/min/{1.73_m2}")
    labs, _ = lab_series(load_record(_planted(bundle, tmp_path)), case_date=None, patient=PatientStatus())

    series = _series_for(labs, EGFR)
    assert sorted(s.unit for s in series) == ["mL/min", "mL/min/{1.73_m2}"]
    by_unit = {s.unit: s for s in series}
    assert [p.source for p in by_unit["mL/min/{1.73_m2}"].points] == [f"Observation/{planted['id']}"]
    assert by_unit["mL/min/{1.73_m2}"].points[0].value == pytest.approx(planted["valueQuantity"]["value"])
    kept = by_unit["mL/min"].points
    assert [p.source for p in kept] == [f"Observation/{r['id']}" for r in egfr[:-1]]
    assert [p.value for p in kept] == pytest.approx([r["valueQuantity"]["value"] for r in egfr[:-1]])
    assert [p.date for p in kept] == sorted(p.date for p in kept)


def test_exactly_convertible_unit_shares_the_series_converted(tmp_path: Path) -> None:
    bundle = _bundle()
    glucose = _observations(bundle, GLUCOSE)
    planted = glucose[-1]
    planted["valueQuantity"].update(value=0.75, unit="g/L", code="g/L")  # = 75 mg/dL
    labs, _ = lab_series(load_record(_planted(bundle, tmp_path)), case_date=None, patient=PatientStatus())

    (series,) = _series_for(labs, GLUCOSE)
    assert series.unit == "mg/dL"
    point = next(p for p in series.points if p.source == f"Observation/{planted['id']}")
    assert point.value == pytest.approx(75.0)
    assert len(series.points) == len(glucose)


def test_implausible_protein_kept_out_and_reported_with_raw_value(tmp_path: Path) -> None:
    bundle = _bundle()
    protein = _observations(bundle, PROTEIN)
    planted = protein[0]
    planted["valueQuantity"]["value"] = 76.21
    record = load_record(_planted(bundle, tmp_path))
    labs, quality = lab_series(record, case_date=None, patient=PatientStatus())

    ref = f"Observation/{planted['id']}"
    assert all(p.source != ref for s in labs for p in s.points)
    item = next(q for q in quality if q.sources == [ref])
    assert item.kind == "implausible_value"
    assert "76.21 g/dL" in item.description and "plausible range" in item.description
    # Synthea writes total protein in g/dL with g/L numbers: every real value is out too, none trended
    assert not _series_for(labs, PROTEIN)
    flagged = {q.sources[0] for q in quality if q.kind == "implausible_value"}
    assert {f"Observation/{r['id']}" for r in protein} <= flagged


def test_facts_after_a_planted_death_grouped_and_kept_out(tmp_path: Path) -> None:
    bundle = _bundle()
    death = "2009-01-01"
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["deceasedDateTime"] = death
    record = load_record(_planted(bundle, tmp_path))
    labs, quality = lab_series(record, case_date=None, patient=PatientStatus())

    after = [q for q in quality if q.kind == "after_death"]
    types = [q.description.split()[1] for q in after]
    assert len(types) == len(set(types)), "one item per resource type"
    raw_after = {
        f"Observation/{e['resource']['id']}"
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"].get("effectiveDateTime", "")[:10] > death
    }
    observations = next(q for q in after if q.description.split()[1] == "Observation")
    assert observations.description.startswith(f"{len(raw_after)} Observation resources")
    assert len(raw_after) > MAX_LISTED and len(observations.sources) == MAX_LISTED
    assert set(observations.sources) <= raw_after
    assert f"({len(raw_after) - MAX_LISTED} more)" in observations.description
    assert all(p.date[:10] <= death for s in labs for p in s.points)


@pytest.mark.skipif(not SHARED_SYNTHEA.is_dir(), reason="shared data folder not present")
def test_real_deceased_patient_lab_after_death_flagged(tmp_path: Path) -> None:
    """adan_pulido died 2007-03-25; his death certificate (filed 2007-03-27) is not an error, a
    lab dated after the death is."""
    bundle = _bundle(SHARED_SYNTHEA / "adan_pulido.json")
    resources = [e["resource"] for e in bundle["entry"]]
    death = next(r for r in resources if r["resourceType"] == "Patient")["deceasedDateTime"]
    certificate = [
        f"{r['resourceType']}/{r['id']}"
        for r in resources
        if r["resourceType"] in ("Observation", "DiagnosticReport")
        and r.get("effectiveDateTime", "")[:10] > death[:10]
    ]
    assert certificate, "the death certificate and cause of death are dated after the death"
    picture = build_picture(load_record(SHARED_SYNTHEA / "adan_pulido.json"))
    assert not [q for q in picture.data_quality if q.kind == "after_death"]

    late = _observations(bundle, EGFR)[-1]
    late["effectiveDateTime"] = late["issued"] = "2007-04-02T10:00:00+00:00"
    picture = build_picture(load_record(_planted(bundle, tmp_path)))
    (flagged,) = [q for q in picture.data_quality if q.kind == "after_death"]
    assert flagged.sources == [f"Observation/{late['id']}"]
    assert flagged.description.startswith("1 Observation resource dated after the patient's death")
    assert "2007-03-25" in flagged.description
    assert all(p.source != f"Observation/{late['id']}" for s in picture.labs for p in s.points)


def test_after_case_date_flagged_and_out_of_series() -> None:
    record = load_record(LOYD)
    labs, quality = lab_series(record, case_date="2005-01-01", patient=PatientStatus())
    later = [q for q in quality if q.kind == "after_case_date"]
    assert later and all("after the case date 2005-01-01" in q.description for q in later)
    assert all(p.date[:10] <= "2005-01-01" for s in labs for p in s.points)
    full, _ = lab_series(record, case_date=None, patient=PatientStatus())
    assert sum(len(s.points) for s in full) > sum(len(s.points) for s in labs)


def test_every_source_is_a_type_id_reference() -> None:
    labs, quality = lab_series(load_record(LOYD), case_date="2005-01-01", patient=PatientStatus())
    references = [p.source for s in labs for p in s.points] + [r for q in quality for r in q.sources]
    assert references and all(r.count("/") == 1 and r.split("/")[0].isalpha() for r in references)


def test_series_do_not_depend_on_bundle_order(tmp_path: Path) -> None:
    bundle = _bundle()
    glucose = _observations(bundle, GLUCOSE)
    glucose[-1]["valueQuantity"].update(value=0.75, unit="g/L", code="g/L")  # the latest in g/L
    forward = load_record(_planted(bundle, tmp_path, "forward.json"))
    bundle["entry"].reverse()
    backward = load_record(_planted(bundle, tmp_path, "backward.json"))
    first, _ = lab_series(forward, case_date=None, patient=PatientStatus())
    second, _ = lab_series(backward, case_date=None, patient=PatientStatus())
    assert [s.unit for s in _series_for(first, GLUCOSE)] == ["mg/dL"]  # the earliest value's unit
    assert [(s.code, s.unit, [p.source for p in s.points]) for s in first] == [
        (s.code, s.unit, [p.source for p in s.points]) for s in second
    ]


def test_jenny_neutrophils_3000_thousand_per_ul_kept_out() -> None:
    """Issue 10 names "Neutrophils 3000 10*3/uL" (Jenny M, real mCODE): 3 × 10⁹/µL is not a count."""
    record = load_record(DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json")
    labs, quality = lab_series(record, case_date=None, patient=PatientStatus())
    assert not _series_for(labs, "26499-4")
    assert any("3000 10*3/uL" in q.description for q in quality if q.kind == "implausible_value")
