"""Which clinical concept(s) of the picture a record reference belongs to.

Why: a statement cites one resource, but it is true or false of the *patient*. "Current
medication: anastrozole" citing an active order is true of the order and false of a patient whose
later MedicationStatement stopped it. To check a statement against the whole record, the verifier
starts from what it cites and needs the concepts those resources were reconciled into: the
medication ingredient (with its status and the source that decided it), the line of therapy, the
biomarker or tumour marker of a cancer (with every other result), the stage, the lab series, the
data-quality items and discrepancies that name the resource, the patient's vital status.

`PictureIndex(picture)` answers that by reference, read only from the picture's own ``sources`` /
``source`` fields (so it agrees with `medboard reconcile` by construction). `index_of(picture)`
builds it once per picture and forgets it with the picture (an index holds its picture weakly:
keep the picture while using its index). Deterministic, no record access, no model.

Two further questions the verifier asks are answered here, because the answers are properties of
the picture rather than of any statement:

- `medication_basis` / `line_basis`: *why* a medication or line has its status, as the deciding
  source(s) — a stop names the stopping resource, a stale order names its last evidence, a death
  names the death's source — so a contradiction can always name what contradicts;
- `discordant_results`: the other results of the same biomarker that say something else (by the
  reconciliation's own agreement key: polarity, else the coded value, else the text; numbers are
  never discordant, a changing value is a trend).
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from dataclasses import dataclass, field

from medboard.models.picture import (
    Biomarker,
    Cancer,
    ClinicalPicture,
    DataQuality,
    LabSeries,
    Line,
    Marker,
    Medication,
    Result,
    Stage,
)
from medboard.models.summary import Discrepancy
from medboard.tools.reconcile import knowledge

#: A ``Type/id`` reference inside a reason text ("MedicationStatement/x: stopped (...) on ...").
_REFERENCE = re.compile(r"(?<![\w/])([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})")
#: What a line's or medication's reason says when the patient's death decided it.
_DEATH_WORDS = ("died", "deceased")


@dataclass
class Concepts:
    """Everything the picture says a reference belongs to (empty lists when nothing)."""

    reference: str
    medications: list[Medication] = field(default_factory=list)
    lines: list[tuple[Cancer, Line]] = field(default_factory=list)
    biomarkers: list[tuple[Cancer, Biomarker]] = field(default_factory=list)
    markers: list[tuple[Cancer, Marker]] = field(default_factory=list)
    stages: list[tuple[Cancer, Stage]] = field(default_factory=list)
    cancers: list[Cancer] = field(default_factory=list)
    labs: list[LabSeries] = field(default_factory=list)
    quality: list[DataQuality] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    vital_status: bool = False

    def quality_of(self, kind: str) -> list[DataQuality]:
        return [q for q in self.quality if q.kind == kind]

    def discrepancies_of(self, kind: str) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]


@dataclass(frozen=True)
class Basis:
    """Why a concept has its status: the reason, and the sources that decided it (deciding first)."""

    reason: str
    sources: tuple[str, ...]


class PictureIndex:
    """Reference → the concepts of one picture it belongs to (see the module docstring)."""

    def __init__(self, picture: ClinicalPicture) -> None:
        # weakly: the cache below holds indexes, and must not keep their pictures alive
        self._picture = weakref.ref(picture)
        self._medications: dict[str, list[Medication]] = defaultdict(list)
        self._lines: dict[str, list[tuple[Cancer, Line]]] = defaultdict(list)
        self._biomarkers: dict[str, list[tuple[Cancer, Biomarker]]] = defaultdict(list)
        self._markers: dict[str, list[tuple[Cancer, Marker]]] = defaultdict(list)
        self._stages: dict[str, list[tuple[Cancer, Stage]]] = defaultdict(list)
        self._cancers: dict[str, list[Cancer]] = defaultdict(list)
        self._labs: dict[str, list[LabSeries]] = defaultdict(list)
        self._quality: dict[str, list[DataQuality]] = defaultdict(list)
        self._discrepancies: dict[str, list[Discrepancy]] = defaultdict(list)
        self._by_ingredient: dict[str, Medication] = {}
        for medication in picture.medications:
            self._by_ingredient[_norm(medication.ingredient)] = medication
            for ref in medication.sources:
                self._medications[ref].append(medication)
        for cancer in picture.cancers:
            for ref in dict.fromkeys([cancer.condition, *cancer.conditions]):
                self._cancers[ref].append(cancer)
            for line in cancer.lines:
                for ref in line.sources:
                    self._lines[ref].append((cancer, line))
            for biomarker in cancer.biomarkers:
                for result in biomarker.results:
                    self._biomarkers[result.source].append((cancer, biomarker))
            for marker in cancer.markers:
                for result in marker.results:
                    self._markers[result.source].append((cancer, marker))
            for stage in cancer.stages:
                for ref in stage.sources:
                    self._stages[ref].append((cancer, stage))
        for series in picture.labs:
            for point in series.points:
                self._labs[point.source].append(series)
        for item in picture.data_quality:
            for ref in item.sources:
                self._quality[ref].append(item)
        for discrepancy in picture.discrepancies:
            for ref in dict.fromkeys(s.reference for s in discrepancy.sources):
                self._discrepancies[ref].append(discrepancy)
        self._vital = set(picture.patient.sources)

    @property
    def picture(self) -> ClinicalPicture:
        picture = self._picture()
        if picture is None:  # kept past its picture: the caller dropped what it indexes
            raise ReferenceError("the picture of this index is gone (keep the picture, not only its index)")
        return picture

    def of(self, reference: str) -> Concepts:
        """The concepts `reference` (a canonical ``Type/id``) belongs to."""
        return Concepts(
            reference=reference,
            medications=list(self._medications.get(reference, ())),
            lines=list(self._lines.get(reference, ())),
            biomarkers=list(self._biomarkers.get(reference, ())),
            markers=list(self._markers.get(reference, ())),
            stages=list(self._stages.get(reference, ())),
            cancers=list(self._cancers.get(reference, ())),
            labs=list(self._labs.get(reference, ())),
            quality=list(self._quality.get(reference, ())),
            discrepancies=list(self._discrepancies.get(reference, ())),
            vital_status=reference in self._vital,
        )

    def medication(self, ingredient: str) -> Medication | None:
        """The picture's medication of that ingredient (case and spacing ignored)."""
        return self._by_ingredient.get(_norm(ingredient))

    def cancer(self, condition: str | None) -> Cancer | None:
        """The cancer one of whose Conditions is `condition`."""
        found = self._cancers.get(condition or "")
        return found[0] if found else None

    def after_death(self, reference: str) -> Discrepancy | None:
        """The picture's `after_death` discrepancy citing `reference` (care dated after the death:
        the reconciliation's rule, which leaves out records of the death itself and the same day)."""
        return next(
            (
                d
                for d in self._discrepancies.get(reference, ())
                if d.kind == "after_death"
                and d.sources[0].reference != reference  # not the death's own record
            ),
            None,
        )

    def medication_basis(self, medication: Medication) -> Basis:
        return medication_basis(medication, self.picture)

    def line_basis(self, line: Line) -> Basis:
        return line_basis(line, self.picture, self)


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _references(text: str, allowed: list[str] | set[str]) -> list[str]:
    found = [m.rstrip(".") for m in _REFERENCE.findall(text)]
    return list(dict.fromkeys(r for r in found if r in allowed))


