"""Load a case: a bundle file, a case folder, or a case YAML.

A case YAML (or `case.yaml` inside a folder) names the record and, optionally, the board question,
the case date and image folders/files with the `ImagingStudy` they belong to:

```yaml
id: jenny-m-2024-05
record: bundle.json            # path relative to the YAML: bundle, resource, folder or NDJSON
patient: Patient/abc           # optional; needed when the record holds several patients
question: Is she a candidate for breast-conserving surgery?
case_date: 2024-05-01          # optional; default = latest date in the record
images:
  - path: ct/                  # DICOM folder, NRRD/NIfTI volume, PNG/JPEG, tile
    study: ImagingStudy/ct-1   # optional link when DICOM UIDs are absent
    recipe: ct                 # optional: ct | mri | cxr | wsi | image
    series: 1.2.840...         # optional: the SeriesInstanceUID to pick in a mixed DICOM folder
    date: 2024-04-20           # optional: acquisition date when the file carries none (PNG, NRRD)
    modality: MR               # optional: DICOM modality code when the file carries none
    body_site: brain           # optional: body part when the file carries none
    mask: tumour_label.nrrd    # optional: label mask on the same grid (NRRD/NIfTI) or a DICOM SEG
    label: 1                   # optional: the mask label to measure (default: every non-zero voxel)
```

Dates, modality and body site let the longitudinal comparer pair prior and current images of the
same modality and body site; a mask gives the imaging reader a measured lesion (RECIST input).

A folder without `case.yaml` holds the record: one `.json` bundle, or several resource files /
an NDJSON set read together as one source (as `medboard record FOLDER` reads it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medboard.errors import CaseInputError
from medboard.orchestrator.context import CaseInput

CASE_FILE_NAMES = ("case.yaml", "case.yml")


class ImageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    study: str | None = None
    recipe: str | None = None
    series: str | None = None
    date: dt.date | str | None = None
    modality: str | None = None
    body_site: str | None = None
    mask: str | None = None
    label: int | None = None


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    record: str
    patient: str | None = None
    question: str | None = None
    case_date: dt.date | str | None = None
    images: list[ImageSpec] = Field(default_factory=list)


def load_case(
    path: str | Path, *, patient: str | None = None, question: str | None = None, lenient: bool = False
) -> CaseInput:
    """Load a case from a bundle file, a case folder or a case YAML."""
    from medboard.tools.fhir import load_record

    source = Path(path)
    if not source.exists():
        raise CaseInputError("no such file or folder", source=str(source))
    spec_path = _case_file(source)
    if spec_path is None:
        record_path = _single_record(source) if source.is_dir() else source
        record = load_record(record_path, patient=_patient_id(patient), lenient=lenient)
        return CaseInput(
            case_id=_default_case_id(record_path, record.patient_id),
            record=record,
            question=question,
            source=str(source),
        )
    spec = _read_spec(spec_path)
    base = spec_path.parent
    record_path = (base / spec.record).resolve()
    if not record_path.exists():
        raise CaseInputError(
            f"record {spec.record!r} does not exist", source=str(spec_path), location="record"
        )
    record = load_record(record_path, patient=_patient_id(patient or spec.patient), lenient=lenient)
    images = []
    links: dict[str, str] = {}
    for index, image in enumerate(spec.images):
        image_path = (base / image.path).resolve()
        if not image_path.exists():
            raise CaseInputError(
                f"image path {image.path!r} does not exist",
                source=str(spec_path),
                location=f"images[{index}]",
            )
        mask_path = None
        if image.mask:
            mask_path = (base / image.mask).resolve()
            if not mask_path.exists():
                raise CaseInputError(
                    f"mask path {image.mask!r} does not exist",
                    source=str(spec_path),
                    location=f"images[{index}].mask",
                )
        images.append(
            {
                "path": str(image_path),
                "study": image.study,
                "recipe": image.recipe,
                "series": image.series,
                "date": str(image.date) if image.date else None,
                "modality": image.modality,
                "body_site": image.body_site,
                "mask": str(mask_path) if mask_path else None,
                "label": image.label,
            }
        )
        if image.study:
            links[image.study] = str(image_path)
    return CaseInput(
        case_id=spec.id or _default_case_id(record_path, record.patient_id),
        record=record,
        question=question or spec.question,
        case_date=str(spec.case_date) if spec.case_date else None,
        images=images,
        image_links=links,
        source=str(spec_path),
    )


def _case_file(source: Path) -> Path | None:
    if source.is_file() and source.suffix.lower() in (".yaml", ".yml"):
        return source
    if source.is_dir():
        return next((source / n for n in CASE_FILE_NAMES if (source / n).is_file()), None)
    return None


def _read_spec(path: Path) -> CaseSpec:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise CaseInputError(
            f"invalid YAML: {getattr(error, 'problem', error)}", source=str(path), location=where
        ) from error
    if not isinstance(data, dict):
        raise CaseInputError("a case file must be a mapping with at least `record:`", source=str(path))
    try:
        return CaseSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or None
        raise CaseInputError(first["msg"], source=str(path), location=location) from error


def _single_record(folder: Path) -> Path:
    """The record of a folder without case.yaml: its one `.json` file, else the folder itself
    (NDJSON files, or a folder of resource files, which `load_record` reads as one source)."""
    candidates = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in (".json", ".ndjson") and not p.name.startswith(".")
    )
    if not candidates:
        raise CaseInputError(
            "a case folder without case.yaml must hold a .json record, resource files or NDJSON files",
            source=str(folder),
        )
    if len(candidates) == 1 and candidates[0].suffix.lower() == ".json":
        return candidates[0]
    return folder


def _patient_id(patient: str | None) -> str | None:
    return patient.split("/", 1)[1] if patient and patient.startswith("Patient/") else patient


def _default_case_id(path: Path, patient_id: str | None) -> str:
    """The record file's stem (or folder name); a folder of many patients adds the patient id."""
    stem = path.stem if path.is_file() else path.name
    return f"{stem}-{patient_id}" if path.is_dir() and patient_id else stem
