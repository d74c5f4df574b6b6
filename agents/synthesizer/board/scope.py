"""What of the record belongs to one cancer: its conditions, procedures, studies, reports, pathology.

The clinical picture assigns stages, biomarkers, markers and lines to a cancer; it does not assign
the biopsy that established it, the staging CT, the surgery or the pathology of its specimen. A
tumour board reads those in the cancer's section, so this module decides, from the record, which
procedures, imaging studies, reports and pathology results are a cancer's. The rules are generic,
in the order they are tried, the first that decides wins:

1. **Links.** A reference to one of the cancer's conditions (a procedure's ``reasonReference``, an
   observation's ``focus``, a report's result) makes it the cancer's; a reference to another
   cancer's makes it not. A link to a condition that is not a cancer of the picture ("Suspected lung
   cancer", "Polyp of colon") counts when that condition names the cancer's site and the item falls
   in the cancer's workup window: the workup of a suspicion is how the cancer was found. A link
   to a condition of another site makes it not the cancer's; one to a condition that names no
   site (a symptom) leaves it to the rules below.
2. **Sites.** A reason code, body site, specimen or the item's own name naming the cancer's site
   (`knowledge.site_of_text`, the knowledge tables' coarse sites) makes it the cancer's from the
   start of its workup window on (its laterality telling two cancers of one site apart); naming
   another site makes it not.
3. **Dates.** A diagnostic item (imaging, biopsy, endoscopy, pathology) with no link and no site is
   the cancer's when it falls in the cancer's workup window and in no other cancer's.

Anything else stays where it was (the imaging section, the appendix): an item given to no cancer
is still stated; one given to the wrong cancer would mislead the board.

The workup window runs from `WORKUP_BEFORE` days before the diagnosis to `WORKUP_AFTER` days after:
symptoms-to-diagnosis workup (imaging, endoscopy, biopsy) typically precedes the recorded onset by
weeks, and staging imaging follows within weeks, before treatment starts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from medboard.models import Fact, FactKind, FhirDate
from medboard.models.fact_kinds import ConditionDetails, ProcedureDetails, ReportDetails
from medboard.models.picture import Cancer, ClinicalPicture
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import knowledge

WORKUP_BEFORE = timedelta(days=90)
WORKUP_AFTER = timedelta(days=60)

Role = Literal["biopsy", "imaging", "endoscopy", "pathology", "treatment", "other"]

# Procedure roles by the words of SNOMED CT procedure displays (the "Biopsy", "Imaging",
# "Endoscopic procedure" and "Therapeutic procedure" sub-hierarchies of SNOMED CT's procedure
# axis); the first role with a matching word wins, so "Fine needle aspiration biopsy" is a biopsy
# and "Biopsy of breast using ultrasonographic guidance" is not imaging.
_ROLE_WORDS: tuple[tuple[Role, tuple[str, ...]], ...] = (
    ("biopsy", ("biopsy", "aspiration", "cytolog", "sampling", "needle core")),
    (
        "treatment",
        (
            "chemotherapy",
            "radiotherapy",
            "radiation therapy",
            "brachytherapy",
            "immunotherapy",
            "hormone therapy",
            "ectomy",
            "resection",
            "excision",
            "ablation",
            "transplant",
            "ostomy",
        ),
    ),
    ("endoscopy", ("scopy", "endoscop")),
    (
        "imaging",
        (
            "tomograph",
            "magnetic resonance",
            "mri",
            "x-ray",
            "radiograph",
            "ultrason",
            "sonograph",
            "echograph",
            "echocardiogra",
            "mammogra",
            "scan",
            "positron",
            "scintigra",
            "fluoroscop",
            "angiogra",
            "imaging",
        ),
    ),
)

# Pathology reports: LOINC document codes of the pathology / cytology report classes (loinc.org:
# 11526-1 Pathology study, 22634-0..22638-1 Pathology report sections, 33717-0 Cytology study,
# 60567-5 Comprehensive pathology report panel, 60568-3 Pathology Synoptic report, 60570-9
# Pathology Consult note) and the HL7 v2 diagnostic service sections (table 0074: SP surgical
# pathology, CP cytopathology, PAT pathology).
PATHOLOGY_REPORT_CODES = frozenset(
    {
        "11526-1",
        "22634-0",
        "22635-7",
        "22636-5",
        "22637-3",
        "22638-1",
        "33717-0",
        "60567-5",
        "60568-3",
        "60570-9",
    }
)
PATHOLOGY_SECTIONS = frozenset({"SP", "CP", "PAT"})
_PATHOLOGY_WORDS = ("patholog", "cytolog", "histolog", "biopsy")
# Imaging reports: HL7 v2 table 0074 radiology sections and the LOINC "diagnostic imaging" class.
IMAGING_SECTIONS = frozenset({"RAD", "RX", "CT", "MR", "US", "NMR", "NMS", "CUS", "VUS", "IMG"})

# Results of a tumour specimen, by the words of their LOINC / CAP synoptic names (CAP cancer
# protocols' required elements: margins, lymph nodes, tumour size, invasion, grade, DCIS, ...).
_TUMOUR_RESULT = re.compile(
    r"tumou?r|neoplasm|cancer specimen|carcinoma|margin|lymph node|invasion|in situ|\bdcis\b|histolog|"
    r"grade|gleason|specimen",
    re.IGNORECASE,
)
# Specimens a pathology result is not about (a serum or urine lab names its specimen too).
_FLUID_WORDS = re.compile(r"\b(?:blood|serum|plasma|urine|csf|cerebrospinal)\b", re.IGNORECASE)


def day(text: str | None) -> date | None:
    """The first calendar day of a FHIR date, or None."""
    parsed = FhirDate.try_parse(text) if text else None
    return parsed.first_day if parsed else None


def role_of(fact: Fact) -> Role:
    """What a procedure, imaging study or report is for, as a board reads it."""
    if fact.kind == FactKind.imaging_study:
        return "imaging"
    if fact.kind == FactKind.report:
        return (
            "pathology" if is_pathology_report(fact) else "imaging" if _is_imaging_report(fact) else "other"
        )
    details = fact.details if isinstance(fact.details, ProcedureDetails) else None
    low = " ".join([fact.label, *(c.display or "" for c in fact.codes)]).lower()
    # a procedure the record flags as surgery or radiotherapy is treatment whatever its words say
    flagged = details is not None and (details.surgery or details.radiotherapy)
    for role, words in _ROLE_WORDS:
        if any(w in low for w in words) and (role == "treatment" or not flagged):
            return role
    if details is not None and (details.surgery or details.radiotherapy):
        return "treatment"
    return "other"


def is_pathology_report(fact: Fact) -> bool:
    if fact.kind != FactKind.report:
        return False
    categories = set(fact.details.category) if isinstance(fact.details, ReportDetails) else set()
    codes = {c.code for c in fact.codes}
    low = " ".join([fact.label, *(c.display or "" for c in fact.codes)]).lower()
    return bool(
        codes & PATHOLOGY_REPORT_CODES
        or categories & PATHOLOGY_SECTIONS
        or any(w in low for w in _PATHOLOGY_WORDS)
    )


def _is_imaging_report(fact: Fact) -> bool:
    categories = set(fact.details.category) if isinstance(fact.details, ReportDetails) else set()
    low = fact.label.lower()
    return bool(categories & IMAGING_SECTIONS) or any(w in low for w in _ROLE_WORDS[-1][1])


@dataclass
class CancerScope:
    """One cancer as its board section reads it: the picture's cancer and its folded secondaries."""

    cancer: Cancer
    secondaries: list[Cancer] = field(default_factory=list)
    sites: frozenset[str] = frozenset()

    @property
    def conditions(self) -> set[str]:
        return {
            self.cancer.condition,
            *self.cancer.conditions,
            *(ref for s in self.secondaries for ref in (s.condition, *s.conditions)),
        }

    @property
    def onset(self) -> date | None:
        days = [d for d in (day(c.onset) for c in (self.cancer, *self.secondaries)) if d]
        return min(days, default=None)

    def in_window(self, when: date | None) -> bool:
        onset = self.onset
        return bool(when and onset and onset - WORKUP_BEFORE <= when <= onset + WORKUP_AFTER)

    def from_workup(self, when: date | None) -> bool:
        """On or after the start of the workup window (an undated item never is)."""
        onset = self.onset
        return bool(when and onset and when >= onset - WORKUP_BEFORE)


