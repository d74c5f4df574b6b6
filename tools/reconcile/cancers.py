"""Each cancer with its stages by type, metastatic sites, biomarkers, lines and tumour markers.

Why this shape: a tumour board reads one cancer at a time, and every error this module prevents is
one fact landing on the wrong cancer (a PSA as the "response" of a lung regimen, a line's end taken
from another cancer's regimen) or one fact vanishing (the second, discordant HER2 result).

Rules, in order:

1. **Cancers.** Condition facts that are cancers (`ConditionDetails.cancer`, else the timeline's
   `is_cancer_condition`), minus refuted / suspected / history-of ones. Primaries of the same
   site and laterality are one cancer (Synthea restates a cancer as "..., TNM stage 1"); the
   earliest is its ``condition``, all are in ``conditions``.
2. **Secondaries** link to their primary by a condition reference (mCODE ``condition-related``,
   read into ``Fact.related``), else by their site of origin ("Metastasis from ... prostate"),
   else to the only primary. Their body sites are the primary's ``metastatic_sites``. An unlinked
   secondary stands as its own cancer (unknown primary).
3. **Facts to cancers** ("owners" are primaries and unlinked secondaries): a reference to one of the
   cancer's conditions decides; else a reason code naming one owner's site; else the knowledge
   tables (`knowledge.py`) when exactly one owner's site fits; else, only for facts the tables say
   nothing about, the only owner. A fact that fits no owner is left out rather than given to the
   wrong cancer.
4. **Lines** are rebuilt per cancer by `build_timeline` over that cancer's own medication facts, so
   a line never holds, nor ends at, another cancer's orders. Status by `judge_currency`.
5. **Stages** from staging facts linked to the cancer (either direction, or a group's members) and
   from the condition's own stage and name; grouped by type. **Biomarkers**: every result by code,
   ``conflict`` when coded results disagree. **Markers**: serum markers only on their own site.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from medboard.models import Fact, FactKind, iso_day
from medboard.models.fact_kinds import (
    CancerKind,
    ConditionDetails,
    GenomicDetails,
    MedicationDetails,
    PatientDetails,
    StagingDetails,
    TherapyDetails,
    TumorMarkerDetails,
)
from medboard.models.picture import (
    Biomarker,
    Cancer,
    CurrencyStatus,
    DataQuality,
    Line,
    Marker,
    PatientStatus,
    Result,
    Stage,
    StageType,
)
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.dates import DateError, parse_day
from medboard.tools.longitudinal.timeline import TherapyLine, build_timeline, drug_name, is_cancer_condition
from medboard.tools.reconcile import knowledge
from medboard.tools.reconcile.currency import WINDOW_DAYS, TherapyKind, judge_currency

_NOT_CANCER_VERIFICATION = frozenset(
    {"refuted", "entered-in-error", "unconfirmed", "provisional", "differential"}
)
_STOPPED = frozenset({"stopped", "cancelled", "entered-in-error", "not-taken"})
_COMPLETED = frozenset({"completed"})
# AJCC 8th edition: post-therapy (yc / yp) staging after neoadjuvant therapy
_POST_THERAPY_WORDS = ("post-therapy", "post therapy", "posttherapy", "neoadjuvant", "post-treatment")


@dataclass
class _Entry:
    """One cancer being built: its condition facts, kind, site of origin and owner."""

    facts: list[Fact]
    kind: str
    site: str | None
    parent: _Entry | None = None
    secondaries: list[_Entry] = field(default_factory=list)

    @property
    def head(self) -> Fact:
        return self.facts[0]

    @property
    def refs(self) -> set[str]:
        return {f.reference for f in self.facts}


def _day(value: str | None) -> date | None:
    try:
        return parse_day(value) if value else None
    except (DateError, ValueError):
        return None


def _texts(fact: Fact) -> list[str | None]:
    return [fact.label, *(c.display for c in fact.codes)]


def _is_cancer(fact: Fact) -> bool:
    if (fact.verification_status or "").lower() in _NOT_CANCER_VERIFICATION:
        return False
    if any(w in (t or "").lower() for t in _texts(fact) for w in knowledge.NOT_A_DIAGNOSIS_WORDS):
        return False
    return is_cancer_condition(fact)


def _kind(fact: Fact) -> str:
    if isinstance(fact.details, ConditionDetails) and fact.details.cancer:
        return fact.details.cancer
    text = " ".join(t or "" for t in _texts(fact)).lower()
    if "secondary" in text or "metasta" in text:
        return "secondary"
    return "primary"


def _site(fact: Fact, kind: str) -> str | None:
    """The site of origin: a primary's site; a secondary's only when it says "from <site>"."""
    icd = next((knowledge.site_of_icd(c.code) for c in fact.codes if "icd" in (c.system or "").lower()), None)
    if kind == "secondary":
        for text in _texts(fact):
            low = (text or "").lower()
            if " from " in low:
                return knowledge.site_of_text(low.split(" from ", 1)[1])
        return None
    if icd and icd != "secondary":
        return icd
    histology = fact.details.histology if isinstance(fact.details, ConditionDetails) else None
    return knowledge.site_of_text(*_texts(fact), fact.body_site, histology)


def _same_side(a: Fact, b: Fact) -> bool:
    """Same laterality, or one unstated (a left and a right breast cancer are two cancers)."""
    return a.laterality is None or b.laterality is None or a.laterality == b.laterality


def _entries(record: PatientRecord) -> list[_Entry]:
    conditions = sorted(
        (f for f in record.facts_of(FactKind.condition) if _is_cancer(f)),
        key=lambda f: (f.date or "9999", f.reference),
    )
    entries: list[_Entry] = []
    for fact in conditions:
        kind = _kind(fact)
        site = _site(fact, kind)
        same = next(
            (
                e
                for e in entries
                if kind == "primary" == e.kind and site and e.site == site and _same_side(e.head, fact)
            ),
            None,
        )
        if same is not None:
            same.facts.append(fact)
            continue
        entries.append(_Entry(facts=[fact], kind=kind, site=site))
    for entry in entries:
        # the head: a condition the loader marks as cancer (not "Neoplasm of ..."), earliest first
        entry.facts.sort(
            key=lambda f: (
                not (isinstance(f.details, ConditionDetails) and f.details.cancer),
                f.date or "9999",
            )
        )
    primaries = [e for e in entries if e.kind == "primary"]
    for entry in entries:
        if entry.kind != "secondary":
            continue
        linked = [p for p in primaries if p.refs & set(entry.head.related)]
        by_site = [p for p in primaries if entry.site and p.site == entry.site]
        candidates = linked or by_site or (primaries if len(primaries) == 1 else [])
        if candidates:
            entry.parent = candidates[0]
            candidates[0].secondaries.append(entry)
    return entries


def _owner_of_refs(refs: list[str], entries: list[_Entry]) -> _Entry | None:
    for ref in refs:
        for entry in entries:
            if ref in entry.refs:
                return entry.parent or entry
    return None


def _by_sites(sites: frozenset[str] | None, owners: list[_Entry]) -> list[_Entry]:
    """Owners a knowledge-table site set fits; an owner of unknown site fits when no other does."""
    if sites is None:
        return []
    fits = [o for o in owners if o.site in sites]
    if not fits:
        fits = [o for o in owners if o.site is None]
    return fits


def _assign(
    fact: Fact, entries: list[_Entry], owners: list[_Entry], sites: frozenset[str] | None
) -> _Entry | None:
    linked = _owner_of_refs(fact.related, entries)
    if linked is not None:
        return linked
    # a reason code naming a site ("Malignant neoplasm of breast") decides before the drug table
    reasons = fact.details.reason if isinstance(fact.details, TherapyDetails) else []
    named = {knowledge.site_of_text(r) for r in reasons if "/" not in r} - {None}
    by_reason = [o for o in owners if o.site in named]
    if len(by_reason) == 1:
        return by_reason[0]
    if sites is not None:
        fits = _by_sites(sites, owners)
        return fits[0] if len(fits) == 1 else None
    return owners[0] if len(owners) == 1 else None


# --- stages -----------------------------------------------------------------------------------


def _stage_type(fact: Fact, short: str | None) -> StageType:
    details = fact.details if isinstance(fact.details, StagingDetails) else None
    text = " ".join([fact.label, *(c.display or "" for c in fact.codes)]).lower()
    if (short or "").lower().startswith("y") or any(w in text for w in _POST_THERAPY_WORDS):
        return "post_therapy"
    kind = (details.stage_type if details else None) or ""
    if kind.startswith("clinical") or "clinical" in text:
        return "clinical"
    if kind.startswith("patholog") or "patholog" in text:
        return "pathologic"
    return "unspecified"


def _staging(fact: Fact) -> StagingDetails:
    return fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()


def _stages(entry: _Entry, staging: list[Fact], owners: list[_Entry]) -> list[Stage]:
    mine = [s for s in staging if _staging_owner(s, staging, owners) is entry]
    merged: dict[tuple[str, str], Stage] = {}

    def add(type_: StageType, group: str, day: str | None, source: str) -> None:
        stage = merged.setdefault((type_, group), Stage(type=type_, group=group, date=day))
        if source not in stage.sources:
            stage.sources.append(source)
        if day and (stage.date is None or day < stage.date):
            stage.date = day

    tnm: dict[tuple[StageType, str | None], list[Fact]] = defaultdict(list)
    for fact in mine:
        details = fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()
        short = (
            details.short
            or knowledge.stage_in_text(str(fact.value or ""))
            or (str(fact.value) if fact.value is not None else None)
        )
        if short is None:
            continue
        type_ = _stage_type(fact, short)
        day = iso_day(fact.date) if fact.date else None
        if details.category in ("T", "N", "M"):
            tnm[(type_, day)].append(fact)
        else:
            add(type_, short, day, fact.reference)
    for (type_, day), facts in tnm.items():
        facts.sort(key=lambda f: "TNM".index(_staging(f).category or "T"))
        text = " ".join(_staging(f).short or str(f.value) for f in facts)
        for fact in facts:
            add(type_, text, day, fact.reference)
    for condition in entry.facts:
        stated = condition.details.stage if isinstance(condition.details, ConditionDetails) else None
        onset = iso_day(condition.date) if condition.date else None
        for statement in (stated, *_texts(condition)):
            group = knowledge.stage_in_text(statement)
            if group:
                low = (statement or "").lower()
                said: StageType = (
                    "pathologic" if "patholog" in low else "clinical" if "clinical" in low else "unspecified"
                )
                add(said, group, onset, condition.reference)
    return sorted(merged.values(), key=lambda s: (s.date or "", s.type))


def _staging_owner(fact: Fact, staging: list[Fact], owners: list[_Entry]) -> _Entry | None:
    entries = owners + [s for o in owners for s in o.secondaries]
    owner = _owner_of_refs(fact.related, entries)
    if owner is None:
        owner = next((e.parent or e for e in entries for c in e.facts if fact.reference in c.related), None)
    if owner is None:
        groups = [
            g
            for g in staging
            if isinstance(g.details, StagingDetails) and fact.reference in g.details.members
        ]
        for group in groups:
            owner = _staging_owner(group, [s for s in staging if s is not fact], owners)
            if owner is not None:
                break
    if owner is None and len(owners) == 1:
        owner = owners[0]
    return owner


# --- biomarkers and markers -------------------------------------------------------------------


def _loinc(fact: Fact) -> str | None:
    return next((c.code for c in fact.codes if "loinc" in (c.system or "").lower() and c.code), None)


def _serum_marker(fact: Fact) -> tuple[str, frozenset[str]] | None:
    code = _loinc(fact)
    if code in knowledge.SERUM_MARKERS:
        return knowledge.SERUM_MARKERS[code]
    if isinstance(fact.details, TumorMarkerDetails) and fact.details.marker:
        sites = knowledge.SERUM_MARKER_NAMES.get(fact.details.marker.lower())
        if sites is not None:
            return fact.details.marker, sites
    return None


def _biomarker_name(fact: Fact) -> str:
    if isinstance(fact.details, TumorMarkerDetails) and fact.details.marker:
        return fact.details.marker
    if isinstance(fact.details, GenomicDetails) and fact.details.gene:
        return fact.details.gene
    return fact.label


def _biomarker_sites(fact: Fact) -> frozenset[str] | None:
    site = knowledge.site_of_text(fact.label)  # "... in Breast cancer specimen"
    if site is not None:
        return frozenset({site})
    return knowledge.BIOMARKER_SITES.get(_biomarker_name(fact).lower())


def result_polarity(fact: Fact) -> str | None:
    """``positive`` / ``negative`` for a qualitative result (codes first, then its words)."""
    text = fact.value if isinstance(fact.value, str) else None
    display = next((c.display for c in fact.value_codes if c.display), None)
    return knowledge.polarity([c.code for c in fact.value_codes if c.code], text or display)


def result_key(fact: Fact) -> str | None:
    """What a result says, for agreement: positive / negative, else its coded value, else its text.

    None for numbers (a score that changes is a trend, not a discordance). Public: the verifier
    (`medboard.tools.checks.claims`, `record_global`) judges discordance by the same key.
    """
    said = result_polarity(fact)
    if said is not None:
        return said
    if fact.value_codes:
        coding = fact.value_codes[0]
        return f"{coding.system}|{coding.code}"
    if isinstance(fact.value, str):
        return fact.value.strip().lower()
    if isinstance(fact.value, bool):
        return str(fact.value)
    return None


def _result(fact: Fact) -> Result:
    value = fact.value
    if value is None and fact.value_codes:
        value = fact.value_codes[0].display or fact.value_codes[0].code
    return Result(
        value=value, unit=fact.unit, date=iso_day(fact.date) if fact.date else None, source=fact.reference
    )


def _biomarkers(facts: list[Fact]) -> list[Biomarker]:
    groups: dict[tuple[str | None, str], list[Fact]] = defaultdict(list)
    for fact in facts:
        groups[(_loinc(fact) or next((c.code for c in fact.codes), None), _biomarker_name(fact))].append(fact)
    biomarkers = []
    for (code, name), members in groups.items():
        members.sort(key=lambda f: f.date or "")
        said = {k for k in (result_key(f) for f in members) if k is not None}
        biomarkers.append(
            Biomarker(name=name, code=code, results=[_result(f) for f in members], conflict=len(said) > 1)
        )
    # one biomarker under two codes (HER2 by IHC and by ISH): opposite readings are a conflict too
    by_name: dict[str, set[str]] = defaultdict(set)
    for (_, name), members in groups.items():
        by_name[name.lower()] |= {p for p in (result_polarity(f) for f in members) if p}
    for biomarker in biomarkers:
        if len(by_name[biomarker.name.lower()]) > 1:
            biomarker.conflict = True
    return sorted(biomarkers, key=lambda b: b.name)


def _markers(facts: list[Fact]) -> list[Marker]:
    groups: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        groups[_loinc(fact) or fact.label].append(fact)
    markers = []
    for code, members in groups.items():
        members.sort(key=lambda f: f.date or "")
        found = _serum_marker(members[0])
        markers.append(
            Marker(
                name=found[0] if found else members[0].label, code=code, results=[_result(f) for f in members]
            )
        )
    return sorted(markers, key=lambda m: m.name)


# --- lines ------------------------------------------------------------------------------------


def _death(record: PatientRecord, patient: PatientStatus) -> tuple[bool, date | None]:
    deceased, day = patient.deceased, _day(patient.deceased_date)
    for fact in record.facts_of(FactKind.patient):
        if isinstance(fact.details, PatientDetails) and fact.details.deceased:
            deceased = True
            if isinstance(fact.details.deceased, str):
                day = day or _day(fact.details.deceased)
    return deceased or day is not None, day


def _line(
    line: TherapyLine,
    by_ref: dict[str, list[Fact]],
    case_day: date | None,
    deceased: tuple[bool, date | None],
) -> Line:
    sources = list(dict.fromkeys(e.reference for e in line.evidence))
    notes = list(line.notes)
    status: CurrencyStatus = "unknown"
    if case_day is not None:
        evidence = [f for ref in sources for f in by_ref.get(ref, [])]
        days = [d for f in evidence for d in (_day(f.date), _day(f.end_date)) if d and d <= case_day]
        end = _day(line.end)
        stopped_on = completed_on = None
        if not line.ongoing and end is not None:
            last = [max(by_ref.get(ref, []), key=lambda f: f.date or "", default=None) for ref in sources]
            statuses = {(e.last_status or "").lower() for e in line.episodes}
            orders = [
                f
                for f in last
                if f
                and isinstance(f.details, MedicationDetails)
                and f.details.resource_type != "MedicationAdministration"
            ]
            if line.end_evidence or (statuses and statuses <= _STOPPED):
                stopped_on = end
            elif statuses and statuses <= _COMPLETED and orders:
                completed_on = end
        kinds: list[TherapyKind] = [knowledge.drug_kind(d) for d in line.drugs]
        kind = max(kinds, key=lambda k: WINDOW_DAYS[k], default="default")
        verdict = judge_currency(
            case_date=case_day,
            last_evidence=max(days, default=None),
            stopped_on=stopped_on,
            completed_on=completed_on,
            marked_active=line.ongoing,
            deceased=deceased[0],
            deceased_on=deceased[1],
            kind=kind,
        )
        status = verdict.status
        notes.append(verdict.reason)
    return Line(
        drugs=list(line.drugs), start=line.start, end=line.end, status=status, sources=sources, notes=notes
    )


# --- assembly ---------------------------------------------------------------------------------


def _cancer(entry: _Entry) -> Cancer:
    head = entry.head
    kind: CancerKind = "secondary" if entry.kind == "secondary" else "primary"
    return Cancer(
        condition=head.reference,
        conditions=[f.reference for f in entry.facts],
        name=head.label,
        kind=kind,
        histology=next(
            (
                f.details.histology
                for f in entry.facts
                if isinstance(f.details, ConditionDetails) and f.details.histology
            ),
            None,
        ),
        body_site=next((f.body_site for f in entry.facts if f.body_site), None),
        laterality=next((f.laterality for f in entry.facts if f.laterality), None),
        clinical_status=head.status,
        onset=iso_day(head.date) if head.date else None,
    )


def _metastatic_site(entry: _Entry) -> str:
    """Where a secondary is: its body site, else the site its name gives ("... of brain").

    "Metastasis from ... prostate" names the origin, not the site: then the site is not recorded.
    """
    head = entry.head
    if head.body_site:
        return head.body_site
    if not any(" from " in (t or "").lower() for t in _texts(head)):
        site = knowledge.site_of_text(*_texts(head))
        if site is not None:
            return site
    return "site not recorded"


def _marker_owners(sites: frozenset[str], owners: list[_Entry]) -> list[_Entry]:
    """Only a cancer of the marker's own site; no single-cancer rule.

    With no such cancer, a secondary of unknown origin *located* at that site may take it (Synthea
    writes metastatic colon cancer as "Secondary malignant neoplasm of colon", with CEA).
    """
    fits = [o for o in owners if o.site in sites]
    if fits:
        return fits
    return [
        o
        for o in owners
        if o.kind == "secondary" and o.site is None and knowledge.site_of_text(*_texts(o.head)) in sites
    ]


def _medications_by_owner(
    record: PatientRecord, entries: list[_Entry], owners: list[_Entry]
) -> dict[int, list[Fact]]:
    medications: dict[int, list[Fact]] = defaultdict(list)
    for fact in record.facts_of(FactKind.medication):
        target = _assign(fact, entries, owners, knowledge.DRUG_SITES.get(drug_name(fact)))
        if target is not None:
            medications[id(target)].append(fact)
    return medications


def unassigned_therapy(record: PatientRecord) -> list[DataQuality]:
    """Cancer-therapy orders that no cancer of the record can own (e.g. FOLFOX with no colorectal
    cancer recorded): listed, so they are neither lost nor given to the wrong cancer's line."""
    entries = _entries(record)
    owners = [e for e in entries if e.parent is None]
    assigned = {
        f.reference for facts in _medications_by_owner(record, entries, owners).values() for f in facts
    }
    quality = []
    for line in build_timeline(record.facts).lines:
        for episode in line.episodes:
            refs = [e.reference for e in episode.evidence if e.reference not in assigned]
            if refs:
                sites = sorted(knowledge.DRUG_SITES.get(episode.drug, ()))
                quality.append(
                    DataQuality(
                        kind="unassigned_therapy",
                        description=(
                            f"{episode.drug} ({episode.start}): no cancer of the record it can belong to"
                            + (f" (given for: {', '.join(sites)})" if sites else "")
                        ),
                        sources=list(dict.fromkeys(refs)),
                    )
                )
    return quality


