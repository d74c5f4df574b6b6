"""`check_claim`: structured claims against the picture, field by field, on real records.

Every claim written from a record's own picture must agree (the template's statements are
correct); each field changed must fail, naming the source it disagrees with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from record_global_support import ADAN, JENNY, LOYD, SHARED_SYNTHEA, bundle_of, find, is_hemoglobin, ref

from medboard.models.claims import (
    Claim,
    ClaimedResult,
    DiagnosisClaim,
    LineClaim,
    MedicationClaim,
    ResultClaim,
    StageClaim,
    VitalStatusClaim,
)
from medboard.models.picture import ClinicalPicture
from medboard.tools.checks.claims import CLAIM_AGREES, check_claim, missing_facts
from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import picture_of

RECORDS = [JENNY, LOYD, *sorted(SHARED_SYNTHEA.glob("*.json"))]


def claims_from(picture: ClinicalPicture, record: PatientRecord) -> list[Claim]:
    """What the template claims: every concept of the picture, as the picture has it."""
    out: list[Claim] = [
        MedicationClaim(
            ingredient=m.ingredient, status=m.status, last_evidence_date=m.last_evidence_date, facts=m.sources
        )
        for m in picture.medications
    ]
    for cancer in picture.cancers:
        out.append(
            DiagnosisClaim(
                condition=cancer.condition,
                name=cancer.name,
                kind=cancer.kind,
                laterality=cancer.laterality,
                clinical_status=cancer.clinical_status,
                facts=[cancer.condition],
            )
        )
        out += [
            LineClaim(
                cancer=cancer.condition,
                drugs=line.drugs,
                start=line.start,
                end=line.end,
                status=line.status,
                facts=line.sources,
            )
            for line in cancer.lines
        ]
        out += [
            StageClaim(cancer=cancer.condition, type=stage.type, group=stage.group, facts=stage.sources)
            for stage in cancer.stages
            if stage.group
        ]
        for group in [*cancer.biomarkers, *cancer.markers]:
            results = [r for r in group.results if r.value is not None]
            if results:
                out.append(
                    ResultClaim(
                        kind="biomarker" if group in cancer.biomarkers else "marker",
                        name=group.name,
                        code=group.code,
                        results=[
                            ClaimedResult(value=r.value, unit=r.unit, date=r.date, source=r.source)
                            for r in results
                        ],
                        facts=[r.source for r in results],
                    )
                )
    for series in picture.labs:
        point = series.points[-1]
        out.append(
            ResultClaim(
                kind="lab",
                name=series.name,
                code=series.code,
                results=[
                    ClaimedResult(value=point.value, unit=series.unit, date=point.date, source=point.source)
                ],
                facts=[point.source],
            )
        )
    patient = picture.patient
    out.append(
        VitalStatusClaim(
            deceased=patient.deceased,
            date=patient.deceased_date,
            cause=patient.cause_of_death,
            facts=patient.sources or [record.patient_ref or ""],
        )
    )
    return out


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: Path(p).stem)
def test_every_claim_written_from_the_picture_agrees(path: Path) -> None:
    record = load_record(path)
    picture = picture_of(record)
    claims = claims_from(picture, record)
    assert len(claims) > 5
    failed = [
        (c.concept, r.detail) for c in claims if (r := check_claim(c, picture, record)).outcome != "pass"
    ]
    assert failed == []


@pytest.fixture(scope="module")
def jenny() -> tuple[PatientRecord, ClinicalPicture]:
    record = load_record(JENNY)
    return record, picture_of(record)


def fails(claim: Claim, record: PatientRecord, picture: ClinicalPicture, naming: str, words: str) -> None:
    result = check_claim(claim, picture, record)
    assert result.name == CLAIM_AGREES and result.outcome == "fail", result.detail
    assert naming in {e.reference for e in result.evidence} and naming in result.detail
    assert words in result.detail


def test_medication_fields(jenny: tuple[PatientRecord, ClinicalPicture]) -> None:
    record, picture = jenny
    anastrozole = next(m for m in picture.medications if m.ingredient == "anastrozole")
    [order] = anastrozole.sources
    wrong_date = MedicationClaim(
        ingredient="anastrozole", status="current", last_evidence_date="2018-06-01", facts=[order]
    )
    fails(wrong_date, record, picture, order, "the picture's is 2018-09-30")
    paclitaxel = next(m for m in picture.medications if m.ingredient == "paclitaxel")
    other = MedicationClaim(ingredient="anastrozole", status="current", facts=[paclitaxel.sources[0]])
    fails(other, record, picture, paclitaxel.sources[0], "a record of paclitaxel")
    stale = MedicationClaim(ingredient="paclitaxel", status="current", facts=paclitaxel.sources)
    fails(stale, record, picture, paclitaxel.sources[0], "the picture says stale")
    unknown = MedicationClaim(ingredient="tamoxifen", status="current", facts=[order])
    assert "no medication 'tamoxifen'" in check_claim(unknown, picture, record).detail


def test_line_fields(jenny: tuple[PatientRecord, ClinicalPicture]) -> None:
    record, picture = jenny
    cancer = picture.cancers[0]
    first = cancer.lines[0]
    right = LineClaim(
        cancer=cancer.condition,
        drugs=first.drugs,
        start=first.start,
        end=first.end,
        status="stopped",
        facts=first.sources,
    )
    assert check_claim(right, picture, record).outcome == "pass"
    moved = right.model_copy(update={"start": "2018-05-01"})
    fails(moved, record, picture, first.sources[0], "the picture's line starts 2018-04-12")
    missing_drug = right.model_copy(update={"drugs": ["cyclophosphamide", "doxorubicin"]})
    assert "no line of cyclophosphamide + doxorubicin" in check_claim(missing_drug, picture, record).detail


def test_result_values_through_the_unit_service_and_dates() -> None:
    record = load_record(LOYD)
    picture = picture_of(record)
    hemoglobin = ref(find(bundle_of(LOYD), is_hemoglobin))
    fact = record.facts_citing(hemoglobin)[0]
    value, day = float(fact.value), fact.date[:10]  # type: ignore[arg-type,index]

    def claim(v: float, unit: str, when: str) -> ResultClaim:
        return ResultClaim(
            kind="lab",
            name="Hemoglobin",
            results=[ClaimedResult(value=v, unit=unit, date=when, source=hemoglobin)],
            facts=[hemoglobin],
        )

    assert check_claim(claim(round(value * 10, 1), "g/L", day), picture, record).outcome == "pass"
    fails(claim(value * 1.5, "g/dL", day), record, picture, hemoglobin, f"{hemoglobin} says")
    fails(claim(value, "g/dL", "2001-01-01"), record, picture, hemoglobin, "not 2001-01-01")


def test_stage_fields(jenny: tuple[PatientRecord, ClinicalPicture]) -> None:
    record, picture = jenny
    cancer = picture.cancers[0]
    group = next(s for s in cancer.stages if s.type == "clinical" and s.group == "IIB")
    [source] = group.sources
    fails(StageClaim(type="clinical", group="IIIA", facts=[source]), record, picture, source, "not IIIA")
    fails(
        StageClaim(type="pathologic", group="IIB", facts=[source]), record, picture, source, "not pathologic"
    )
    # the Condition's own (unspecified) IIIC and the clinical IIB are different types: both agree
    condition_stage = next(s for s in cancer.stages if s.type == "unspecified")
    assert (
        check_claim(
            StageClaim(type="unspecified", group="IIIC", facts=condition_stage.sources), picture, record
        ).outcome
        == "pass"
    )


def test_diagnosis_and_vital_status_fields(jenny: tuple[PatientRecord, ClinicalPicture]) -> None:
    record, picture = jenny
    cancer = picture.cancers[0]
    right = DiagnosisClaim(
        condition=cancer.condition,
        name=cancer.name,
        kind="primary",
        laterality="left",
        facts=[cancer.condition],
    )
    assert check_claim(right, picture, record).outcome == "pass"
    fails(right.model_copy(update={"laterality": "right"}), record, picture, cancer.condition, "is left")
    fails(
        right.model_copy(update={"clinical_status": "active"}),
        record,
        picture,
        cancer.condition,
        "is remission",
    )
    patient = record.patient_ref or ""
    fails(VitalStatusClaim(deceased=True, facts=[patient]), record, picture, patient, "the record says alive")


def test_vital_status_of_a_deceased_patient() -> None:
    if not ADAN.exists():
        pytest.skip("shared Synthea records not present")
    record = load_record(ADAN)
    picture = picture_of(record)
    died = VitalStatusClaim(deceased=True, date="2007-03-25", facts=picture.patient.sources)
    assert check_claim(died, picture, record).outcome == "pass"
    result = check_claim(died.model_copy(update={"date": "2006-01-01"}), picture, record)
    assert result.outcome == "fail" and picture.patient.sources[0] in {e.reference for e in result.evidence}


def test_facts_not_in_the_record(jenny: tuple[PatientRecord, ClinicalPicture]) -> None:
    record, picture = jenny
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=["MedicationRequest/elsewhere"])
    assert missing_facts(claim, record) == ["MedicationRequest/elsewhere"]
    result = check_claim(claim, picture, record)
    assert result.outcome == "fail" and "not in this patient's record" in result.detail


def test_an_agreeing_claim_settles_only_its_own_words() -> None:
    """The template's line statement is supported through its claim (the orders do not name the
    cancer, its side or "current"); the same claim under a hand-edited text is not: a claim
    settles the words it asserts, never a side, status or date it does not."""
    from medboard.agents.longitudinal.core import longitudinal_findings
    from medboard.models import Statement, VerdictLabel
    from medboard.tools.checks.pipeline import verify_statement

    record = load_record(JENNY)
    picture = picture_of(record)
    line = next(
        f
        for f in longitudinal_findings(record, picture)
        if isinstance(f.claim, LineClaim) and "current" in f.text
    )

    def verdict(text: str) -> VerdictLabel:
        statement = Statement(id="s", text=text, evidence=line.evidence, claim=line.claim)
        return verify_statement(statement, [], record, picture.case_date, picture=picture).verdict

    assert verdict(line.text) == VerdictLabel.supported
    assert verdict(line.text.replace("left", "right")) != VerdictLabel.supported
    assert verdict(line.text.replace("current", "stopped")) != VerdictLabel.supported
    assert verdict(line.text.replace("2018-09-30", "2017-09-30")) == VerdictLabel.contradicted
    assert verdict(line.text.replace("anastrozole", "letrozole")) != VerdictLabel.supported
