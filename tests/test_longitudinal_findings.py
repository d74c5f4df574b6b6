"""`longitudinal_findings`: every finding cites what it rests on, shows arithmetic, lists skips.

(What it reads from the clinical picture — lines per cancer, series per unit — is tested on the
shared records in `test_longitudinal_picture.py`.)"""

from __future__ import annotations

import re

import pytest
from longitudinal_support import JENNY, lab, raw_series, synthea

from medboard.agents.longitudinal.core import AGENT, longitudinal_findings
from medboard.models import EvidenceRef, Fact, FactKind, FindingCategory
from medboard.tools.fhir.record import PatientRecord


def _record(facts: list[Fact], resources: dict[str, dict] | None = None) -> PatientRecord:
    """A record of hand-made facts (and the raw resources some of them need, by reference)."""
    known = dict(resources or {})
    for fact in facts:
        kind, _, ident = fact.reference.partition("/")
        known.setdefault(fact.reference, {"resourceType": kind, "id": ident})
    return PatientRecord(source="test", patient_id=None, resources=known, facts=facts)


@pytest.mark.parametrize("name", ["adan_pulido.json", "loyd_connelly.json", "austin_franecki.json"])
def test_findings_on_real_bundles_cite_resources_of_the_record(name: str) -> None:
    from medboard.tools.fhir import load_record

    record = load_record(synthea(name))
    findings = longitudinal_findings(record)
    assert findings and all(f.agent == AGENT and f.method == "deterministic" for f in findings)
    for finding in findings:
        assert finding.evidence, finding.text
        for ref in finding.evidence:
            assert ref.reference in record, ref.reference
    assert len({f.id for f in findings}) == len(findings)
    # stable ids: the same record gives the same findings
    assert [f.id for f in longitudinal_findings(record)] == [f.id for f in findings]


def test_psa_trend_finding_cites_every_psa_observation_and_shows_the_arithmetic() -> None:
    from medboard.tools.fhir import load_record

    raw = raw_series(synthea("adan_pulido.json"), "2857-1")
    findings = longitudinal_findings(load_record(synthea("adan_pulido.json")))
    (trend,) = [f for f in findings if f.category == FindingCategory.trend and f.text.startswith("Prostate")]
    assert [e.reference for e in trend.evidence] == [r for _, _, r in raw]
    assert trend.value == raw[-1][1] and trend.unit == "ng/mL" and trend.date == raw[-1][0]
    assert re.search(r"5\.14 − 2\.64 = \+2\.5 ng/mL", trend.text)
    # one finding for the marker course: doubling time (none: not rising) and velocity, said once
    (kinetics,) = [f for f in findings if "kinetics" in f.tags]
    assert kinetics.value is None and "not rising" in kinetics.text  # all six values: no treatment recorded
    assert "Velocity 0.189 ng/mL/year" in kinetics.text and kinetics.text.count("Velocity") == 1
    assert any(n.startswith("velocity fit: n=6;") for n in kinetics.notes)


def test_kinetics_window_starts_at_the_last_treatment_change() -> None:
    from medboard.tools.fhir import load_record

    findings = longitudinal_findings(load_record(synthea("loyd_connelly.json")))
    (doubling,) = [f for f in findings if "kinetics" in f.tags]
    assert "on or after 2004-05-28" in doubling.text and "Prostatectomy" in doubling.text
    assert doubling.value is None and "only 1 usable value" in doubling.text
    assert any("outside the kinetics window" in note for note in doubling.notes)
    lines = [f for f in findings if f.category == FindingCategory.medication and f.text.startswith("Line")]
    # The prostate cancer's own line only; the patient died in 2012: stale, never "ongoing".
    assert [f.text for f in lines] == [
        "Line 1 for Carcinoma in situ of prostate (disorder) (2004-05-28 – , stale: still ordered, "
        "last evidence 2004-05-28): docetaxel + leuprolide."
    ]
    # FOLFOX with no colorectal cancer recorded: owned by no line (the EHR specialist states the
    # picture's data quality, which lists it: tests/test_longitudinal_picture.py).
    assert not [line for line in lines if "oxaliplatin" in line.text or "leucovorin" in line.text]
    (summary,) = [f for f in findings if f.text.startswith("Treatment timeline")]
    assert summary.notes and all("not recognised as cancer therapy" in n for n in summary.notes)


