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

Paths in a case YAML are confined to the YAML's folder (after resolving symlinks): a case that
reads `../../etc/passwd` or an absolute path is refused unless the caller passes
``allow_external_paths=True``. The file is read bounded (``max_case_file_bytes``), its nesting is
checked on the parser's event stream before anything is built (``max_json_depth``), YAML aliases
are refused (a case file needs none; they are the "billion laughs" bomb), dates are kept as the
strings written and checked as FHIR dates (`FhirDate`), and every problem is a `CaseInputError`
naming the key.

A folder without `case.yaml` holds the record: one `.json` bundle, or several resource files /
an NDJSON set read together as one source (as `medboard record FOLDER` reads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from medboard.agents.case import CaseInput
from medboard.errors import CaseInputError, validation_input_error
from medboard.limits import LimitExceededError, limits
from medboard.models import FhirDate, FhirDateError
from medboard.safeio import read_text_bounded, reject_nul
from medboard.textsafety import lone_surrogate_path, neutralize_line

CASE_FILE_NAMES = ("case.yaml", "case.yml")


EXTERNAL_PATHS_HINT = "pass allow_external_paths=True (CLI: --allow-external-paths) to allow it"


def check_iso_date(value: str | None) -> str | None:
    """A FHIR date (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, or a date-time), kept as written."""
    if value is None:
        return None
    text = value.strip()
    try:
        FhirDate.parse(text)
    except FhirDateError:
        raise ValueError("not a valid ISO date (YYYY-MM-DD)") from None
    return text


class ImageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    study: str | None = None
    recipe: str | None = None
    series: str | None = None
    date: str | None = None
    modality: str | None = None
    body_site: str | None = None
    mask: str | None = None
    label: StrictInt | None = None

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        return check_iso_date(value)


class CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    record: str
    patient: str | None = None
    question: str | None = None
    case_date: str | None = None
    images: list[ImageSpec] = Field(default_factory=list)

    @field_validator("case_date")
    @classmethod
    def _iso_case_date(cls, value: str | None) -> str | None:
        return check_iso_date(value)


def load_case(
    path: str | Path,
    *,
    patient: str | None = None,
    question: str | None = None,
    lenient: bool = False,
    allow_external_paths: bool = False,
) -> CaseInput:
    """Load a case from a bundle file, a case folder or a case YAML.

    ``allow_external_paths``: let a case YAML name files outside its own folder (refused by
    default, so a shared case file cannot make medboard read `/etc/passwd` or a home folder).
    """
    from medboard.tools.fhir import load_record

    source = Path(reject_nul(path, error=CaseInputError))
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
    base = spec_path.parent.resolve()

    def inside(value: str, location: str, what: str) -> Path:
        return _case_path(base, value, spec_path, location, what, allow_external_paths)

    record_path = inside(spec.record, "record", "record")
    if not record_path.exists():
        raise CaseInputError(
            f"record {spec.record!r} does not exist", source=str(spec_path), location="record"
        )
    record = load_record(record_path, patient=_patient_id(patient or spec.patient), lenient=lenient)
    images = []
    links: dict[str, str] = {}
    for index, image in enumerate(spec.images):
        image_path = inside(image.path, f"images[{index}].path", "image path")
        if not image_path.exists():
            raise CaseInputError(
                f"image path {image.path!r} does not exist",
                source=str(spec_path),
                location=f"images[{index}]",
            )
        mask_path = None
        if image.mask:
            mask_path = inside(image.mask, f"images[{index}].mask", "mask path")
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
                "date": image.date,
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
        case_date=spec.case_date or None,
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


def _case_path(
    base: Path,
    value: str,
    spec_path: Path,
    location: str,
    what: str,
    allow_external: bool,
    folder: str = "the case folder",
) -> Path:
    """``value`` resolved against the case folder (symlinks followed), refused when it leaves it."""
    if "\x00" in value:
        raise CaseInputError(f"{what} contains a NUL character", source=str(spec_path), location=location)
    try:
        resolved = (base / value).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an unresolvable name
        raise CaseInputError(f"{what} cannot be resolved", source=str(spec_path), location=location) from None
    if not allow_external and not resolved.is_relative_to(base):
        raise CaseInputError(
            f"{what} {neutralize_line(value)!r} is outside {folder}; {EXTERNAL_PATHS_HINT}",
            source=str(spec_path),
            location=location,
        )
    return resolved


class _CaseLoader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: dates stay the strings written (PyYAML would build
    ``date(2024, 2, 30)`` and fail with a traceback); `check_iso_date` validates them instead."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_structure(text: str, path: Path) -> None:
    """Nesting depth and aliases, from the parser's (iterative) event stream, before composing
    (PyYAML's composer recurses: 10,000 nested brackets would overflow the stack)."""
    cap = limits().max_json_depth
    depth = 0
    for event in yaml.parse(text, Loader=_CaseLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > cap:
                mark = event.start_mark
                raise LimitExceededError(
                    "YAML nested too deeply",
                    "max_json_depth",
                    source=str(path),
                    location=f"line {mark.line + 1}",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise CaseInputError(
                "YAML aliases (*name) are not allowed in a case file",
                source=str(path),
                location=f"line {event.start_mark.line + 1}",
            )


def _read_spec(path: Path) -> CaseSpec:
    data = read_yaml_mapping(path, "a case file must be a mapping with at least `record:`")
    try:
        return CaseSpec.model_validate(data)
    except ValidationError as error:
        raise validation_input_error(
            error, source=str(path), location=_yaml_location, error_type=CaseInputError
        ) from None


def read_yaml_text(path: Path) -> str:
    """The file's text, read bounded (``max_case_file_bytes``)."""
    return read_text_bounded(path, cap="max_case_file_bytes", error=CaseInputError)


def read_yaml_mapping(path: Path, not_a_mapping: str, *, text: str | None = None) -> dict[str, Any]:
    """A medboard YAML file (a case, an agenda) as a mapping: read bounded, nesting and aliases
    checked before composing, dates kept as strings, lone surrogates refused; every problem a
    `CaseInputError` naming the file (and the line, where the parser knows it)."""
    if text is None:
        text = read_yaml_text(path)
    try:
        _check_structure(text, path)
        data: Any = yaml.load(text, Loader=_CaseLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise CaseInputError(
            f"invalid YAML: {getattr(error, 'problem', None) or type(error).__name__}",
            source=str(path),
            location=where,
        ) from None
    except (ValueError, OverflowError, RecursionError) as error:  # e.g. a 5,000-digit integer
        raise CaseInputError(f"invalid YAML value ({type(error).__name__})", source=str(path)) from None
    if not isinstance(data, dict):
        raise CaseInputError(not_a_mapping, source=str(path))
    bad = lone_surrogate_path(data)
    if bad is not None:
        raise CaseInputError(
            "a string holds a lone UTF-16 surrogate escape (not Unicode text)", source=str(path), location=bad
        )
    return data


def _yaml_location(loc: tuple[Any, ...]) -> str | None:
    """``images[0].date`` from a pydantic location; a key that is not a plain name is ``…``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = str(part) if str(part).replace("_", "").isalnum() and len(str(part)) <= 64 else "…"
            out += f".{name}" if out else name
    return out or None


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