Index = dict[str, list[Fact]]


def index_of(record: PatientRecord | None) -> Index:
    """The record's facts by the resource they cite (`PatientRecord.facts_citing`, in one pass)."""
    index: Index = defaultdict(list)
    for fact in record.facts if record else []:
        index[fact.evidence.reference].append(fact)
    return index


def _condition_facts(index: Index, refs: Iterable[str]) -> list[Fact]:
    return [f for ref in refs for f in index.get(ref, []) if f.kind == FactKind.condition]


def _site_of_condition(fact: Fact) -> str | None:
    icd = next((knowledge.site_of_icd(c.code) for c in fact.codes if "icd" in (c.system or "").lower()), None)
    if icd and icd != "secondary":
        return icd
    histology = fact.details.histology if isinstance(fact.details, ConditionDetails) else None
    return knowledge.site_of_text(fact.label, *(c.display for c in fact.codes), fact.body_site, histology)


def cancer_sites(cancer: Cancer, index: Index) -> set[str]:
    """Where a cancer is: its site of origin, and for a secondary the site it is found in."""
    sites = {
        s
        for s in (
            knowledge.site_of_text(cancer.name, cancer.histology, cancer.body_site),
            *(_site_of_condition(f) for f in _condition_facts(index, [cancer.condition, *cancer.conditions])),
            *(knowledge.site_of_text(m) for m in cancer.metastatic_sites),
        )
        if s and s != "secondary"
    }
    return sites