def test_skipped_inputs_are_listed_in_notes() -> None:
    facts = [
        lab("Observation/a", "718-7", 13.0, "g/dL", "2020-01-01", label="Hemoglobin"),
        lab("Observation/b", "718-7", 11.0, "g/dL", "2020-02-01", label="Hemoglobin"),
        lab("Observation/c", "718-7", "see note", None, "2020-03-01", label="Hemoglobin"),
        lab("Observation/d", "718-7", 60.0, "g/dL", "2020-04-01", label="Hemoglobin"),
        lab(
            "Observation/e", "2857-1", "<0.1", "ng/mL", "2020-01-01", kind=FactKind.tumor_marker, label="PSA"
        ),
        lab("Observation/f", "2857-1", None, "ng/mL", "2020-02-01", kind=FactKind.tumor_marker, label="PSA"),
    ]
    findings = longitudinal_findings(_record(facts))
    (hgb,) = [f for f in findings if f.text.startswith("Hemoglobin")]
    assert [e.reference for e in hgb.evidence] == ["Observation/a", "Observation/b"]
    assert any(n.startswith("skipped Observation/c: non-numeric value 'see note'") for n in hgb.notes)
    # 60 g/dL is no living patient's haemoglobin: the picture's data quality reports it, no trend does
    assert not any("Observation/d" in n for n in hgb.notes) and "60" not in hgb.text
    # no usable PSA at all: still a finding, citing the skipped observations, with the reasons
    (psa,) = [f for f in findings if f.text.startswith("PSA (LOINC")]
    assert {e.reference for e in psa.evidence} == {"Observation/e", "Observation/f"}
    assert any("censored value <0.1 ng/mL" in n for n in psa.notes) and any(
        "no value" in n for n in psa.notes
    )


def test_recist_from_tumour_size_observations_with_a_focus() -> None:
    def size(ref: str, day: str, cm: float, focus: str) -> tuple[Fact, dict]:
        fact = Fact(
            id=f"{ref}#component[0]",
            kind=FactKind.observation,
            label="Size.maximum dimension in Tumor",
            codes=[{"system": "http://loinc.org", "code": "33728-7"}],
            value=cm,
            unit="cm",
            unit_code="cm",
            date=day,
            body_site="Left lung",
            evidence=EvidenceRef(reference=ref, path="component[0]"),
        )
        return fact, {"resourceType": "Observation", "focus": [{"reference": focus}]}

    rows = [
        size("Observation/s1", "2020-01-01", 3.0, "BodyStructure/t1"),
        size("Observation/s2", "2020-01-01", 2.0, "BodyStructure/t2"),
        size("Observation/s3", "2020-04-01", 2.0, "BodyStructure/t1"),
        size("Observation/s4", "2020-04-01", 1.4, "BodyStructure/t2"),
    ]
    record = _record([f for f, _ in rows], {f.evidence.reference: r for f, r in rows})
    (response,) = [f for f in longitudinal_findings(record) if f.category == FindingCategory.response]
    assert response.value == "PR" and response.date == "2020-04-01"
    assert "34 mm" in response.text and "-32 %" in response.text  # 50 → 34 mm
    assert {e.reference for e in response.evidence} == {
        "Observation/s1",
        "Observation/s2",
        "Observation/s3",
        "Observation/s4",
    }


def test_jenny_m_single_pathology_size_is_not_a_response() -> None:
    from medboard.tools.fhir import load_record

    record = load_record(JENNY)
    findings = longitudinal_findings(record)
    assert not [f for f in findings if f.category == FindingCategory.response and f.value]
    assert [f for f in findings if f.category == FindingCategory.medication]
    assert [f for f in findings if f.category == FindingCategory.procedure]
