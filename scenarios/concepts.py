"""A scenario's `kind:name` concept, resolved against the clinical picture to the sources it rests on.

Expectations about a concept ("the ER result is in the cancer section", "the headline names the
current line") are checked by citation, not by wording: a statement mentions a concept when it
cites one of the record resources the picture built that concept from. A rephrased sentence still
passes; a sentence that names ER but cites nothing about it does not.

Matching a name: an exact (case-insensitive) name or code wins; otherwise every entry whose name
contains it as a word. `biomarker:ER` is the ER biomarker (not "HER2"), `cancer:breast` is any
cancer named with "breast", `line:anastrozole` every line with anastrozole in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from medboard.models import Statement
    from medboard.models.picture import Cancer, ClinicalPicture


@dataclass
class ConceptMatch:
    """What a concept reference found in the picture: labels for reports, and the sources."""

    ref: str
    labels: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.sources)

    def describe(self) -> str:
        if not self.labels:
            return f"{self.ref}: not in the clinical picture"
        return f"{self.ref} = {'; '.join(self.labels)}"


def resolve(ref: str, picture: ClinicalPicture) -> ConceptMatch:
    kind, _, name = ref.partition(":")
    match = ConceptMatch(ref)
    if kind == "vital_status":
        patient = picture.patient
        status = f"deceased {patient.deceased_date or ''}".strip() if patient.deceased else "alive"
        match.labels.append(f"vital status: {status}")
        match.sources.update([*([patient.reference] if patient.reference else []), *patient.sources])
        return match
    if kind == "medication":
        for med in _best(picture.medications, name, lambda m: [m.ingredient]):
            match.labels.append(f"medication {med.ingredient} ({med.status})")
            match.sources.update(med.sources)
        return match
    if kind == "lab":
        for series in _best(picture.labs, name, lambda s: [s.name, s.code or ""]):
            match.labels.append(f"lab {series.name} [{series.unit}] ({len(series.points)} results)")
            match.sources.update(p.source for p in series.points)
        return match
    if kind == "cancer":
        for cancer in _cancers(picture, name):
            match.labels.append(f"cancer {cancer.name} ({cancer.condition})")
            match.sources.update([cancer.condition, *cancer.conditions])
        return match
    if kind == "stage":
        for cancer in _cancers(picture, name):
            for stage in cancer.stages:
                match.labels.append(f"{stage.type} stage {stage.group} of {cancer.name}")
                match.sources.update(stage.sources)
        return match
    for cancer in picture.cancers:
        if kind == "biomarker":
            for marker in _best(cancer.biomarkers, name, lambda b: [b.name, b.code or ""]):
                values = ", ".join(str(r.value) for r in marker.results)
                match.labels.append(f"biomarker {marker.name} of {cancer.name}: {values}")
                match.sources.update(r.source for r in marker.results)
        elif kind == "marker":
            for tumour_marker in _best(cancer.markers, name, lambda m: [m.name, m.code or ""]):
                count = len(tumour_marker.results)
                match.labels.append(f"marker {tumour_marker.name} of {cancer.name} ({count} results)")
                match.sources.update(r.source for r in tumour_marker.results)
        elif kind == "line":
            for line in cancer.lines:
                if _line_matches(line.drugs, name):
                    match.labels.append(f"line {' + '.join(line.drugs)} ({line.status}) of {cancer.name}")
                    match.sources.update(line.sources)
    return match


def _cancers(picture: ClinicalPicture, name: str) -> list[Cancer]:
    if not name:
        return list(picture.cancers)
    return _best(
        picture.cancers,
        name,
        lambda c: [c.name, c.condition, *c.conditions, c.histology or "", c.body_site or ""],
    )


def _line_matches(drugs: list[str], name: str) -> bool:
    wanted = {d.strip().casefold() for d in name.split("+") if d.strip()}
    have = {d.casefold() for d in drugs}
    return wanted == have if len(wanted) > 1 else bool(wanted & have)


T = TypeVar("T")


def _best(items: Iterable[T], name: str, names: Callable[[T], list[str]]) -> list[T]:
    """Items whose name/code equals `name` (case-insensitive); failing that, contain it as a word."""
    key = name.strip().casefold()
    listed = list(items)
    keys = [[n.casefold() for n in names(item) if n] for item in listed]
    exact = [item for item, ks in zip(listed, keys, strict=True) if key in ks]
    if exact:
        return exact
    word = re.compile(rf"(?<![\w]){re.escape(key)}(?![\w])")
    return [item for item, ks in zip(listed, keys, strict=True) if any(word.search(k) for k in ks)]


def cited(statement: Statement) -> set[str]:
    """Every record reference a statement rests on: its evidence and its claim's facts."""
    refs = {e.reference for e in statement.evidence}
    if statement.claim is not None:
        refs.update(statement.claim.facts)
    return refs