def _origin(cancer: Cancer) -> str | None:
    low = cancer.name.lower()
    return knowledge.site_of_text(low.split(" from ", 1)[1]) if " from " in low else None


def scopes(picture: ClinicalPicture, record: PatientRecord | None) -> list[CancerScope]:
    """One scope per board section: each primary (or unlinked secondary) with its secondaries.

    A secondary is its primary's when the record links them (mCODE ``condition-related``), when it
    names the primary's site as its origin ("Metastasis from ... prostate"), or when there is only
    one primary — the reconciliation's own rule, which already made its body site one of the
    primary's metastatic sites.
    """
    index = index_of(record)
    primaries = [c for c in picture.cancers if c.kind != "secondary"]
    by_ref = {ref: p for p in primaries for ref in (p.condition, *p.conditions)}
    out = {p.condition: CancerScope(p) for p in primaries}
    alone: list[CancerScope] = []
    for cancer in picture.cancers:
        if cancer.kind != "secondary":
            continue
        related = {r for f in _condition_facts(index, [cancer.condition]) for r in f.related}
        linked = [by_ref[r] for r in related if r in by_ref]
        origin = _origin(cancer)
        by_site = [p for p in primaries if origin and origin in cancer_sites(p, index)]
        parent = next(iter(linked or by_site or (primaries if len(primaries) == 1 else [])), None)
        if parent is None:
            alone.append(CancerScope(cancer))
        else:
            out[parent.condition].secondaries.append(cancer)
    ordered = [*out.values(), *alone]
    for scope in ordered:
        sites = cancer_sites(scope.cancer, index)
        for secondary in scope.secondaries:
            sites |= cancer_sites(secondary, index)
        scope.sites = frozenset(sites)
    return sorted(ordered, key=lambda s: picture.cancers.index(s.cancer))


# --- ownership --------------------------------------------------------------------------------


def _raw_refs(resource: dict[str, Any] | None, *keys: str) -> list[str]:
    refs: list[str] = []
    for key in keys:
        value = (resource or {}).get(key)
        for item in value if isinstance(value, list) else [value] if value else []:
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                refs.append(item["reference"])
    return refs


def _texts(value: Any) -> list[str]:
    """Every display / text string inside a resource element."""
    if isinstance(value, dict):
        return [
            t
            for k, v in value.items()
            for t in ([v] if k in ("display", "text") and isinstance(v, str) else _texts(v))
        ]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


