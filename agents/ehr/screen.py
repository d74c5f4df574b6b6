"""Which record facts the EHR specialist may state as facts of the patient at the case date.

A fact can be true of its resource and still not be a fact of the patient: "Protein 76.21 g/dL"
is what the Observation says, but no living patient has it; a lab dated after the death, or after
the case date, is not the patient the board is discussing. The clinical picture already decided
each of these (`medboard.tools.reconcile.labs`: implausible values and late facts are kept out of
its series and listed as data quality); this screen applies the same decisions to the facts the
specialist words itself, so a value the picture keeps out is never stated, only listed as an
open question (`picture.data_quality_findings`).

Implausible values are matched by resource (a panel with one implausible component loses its other
components too: a resource that reports an impossible value is not quoted for the rest). The
picture's grouped data-quality items quote only the first few references of a group, so the date
rules are re-applied here, with the picture's own dates and the same partial-date rule
(`FhirDate.surely_after`: a same-day or partial date is not called late).
"""

from __future__ import annotations

from dataclasses import dataclass

from medboard.models import Fact, FactKind
from medboard.models.dates import FhirDate
from medboard.models.picture import ClinicalPicture
from medboard.tools.reconcile.patient import DEATH_DOCUMENTATION


@dataclass(frozen=True)
class Screen:
    implausible: frozenset[str]
    case_date: FhirDate | None
    death: FhirDate | None

    @classmethod
    def of(cls, picture: ClinicalPicture) -> Screen:
        flagged = (item for item in picture.data_quality if item.kind == "implausible_value")
        return cls(
            implausible=frozenset(source for item in flagged for source in item.sources),
            case_date=FhirDate.try_parse(picture.case_date),
            death=FhirDate.try_parse(picture.patient.deceased_date),
        )

    def admits(self, fact: Fact) -> bool:
        """False for an implausible value, or a fact surely dated after the case date or the death."""
        if fact.reference in self.implausible and fact.kind != FactKind.patient:
            return False
        when = FhirDate.try_parse(fact.date)
        if when is None:
            return True
        if self.case_date is not None and when.surely_after(self.case_date):
            return False
        documents_death = any(code.code in DEATH_DOCUMENTATION for code in fact.codes)
        return not (self.death is not None and when.surely_after(self.death) and not documents_death)

    def keep(self, facts: list[Fact]) -> list[Fact]:
        return [fact for fact in facts if self.admits(fact)]