def medication_basis(medication: Medication, picture: ClinicalPicture) -> Basis:
    """The sources that decided a medication's status, deciding first.

    `medications.py` writes the deciding source first in the reason of a stop or completion
    ("MedicationStatement/x: stopped (reason: arthralgia) on ...") and the last evidence after
    ("last evidence MedicationRequest/y on ..."); a death that made it stale is the patient's.
    """
    named = _references(medication.reason, medication.sources)
    died = any(w in medication.reason for w in _DEATH_WORDS) and medication.status != "current"
    sources = [*(picture.patient.sources if died else []), *named] or list(medication.sources[-1:])
    return Basis(medication.reason, tuple(dict.fromkeys(sources)))


def line_basis(line: Line, picture: ClinicalPicture, index: PictureIndex | None = None) -> Basis:
    """The sources that decided a line's status: the death's source when the patient died, else the
    deciding source of a drug of the line with the same status (its stopping statement), else the
    line's latest source."""
    reason = "; ".join(line.notes) or f"status {line.status}"
    if line.status != "current" and any(w in reason for w in _DEATH_WORDS) and picture.patient.sources:
        return Basis(reason, tuple(dict.fromkeys([*picture.patient.sources, *line.sources[-1:]])))
    index = index or index_of(picture)
    for drug in line.drugs:
        medication = index.medication(drug)
        if medication is not None and medication.status == line.status != "current":
            basis = medication_basis(medication, picture)
            sources = [s for s in basis.sources if s in line.sources or s in picture.patient.sources]
            if sources:
                return Basis(f"{reason}; {medication.ingredient}: {basis.reason}", tuple(sources))
    return Basis(reason, tuple(_references(reason, line.sources) or line.sources[-1:]))


def result_key(result: Result) -> str | None:
    """What a picture result says, for agreement: positive / negative, else its value as text.

    None for numbers and empty values: a number that changes is a trend, never a discordance.
    """
    value = result.value
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None
    text = str(value)
    return knowledge.polarity([text], text) or " ".join(text.lower().split())


def discordant_results(
    cancer: Cancer, biomarker: Biomarker, said: set[str | None]
) -> list[tuple[Biomarker, Result]]:
    """Results of `biomarker` (and of a biomarker of the same name under another code, compared by
    polarity only, as the reconciliation does) whose key is none of `said`.

    Only when the picture marks the biomarker `conflict`: the picture's rule decides whether two
    results disagree, this names which.
    """
    if not biomarker.conflict:
        return []
    said = {k for k in said if k is not None}
    out: list[tuple[Biomarker, Result]] = []
    for other in cancer.biomarkers:
        same_code = other is biomarker
        if not same_code and other.name.lower() != biomarker.name.lower():
            continue
        for result in other.results:
            key = result_key(result)
            if key is None or key in said:
                continue
            if not same_code and key not in {"positive", "negative"}:
                continue  # across codes only opposite polarities are a discordance
            out.append((other, result))
    return out


#: id(picture) → its index; an entry goes with its picture.
_INDEXES: dict[int, PictureIndex] = {}


def index_of(picture: ClinicalPicture) -> PictureIndex:
    """`PictureIndex(picture)`, built once per picture (pictures are read-only once built)."""
    key = id(picture)
    found = _INDEXES.get(key)
    if found is None or found._picture() is not picture:
        found = PictureIndex(picture)
        _INDEXES[key] = found
        weakref.finalize(picture, _INDEXES.pop, key, None)
    return found


__all__ = [
    "Basis",
    "Concepts",
    "PictureIndex",
    "discordant_results",
    "index_of",
    "line_basis",
    "medication_basis",
    "result_key",
]
