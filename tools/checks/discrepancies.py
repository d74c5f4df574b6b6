"""Cross-source discrepancies: places where the record (or two specialists) disagree with itself.

Each rule is a function `(record, findings) -> list[Discrepancy]`, every side cited. The rules:
- `stage_mismatch`: a Condition's stage summary vs the stage-group observations it links to (or
  that link to it), compared within one staging type (clinical/pathologic) when it is known;
- `report_vs_condition`: a report conclusion that negates a diagnosis (or names the other side)
  while a Condition recorded on or after the report asserts it;
- `medication_status_conflict`: a MedicationRequest still active while its administrations were
  stopped / not done (warning) or all completed (info: has the course ended?);
- `conflicting_lab_values`: the same LOINC code on the same day with values that disagree after
  unit conversion;
- `conflicting_findings`: two specialists' findings citing the same single resource with different
  values;
- `imaging_vs_report`: the imaging reader's finding vs the report of the same ImagingStudy
  (side and negation); a hook that stays silent until imaging findings cite studies.
Extra rules can be passed to `find_discrepancies`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from medboard.models import Discrepancy, EvidenceRef, Fact, FactKind, Finding, iso_day
from medboard.models.fact_kinds import MedicationDetails, StagingDetails
from medboard.tools.checks.evidence import parse_fhir_date
from medboard.tools.checks.extract import parse_stages
from medboard.tools.checks.staging import compatible
from medboard.tools.checks.status import condition_state
from medboard.tools.checks.text import concept_tokens, fold, negated_spans, overlap, sides_in
from medboard.tools.checks.units import compare, loinc_of
from medboard.tools.fhir import medication_status
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.units import try_parse_unit

Rule = Callable[[PatientRecord, Sequence[Finding]], list[Discrepancy]]


def make_discrepancy(
    kind: str, description: str, sources: Sequence[EvidenceRef], severity: str = "warning"
) -> Discrepancy:
    """A discrepancy with a stable id (same sides, same kind → same id on every run)."""
    key = "\x1f".join([kind, *sorted(f"{s.reference}#{s.path or ''}" for s in sources)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return Discrepancy(
        id=f"disc-{kind}-{digest}",
        kind=kind,
        description=description,
        sources=list(sources),
        severity=severity,  # type: ignore[arg-type]
    )


def _stage_group_of(text: str) -> str | None:
    groups = [m.core for m in parse_stages(text) if m.category == "stage_group"]
    return groups[0] if groups else None


def _type_of(text: str) -> str:
    low = text.lower()
    return "pathologic" if "patholog" in low else "clinical" if "clinical" in low else ""


def _staging(fact: Fact) -> StagingDetails:
    return fact.details if isinstance(fact.details, StagingDetails) else StagingDetails()


def _record_type(fact: Fact) -> str | None:
    """The resource type a medication fact was read from (MedicationRequest, ...Administration)."""
    return fact.details.resource_type if isinstance(fact.details, MedicationDetails) else None


def stage_mismatch(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    del findings
    out: list[Discrepancy] = []
    groups = [f for f in record.facts_of(FactKind.staging) if _staging(f).category == "stage_group"]
    for condition_ref, resource in record.resources.items():
        if not condition_ref.startswith("Condition/"):
            continue
        for index, stage in enumerate(resource.get("stage", []) or []):
            summary = stage.get("summary") or {}
            texts = [c.get("display") or "" for c in summary.get("coding", [])] + [summary.get("text") or ""]
            stated = next((g for g in map(_stage_group_of, texts) if g), None)
            if stated is None:
                continue
            linked = {record.canonical(a.get("reference", "")) for a in stage.get("assessment", []) or []}
            related = [
                g
                for g in groups
                if g.evidence.reference in linked or condition_ref in {record.canonical(r) for r in g.related}
            ]
            stage_type = _type_of(str(stage.get("type") or ""))
            comparable = [
                g for g in related if not stage_type or str(_staging(g).stage_type or "") in {stage_type, ""}
            ]
            readings = [
                (g, _stage_group_of(f"Stage {_staging(g).short or ''}") or _stage_group_of(str(g.value)))
                for g in comparable
            ]
            readings = [(g, r) for g, r in readings if r]
            if not readings or any(compatible("stage_group", stated, r) for _, r in readings):
                continue
            observed = ", ".join(
                f"{r} ({_staging(g).stage_type or 'untyped'}, {g.evidence.reference})" for g, r in readings
            )
            out.append(
                make_discrepancy(
                    "stage_mismatch",
                    f"{condition_ref} stage summary says stage {stated}; "
                    f"staging observation(s) say {observed}",
                    [
                        EvidenceRef(
                            reference=condition_ref, path=f"stage[{index}].summary", quote=texts[0] or None
                        )
                    ]
                    + [g.evidence for g, _ in readings],
                )
            )
    return out


def report_vs_condition(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    del findings
    out: list[Discrepancy] = []
    conditions = [c for c in record.facts_of(FactKind.condition) if condition_state(c) not in {"refuted"}]
    for report in record.facts_of(FactKind.report):
        conclusion = report.text or " ".join(c.display or "" for c in report.value_codes)
        if not conclusion.strip():
            continue
        report_day = parse_fhir_date(report.date)
        folded = fold(conclusion)
        negations = negated_spans(folded)
        report_sides = sides_in(conclusion)
        for condition in conditions:
            onset = parse_fhir_date(condition.date)
            if report_day and onset and onset[1] < report_day[0]:
                continue  # only conditions recorded on or after the report
            subject = concept_tokens(condition.label) - {"cancer", "primary", "disorder", "finding"}
            if not subject:
                continue
            hits = [(i, i + len(token)) for token in subject for i in _find_all(folded, token[:5])]
            if not hits:
                continue
            negated = all(negations.contains(a) for a, _ in hits)
            sides = {condition.laterality} if condition.laterality else sides_in(condition.label)
            sides_conflict = bool(report_sides and sides and not (report_sides & (sides | {"bilateral"})))
            if negated:  # the condition began on or after the report: it existed when the report denied it
                why = "negates"
            elif sides_conflict:
                why = f"names the {'/'.join(sorted(report_sides))} side for"
            else:
                continue
            out.append(
                make_discrepancy(
                    "report_vs_condition",
                    f"{report.evidence.reference} conclusion {why} {condition.label!r}, "
                    f"recorded in {condition.evidence.reference} "
                    f"({condition.status or 'no status'}, {condition.date or 'undated'})",
                    [
                        EvidenceRef(
                            reference=report.evidence.reference, path="conclusion", quote=conclusion[:200]
                        ),
                        condition.evidence,
                    ],
                )
            )
    return out


def _find_all(text: str, needle: str) -> Iterable[int]:
    start = text.find(needle)
    while start >= 0 and len(needle) >= 4:
        yield start
        start = text.find(needle, start + 1)


def _medication_key(fact: Fact) -> str:
    codes = [c.code for c in fact.codes if c.code]
    return codes[0] if codes else fact.label.lower().split()[0] if fact.label else ""


def medication_status_conflict(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    del findings
    out: list[Discrepancy] = []
    meds = record.facts_of(FactKind.medication)
    requests = [m for m in meds if _record_type(m) == "MedicationRequest" and (m.status or "") == "active"]
    admins = [m for m in meds if _record_type(m) == "MedicationAdministration"]
    for request in requests:
        mine = []
        for admin in admins:
            resource: dict[str, Any] = record.get(admin.evidence.reference) or {}
            request_ref = (resource.get("request") or {}).get("reference")
            if (request_ref and record.canonical(request_ref) == request.evidence.reference) or (
                not request_ref
                and _medication_key(admin)
                and _medication_key(admin) == _medication_key(request)
            ):
                mine.append(admin)
        stopped = [a for a in mine if (a.status or "") in medication_status.INTERRUPTED]
        if stopped:
            out.append(
                make_discrepancy(
                    "medication_status_conflict",
                    f"{request.label}: request {request.evidence.reference} is active, but administration(s) "
                    + ", ".join(f"{a.evidence.reference} ({a.status})" for a in stopped),
                    [request.evidence, *(a.evidence for a in stopped)],
                )
            )
        elif mine and all((a.status or "") == "completed" for a in mine):
            out.append(
                make_discrepancy(
                    "medication_status_conflict",
                    f"{request.label}: request {request.evidence.reference} is still active; its "
                    f"{len(mine)} administration(s) are all completed — has the course ended?",
                    [request.evidence, *(a.evidence for a in mine)],
                    severity="info",
                )
            )
    return out


def conflicting_lab_values(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    del findings
    out: list[Discrepancy] = []
    groups: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for fact in record.facts_of(FactKind.lab, FactKind.vital, FactKind.tumor_marker):
        if (
            not isinstance(fact.value, int | float)
            or isinstance(fact.value, bool)
            or not fact.date
            or not fact.codes
        ):
            continue
        code = (
            next((c.code for c in fact.codes if c.code and "loinc" in (c.system or "")), None)
            or fact.codes[0].code
        )
        if code:
            groups[(code, iso_day(fact.date))].append(fact)
    for (code, day), facts in groups.items():
        distinct = {f.evidence.reference for f in facts}
        if len(distinct) < 2:
            continue
        first = facts[0]
        for other in facts[1:]:
            if other.evidence.reference == first.evidence.reference:
                continue
            unit = other.unit_code if try_parse_unit(other.unit_code) else other.unit
            first_unit = first.unit_code if try_parse_unit(first.unit_code) else first.unit
            value = float(other.value)  # type: ignore[arg-type]
            result = compare(
                value,
                f"{value}",
                unit,
                float(first.value),  # type: ignore[arg-type]
                first_unit,
                first.label,
                loinc=loinc_of(first.codes),
            )
            if result.agrees:
                continue
            out.append(
                make_discrepancy(
                    "conflicting_lab_values",
                    f"{first.label} (LOINC {code}) on {day}: {first.value} {first.unit or ''} "
                    f"in {first.evidence.reference} "
                    f"vs {other.value} {other.unit or ''} in {other.evidence.reference}",
                    [first.evidence, other.evidence],
                )
            )
    return out


def conflicting_findings(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    del record
    out: list[Discrepancy] = []
    by_source: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        fhir = [e for e in finding.evidence if e.kind == "fhir"]
        if len(fhir) == 1 and isinstance(finding.value, int | float) and not isinstance(finding.value, bool):
            by_source[fhir[0].reference].append(finding)
    for reference, group in by_source.items():
        agents = {f.agent for f in group}
        if len(agents) < 2:
            continue
        base = group[0]
        for other in group[1:]:
            if other.agent == base.agent:
                continue
            result = compare(float(other.value), f"{other.value}", other.unit, float(base.value), base.unit)  # type: ignore[arg-type]
            if result.agrees:
                continue
            out.append(
                make_discrepancy(
                    "conflicting_findings",
                    f"{base.agent} reads {base.value} {base.unit or ''} from {reference}; "
                    f"{other.agent} reads {other.value} {other.unit or ''}",
                    [
                        EvidenceRef(reference=reference, quote=f"{base.agent}: {base.value}"),
                        EvidenceRef(reference=reference, path=None, quote=f"{other.agent}: {other.value}"),
                    ],
                )
            )
    return out


def _study_of_series(record: PatientRecord, findings: Sequence[Finding]) -> dict[str, str]:
    """Image series → ImagingStudy, from findings that cite both (the imaging reader's series finding)."""
    mapping: dict[str, str] = {}
    for finding in findings:
        studies = [record.canonical(e.reference) or e.reference for e in finding.evidence if e.kind == "fhir"]
        studies = [s for s in studies if s.startswith("ImagingStudy/")]
        if len(studies) == 1:
            for ref in finding.evidence:
                if ref.series:
                    mapping.setdefault(ref.series, studies[0])
    return mapping


def imaging_vs_report(record: PatientRecord, findings: Sequence[Finding] = ()) -> list[Discrepancy]:
    """The imaging reader's finding vs the radiology report of the same study (sides that clash).

    A finding reaches its study by citing it, or by citing a frame of a series that another finding
    ties to that study. Findings that cite the report itself (its restatements) are not compared.
    """
    out: list[Discrepancy] = []
    reports_by_study: dict[str, list[Fact]] = defaultdict(list)
    for report in record.facts_of(FactKind.report):
        for target in report.related:
            canonical = record.canonical(target) or target
            if canonical.startswith("ImagingStudy/"):
                reports_by_study[canonical].append(report)
    if not reports_by_study:
        return out
    series_study = _study_of_series(record, findings)
    for finding in findings:
        if finding.category.value != "imaging":
            continue
        cited = {record.canonical(e.reference) or e.reference for e in finding.evidence if e.kind == "fhir"}
        if any(ref.startswith("DiagnosticReport/") for ref in cited):
            continue
        studies = {ref for ref in cited if ref.startswith("ImagingStudy/")}
        studies |= {series_study[e.series] for e in finding.evidence if e.series in series_study}
        f_sides = {finding.laterality} if finding.laterality else sides_in(finding.text)
        if not f_sides:
            continue
        terms = concept_tokens(finding.text)
        for study in sorted(studies & reports_by_study.keys()):
            for report in reports_by_study[study]:
                text = report.text or ""
                r_sides = sides_in(text)
                shared = overlap(terms, concept_tokens(text))
                if shared and r_sides and not (f_sides & (r_sides | {"bilateral"})):
                    out.append(
                        make_discrepancy(
                            "imaging_vs_report",
                            f"imaging reader says {'/'.join(sorted(f_sides))} ({finding.text[:80]}); "
                            f"{report.evidence.reference} says {'/'.join(sorted(r_sides))} "
                            f"({', '.join(sorted(shared)[:3])})",
                            [
                                *finding.evidence,
                                EvidenceRef(reference=report.evidence.reference, path="conclusion"),
                            ],
                        )
                    )
    return out


DEFAULT_RULES: tuple[Rule, ...] = (
    stage_mismatch,
    report_vs_condition,
    medication_status_conflict,
    conflicting_lab_values,
    conflicting_findings,
    imaging_vs_report,
)


def find_discrepancies(
    record: PatientRecord,
    findings: Sequence[Finding] = (),
    *,
    rules: Sequence[Rule] = DEFAULT_RULES,
    extra_rules: Sequence[Rule] = (),
) -> list[Discrepancy]:
    """Run every rule; one entry per distinct discrepancy id, in rule order."""
    seen: dict[str, Discrepancy] = {}
    for rule in (*rules, *extra_rules):
        for discrepancy in rule(record, findings):
            seen.setdefault(discrepancy.id, discrepancy)
    return list(seen.values())
