"""A small, hand-written FHIR R4 bundle for orchestration tests, loaded through the real loader.

Real-data tests use the shared mCODE/Synthea bundles; this one exists so that flow tests can add a
note with chosen text (prompt-injection, grounding) and know every fact in the record.
"""

from __future__ import annotations

import base64
from typing import Any

from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def _subject() -> dict[str, str]:
    return {"reference": "Patient/p1"}


def tiny_bundle(*, note: str | None = None) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"given": ["Ann"], "family": "Example"}],
            "gender": "female",
            "birthDate": "1965-03-02",
        },
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": _subject(),
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                ]
            },
            "code": {
                "coding": [
                    {
                        "system": SNOMED,
                        "code": "408643008",
                        "display": "Infiltrating duct carcinoma of breast",
                    }
                ]
            },
            "bodySite": [
                {"coding": [{"system": SNOMED, "code": "80248007", "display": "Left breast structure"}]}
            ],
            "onsetDateTime": "2023-01-10",
        },
        {
            "resourceType": "Observation",
            "id": "t1",
            "status": "final",
            "subject": _subject(),
            "focus": [{"reference": "Condition/c1"}],
            "code": {
                "coding": [{"system": LOINC, "code": "21899-0", "display": "Primary tumor.pathology Cancer"}],
                "text": "Pathologic T category",
            },
            "valueCodeableConcept": {
                "coding": [{"system": "http://cancerstaging.org", "code": "pT2", "display": "pT2"}]
            },
            "effectiveDateTime": "2023-02-01",
        },
        {
            "resourceType": "Observation",
            "id": "er",
            "status": "final",
            "subject": _subject(),
            "code": {
                "coding": [
                    {
                        "system": LOINC,
                        "code": "16112-5",
                        "display": "Estrogen receptor [Interpretation] in Tissue",
                    }
                ]
            },
            "valueCodeableConcept": {
                "coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}]
            },
            "effectiveDateTime": "2023-02-01",
        },
        {
            "resourceType": "Observation",
            "id": "hb",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "subject": _subject(),
            "code": {
                "coding": [{"system": LOINC, "code": "718-7", "display": "Hemoglobin [Mass/volume] in Blood"}]
            },
            "valueQuantity": {
                "value": 10.1,
                "unit": "g/dL",
                "system": "http://unitsofmeasure.org",
                "code": "g/dL",
            },
            "referenceRange": [
                {"low": {"value": 12.0, "unit": "g/dL"}, "high": {"value": 16.0, "unit": "g/dL"}}
            ],
            "interpretation": [{"coding": [{"code": "L"}]}],
            "effectiveDateTime": "2023-03-01",
        },
    ]
    if note is not None:
        resources.append(
            {
                "resourceType": "DocumentReference",
                "id": "n1",
                "status": "current",
                "subject": _subject(),
                "date": "2023-03-02T10:00:00Z",
                "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]},
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": base64.b64encode(note.encode()).decode(),
                        }
                    }
                ],
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


def tiny_record(*, note: str | None = None) -> PatientRecord:
    """A breast-cancer patient with stage, ER, a low hemoglobin and (optionally) a progress note."""
    return load_record(tiny_bundle(note=note), name="tiny-bundle")