def cancers_of(record: PatientRecord, *, case_date: str | None, patient: PatientStatus) -> list[Cancer]:
    """Every cancer of the record, with what belongs to it (see the module docstring)."""
    entries = _entries(record)
    if not entries:
        return []
    owners = [e for e in entries if e.parent is None]
    cancers = {id(e): _cancer(e) for e in entries}
    for entry in entries:
        if entry.parent is not None:
            site = _metastatic_site(entry)
            sites = cancers[id(entry.parent)].metastatic_sites
            if site not in sites:
                sites.append(site)

    staging = record.facts_of(FactKind.staging)
    for owner in owners:
        cancers[id(owner)].stages = _stages(owner, staging, owners)
    for entry in entries:
        if entry.parent is not None:  # a secondary's own stated stage stays with it
            cancers[id(entry)].stages = _stages(entry, [], [entry])

    biomarker_facts: dict[int, list[Fact]] = defaultdict(list)
    marker_facts: dict[int, list[Fact]] = defaultdict(list)
    for fact in record.facts_of(FactKind.tumor_marker, FactKind.genomic, FactKind.lab):
        serum = _serum_marker(fact)
        if serum is not None:
            for owner in _marker_owners(serum[1], owners):
                marker_facts[id(owner)].append(fact)
        elif fact.kind != FactKind.lab:
            target = _assign(fact, entries, owners, None)
            if target is None:
                target = _assign(fact, entries, owners, _biomarker_sites(fact))
            if target is not None:
                biomarker_facts[id(target)].append(fact)

    medications = _medications_by_owner(record, entries, owners)
    others = [f for f in record.facts if f.kind != FactKind.medication]
    by_ref: dict[str, list[Fact]] = defaultdict(list)
    for fact in record.facts_of(FactKind.medication):
        by_ref[fact.reference].append(fact)
    case_day = _day(case_date or record.latest_date())
    deceased = _death(record, patient)

    for owner in owners:
        cancer = cancers[id(owner)]
        cancer.biomarkers = _biomarkers(biomarker_facts[id(owner)])
        cancer.markers = _markers(marker_facts[id(owner)])
        if medications[id(owner)]:
            timeline = build_timeline(others + medications[id(owner)])
            cancer.lines = [_line(line, by_ref, case_day, deceased) for line in timeline.lines]
    return [cancers[id(e)] for e in entries]
