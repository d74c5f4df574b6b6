"""Case files for the imaging-reader and prior/current tests: a bundle with imaging studies and
radiology reports (on top of `sample_records.tiny_bundle`), and a case YAML naming real images.

The images are real (tests/data/imaging, pydicom-data, the shared head CT); the FHIR resources
around them are hand-written so each test knows exactly which study and report it should cite.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from imaging_support import TEST_DATA
from sample_records import tiny_bundle

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

MR_CONCLUSION = "Enhancing left frontal mass measuring 48 mm with surrounding edema."
CXR_PRIOR_CONCLUSION = "Small right pleural effusion."
CXR_CURRENT_CONCLUSION = "Right pleural effusion has resolved. No new consolidation."


def imaging_study(
    study_id: str, modality: str, site: str, started: str, *, instances: int = 1, uid: str | None = None
) -> dict[str, Any]:
    series: dict[str, Any] = {
        "uid": uid or f"2.25.{abs(hash(study_id)) % 10**12}",
        "number": 1,
        "modality": {"system": DCM, "code": modality},
        "numberOfInstances": instances,
        "bodySite": {"system": SNOMED, "display": site},
        "started": started,
    }
    return {
        "resourceType": "ImagingStudy",
        "id": study_id,
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "started": started,
        "numberOfSeries": 1,
        "numberOfInstances": instances,
        "series": [series],
    }


def radiology_report(report_id: str, study_id: str, title: str, date: str, conclusion: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "RAD",
                        "display": "Radiology",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "18748-4", "display": title}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": date,
        "imagingStudy": [{"reference": f"ImagingStudy/{study_id}"}],
        "conclusion": conclusion,
    }


def imaging_bundle(*, cxr_reports: bool = True, extra_study: bool = True) -> dict[str, Any]:
    """tiny_bundle + an MR brain study with its report, two dated chest X-ray studies (+ reports)
    and, optionally, a CT study whose images the case does not have."""
    bundle = tiny_bundle()
    resources = [
        imaging_study("mr-1", "MR", "Brain", "2023-04-02", instances=25),
        radiology_report("mr-report", "mr-1", "MR brain with contrast", "2023-04-02", MR_CONCLUSION),
        imaging_study("cxr-prior", "DX", "Chest", "2023-03-01"),
        imaging_study("cxr-current", "DX", "Chest", "2023-06-01"),
    ]
    if cxr_reports:
        resources += [
            radiology_report(
                "cxr-prior-report", "cxr-prior", "Chest X-ray", "2023-03-01", CXR_PRIOR_CONCLUSION
            ),
            radiology_report(
                "cxr-current-report", "cxr-current", "Chest X-ray", "2023-06-01", CXR_CURRENT_CONCLUSION
            ),
        ]
    if extra_study:
        resources.append(imaging_study("ct-old", "CT", "Abdomen", "2022-11-20", instances=120))
    bundle["entry"] += [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return bundle


def cxr_paths() -> tuple[Path, Path]:
    """Two real chest X-rays (NIH ChestX-ray14): prior, current."""
    return TEST_DATA / "00027426_000.png", TEST_DATA / "00000001_000.png"


def write_case(
    folder: Path,
    images: list[dict[str, Any]],
    *,
    bundle: dict[str, Any] | None = None,
    question: str | None = None,
) -> Path:
    """A case YAML in ``folder`` with the bundle next to it; returns the YAML path. Image and mask
    files are copied into ``folder/images/`` (case YAML paths must stay inside the case folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.json").write_text(json.dumps(bundle if bundle is not None else imaging_bundle()))
    images = [
        {
            **image,
            **{key: _copy_in(folder, image[key], f"{i}-{key}") for key in ("path", "mask") if key in image},
        }
        for i, image in enumerate(images)
    ]
    spec: dict[str, Any] = {"id": "imaging-case", "record": "bundle.json", "images": images}
    if question:
        spec["question"] = question
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _copy_in(folder: Path, value: str, tag: str) -> str:
    source = Path(value)
    if not source.is_absolute() or not source.exists() or source.resolve().is_relative_to(folder.resolve()):
        return value
    target = folder / "images" / tag / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
    return str(target.relative_to(folder))


def mr_entry(*, mask: bool = True, date: str = "2023-04-02") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": str(TEST_DATA / "brain1_image.nrrd"),
        "study": "ImagingStudy/mr-1",
        "recipe": "mri",
        "date": date,
    }
    if mask:
        entry["mask"] = str(TEST_DATA / "brain1_label.nrrd")
    return entry


def cxr_entries() -> list[dict[str, Any]]:
    prior, current = cxr_paths()
    return [
        {"path": str(prior), "study": "ImagingStudy/cxr-prior", "recipe": "cxr"},
        {"path": str(current), "study": "ImagingStudy/cxr-current", "recipe": "cxr"},
    ]


def vision_responder(
    *,
    reading: list[dict[str, Any]] | None = None,
    changes: list[dict[str, Any]] | None = None,
    fail: str = "",
):
    """A fake vision MedGemma for `FakeOpenAIServer`: answers the imaging schemas with the given items
    (``fail`` names a schema to answer with HTTP 500), and the text agents' schemas neutrally."""
    from fake_openai import chat_completion

    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        if "response_format" not in body:  # free text, e.g. the EHR reader's prefix warm-up
            return 200, chat_completion("ok", completion_tokens=1), 0.0
        name = body["response_format"]["json_schema"]["name"]
        if name == fail:
            return 500, {"error": {"message": "boom"}}, 0.0
        answers: dict[str, Any] = {
            "ImagingReading": {"findings": reading or []},
            "ImagingChange": {"changes": changes or []},
            "TextReading": {"findings": []},
            "EntailmentJudgement": {"label": "neutral", "reason": "The evidence does not say."},
        }
        if name not in answers:
            return 400, {"error": {"message": f"unexpected schema {name}"}}, 0.0
        return 200, chat_completion(json.dumps(answers[name])), 0.0

    return respond


def user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content parts of a request's (single) user message."""
    user = [m for m in body["messages"] if m["role"] == "user"]
    assert len(user) == 1, "imaging requests are single-turn"
    content = user[0]["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def decode_image_part(part: dict[str, Any]) -> Any:
    """An ``image_url`` data-URI part → numpy RGB array."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    data = part["image_url"]["url"].split(",", 1)[1]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
