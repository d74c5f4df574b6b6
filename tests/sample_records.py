"""Small hand-built records for orchestration unit tests (real-data tests use tests/data)."""

from __future__ import annotations

from medboard.tools.fhir.record import PatientRecord

from medboard.models import Coding, EvidenceRef, Fact, FactKind, ReferenceRange


def tiny_record(*, note: str | None = None) -> PatientRecord:
    """A breast-cancer patient with stage, one marker, a low hemoglobin and (optionally) a note."""
    resources = {
        "Patient/p1": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1965-03-02"},
        "Condition/c1": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}},
        "Observation/t1": {"resourceType": "Observation", "id": "t1", "subject": {"reference": "Patient/p1"}},
        "Observation/er": {"resourceType": "Observation", "id": "er", "subject": {"reference": "Patient/p1"}},
        "Observation/hb": {"resourceType": "Observation", "id": "hb", "subject": {"reference": "Patient/p1"}},
    }
    facts = [
        Fact(
            id="Patient/p1",
            kind=FactKind.patient,
            label="Ann Example",
            details={"name": "Ann Example", "gender": "female", "birth_date": "1965-03-02"},
            date="1965-03-02",
            evidence=EvidenceRef(reference="Patient/p1"),
        ),
        Fact(
            id="Condition/c1",
            kind=FactKind.condition,
            label="Invasive ductal carcinoma of breast",
            status="active",
            date="2023-01-10",
            body_site="breast",
            laterality="left",
            details={"cancer": "primary"},
            evidence=EvidenceRef(reference="Condition/c1"),
        ),
        Fact(
            id="Observation/t1",
            kind=FactKind.staging,
            label="Pathologic T category",
            value="pT2",
            date="2023-02-01",
            related=["Condition/c1"],
            details={"category": "T", "stage_type": "pathologic"},
            evidence=EvidenceRef(reference="Observation/t1", quote="pT2"),
        ),
        Fact(
            id="Observation/er",
            kind=FactKind.tumor_marker,
            label="Estrogen receptor",
            codes=[Coding(system="http://loinc.org", code="16112-5")],
            value="Positive",
            date="2023-02-01",
            evidence=EvidenceRef(reference="Observation/er", quote="Positive"),
        ),
        Fact(
            id="Observation/hb",
            kind=FactKind.lab,
            label="Hemoglobin",
            codes=[Coding(system="http://loinc.org", code="718-7")],
            value=10.1,
            unit="g/dL",
            reference_range=ReferenceRange(low=12.0, high=16.0, unit="g/dL"),
            interpretation="L",
            abnormal=True,
            date="2023-03-01",
            evidence=EvidenceRef(reference="Observation/hb", quote="10.1 g/dL"),
        ),
    ]
    if note is not None:
        resources["DocumentReference/n1"] = {"resourceType": "DocumentReference", "id": "n1"}
        facts.append(
            Fact(
                id="DocumentReference/n1",
                kind=FactKind.document,
                label="Progress note",
                text=note,
                date="2023-03-02",
                evidence=EvidenceRef(reference="DocumentReference/n1"),
            )
        )
    return PatientRecord(source="tiny", patient_id="p1", resources=resources, facts=facts)