@dataclass
class Owner:
    """Decides which cancer (scope) an item of the record belongs to (see the module docstring)."""

    scopes: Sequence[CancerScope]
    record: PatientRecord | None
    index: Index = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = index_of(self.record)

    def facts(self, reference: str) -> list[Fact]:
        """The facts citing one resource."""
        return self.index.get(reference, [])

    def _canonical(self, ref: str) -> str:
        return (self.record.canonical(ref) if self.record else None) or ref

    def _linked(self, refs: Iterable[str], when: date | None) -> CancerScope | Literal[False] | None:
        """The scope a link names; False when the links name something else; None when no link
        decides (none, or only to conditions that name no site: a symptom, a finding)."""
        refs = [self._canonical(r) for r in refs if "Condition/" in r]
        for ref in refs:
            for scope in self.scopes:
                if ref in scope.conditions:
                    return scope
        sites = {_site_of_condition(f) for f in _condition_facts(self.index, refs)} - {None, "secondary"}
        if not sites:
            return None
        fits = [s for s in self.scopes if s.sites & sites and s.in_window(when)]
        return fits[0] if len(fits) == 1 else False

    def by_site(
        self, texts: Iterable[str | None], when: date | None, side: str | None = None
    ) -> CancerScope | Literal[False] | None:
        """The one scope whose site the texts name (a laterality telling two of a site apart)."""
        sites = {knowledge.site_of_text(t) for t in texts if t} - {None, "secondary"}
        if not sites:
            return None
        fits = [s for s in self.scopes if s.sites & sites and s.from_workup(when)]
        if len(fits) > 1 and side:
            fits = [s for s in fits if s.cancer.laterality == side]
        return fits[0] if len(fits) == 1 else False

    def _by_date(self, when: date | None) -> CancerScope | None:
        fits = [s for s in self.scopes if s.in_window(when)]
        return fits[0] if len(fits) == 1 else None

    def decide(
        self,
        links: Iterable[str],
        texts: Iterable[str | None],
        when: date | None,
        *,
        dated: bool,
        side: str | None = None,
    ) -> CancerScope | None:
        """Links, then sites, then (for a diagnostic item, `dated`) the workup window."""
        linked = self._linked(links, when)
        if linked is not None:
            return linked or None
        sited = self.by_site(texts, when, side)
        if sited is not None:
            return sited or None
        return self._by_date(when) if dated else None

    def of_procedure(self, fact: Fact) -> CancerScope | None:
        """A Procedure or ImagingStudy fact's cancer, or None."""
        details = fact.details if isinstance(fact.details, ProcedureDetails) else None
        reasons = [r for r in (details.reason if details else []) if "/" not in r]
        role = role_of(fact)
        return self.decide(
            fact.related,
            [*reasons, fact.body_site, fact.label, *(c.display for c in fact.codes)],
            day(fact.date),
            dated=role in ("biopsy", "imaging", "endoscopy"),
            side=fact.laterality,
        )

    def of_report(self, fact: Fact, results: Sequence[Fact]) -> CancerScope | None:
        """A DiagnosticReport's cancer: by its specimen's site, its results' names, then its date."""
        resource = self.record.get(fact.reference) if self.record else None
        specimens = [self.record.get(r) for r in _raw_refs(resource, "specimen")] if self.record else []
        texts: list[str | None] = [
            t for s in specimens if s for t in _texts(s.get("type")) + _texts(s.get("collection"))
        ]
        texts += [r.label for r in results]
        return self.decide(
            [r for r in fact.related if "Condition/" in r],
            texts,
            day(fact.date),
            dated=role_of(fact) in ("pathology", "imaging"),
        )

    def of_observation(self, fact: Fact) -> CancerScope | None:
        """An observation's cancer by its ``focus`` or its specimen's site (not by date alone)."""
        resource = self.record.get(fact.reference) if self.record else None
        specimens = [self.record.get(r) for r in _raw_refs(resource, "specimen")] if self.record else []
        texts = [t for s in specimens if s for t in _texts(s.get("type")) + _texts(s.get("collection"))]
        return self.decide(
            _raw_refs(resource, "focus"), texts, day(fact.date), dated=False, side=fact.laterality
        )


def is_tumour_result(fact: Fact, record: PatientRecord | None) -> bool:
    """A result of a tumour specimen (margins, nodes, size, grade...), not a blood or urine lab."""
    if fact.kind not in (FactKind.lab, FactKind.observation):
        return False
    text = " ".join([fact.label, *(c.display or "" for c in fact.codes)])
    if _FLUID_WORDS.search(text):
        return False
    resource = record.get(fact.reference) if record else None
    return bool(_TUMOUR_RESULT.search(text) or (resource or {}).get("specimen"))


def has_value(fact: Fact) -> bool:
    return fact.value is not None or bool(fact.value_codes)


@dataclass
class Items:
    """The record items one cancer owns, each in one list (see `collect`)."""

    procedures: list[Fact] = field(default_factory=list)  # procedures and imaging studies
    reports: list[Fact] = field(default_factory=list)  # pathology and imaging reports
    results: list[Fact] = field(default_factory=list)  # tumour-specimen results, focus-linked observations

    def refs(self) -> set[str]:
        return {f.reference for f in (*self.procedures, *self.reports, *self.results)}


def collect(owner: Owner, taken: set[str]) -> dict[str, Items]:
    """Each scope's items (by its cancer's Condition), every record item in at most one scope.

    `taken` are references the picture already states (biomarker, marker, stage and line
    sources): those are stated through the picture, never again as a pathology result.
    """
    items = {scope.cancer.condition: Items() for scope in owner.scopes}
    record = owner.record
    if record is None:
        return items
    for fact in record.facts_of(FactKind.procedure, FactKind.imaging_study):
        scope = owner.of_procedure(fact)
        if scope is not None:
            items[scope.cancer.condition].procedures.append(fact)
    by_ref = {f.reference: f for f in record.facts}
    in_reports: dict[str, CancerScope] = {}
    for fact in record.facts_of(FactKind.report):
        if role_of(fact) not in ("pathology", "imaging"):
            continue
        results = [by_ref[r] for r in fact.related if r in by_ref]
        scope = owner.of_report(fact, results)
        if scope is None:
            continue
        items[scope.cancer.condition].reports.append(fact)
        for result in results:
            in_reports.setdefault(result.reference, scope)
    for fact in record.facts_of(FactKind.lab, FactKind.observation):
        if fact.reference in taken or not has_value(fact):
            continue
        scope = in_reports.get(fact.reference) if is_tumour_result(fact, record) else None
        scope = scope or owner.of_observation(fact)
        if scope is None and is_tumour_result(fact, record):
            sited = owner.by_site([fact.label], day(fact.date), fact.laterality)
            scope = sited or None
        if scope is not None:
            items[scope.cancer.condition].results.append(fact)
    return items
