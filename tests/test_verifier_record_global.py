"""Record-global verification on real records: true of the citation, false of the patient → contradicted.

Each class of the issue's motivating defects is planted into a copy of a shared record (or found
as recorded), stated as text (a model's statement) and with a structured claim (the template's),
and must come back `contradicted` with the contradicting source named. Each negative control must
not: an agreeing repeat test, values that change over time, a pathologic stage that differs from
the clinical one, statements that themselves say "stopped", report the conflict or flag the date.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from record_global_support import (
    ADAN,
    JENNY,
    LOYD,
    add,
    bundle_of,
    clone,
    find,
    is_anastrozole_order,
    is_hemoglobin,
    kill,
    load,
    ref,
    second_her2,
    second_stage_group,
    statement,
    stop_anastrozole,
)

from medboard.cli.main import main
from medboard.models import (
    CaseSummary,
    EvidenceRef,
    RunMetadata,
    Section,
    SectionKind,
    Verdict,
    VerdictLabel,
)
from medboard.models.claims import (
    ClaimedResult,
    LineClaim,
    MedicationClaim,
    ResultClaim,
    StageClaim,
    VitalStatusClaim,
)
from medboard.tools.checks.discrepancies import DEFAULT_RULES as VERIFIER_RULES
from medboard.tools.checks.discrepancies import find_discrepancies, make_discrepancy
from medboard.tools.checks.pipeline import merge_discrepancies, picture_day, verify_statement, verify_summary
from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import build_picture, picture_of
from medboard.tools.reconcile.conflicts import DEFAULT_RULES as PICTURE_RULES

CONTRADICTED = VerdictLabel.contradicted
FLAGGED = {VerdictLabel.contradicted, VerdictLabel.unsupported}
HER2_TEXT = "HER2 [Interpretation] in Tissue: Negative on 2018-03-10."
LINE_2 = "Line 2 (2018-09-30 – ongoing): anastrozole; 1 medication record(s)."


def verify(
    record: PatientRecord, text: str, *refs: str, claim: object = None, case_date: str | None = None
) -> Verdict:
    return verify_statement(statement(text, *refs, claim=claim), [], record, case_date)  # type: ignore[arg-type]


def names(verdict: Verdict, reference: str) -> bool:
    """The verdict names `reference`: in its reason and in the evidence of a failing check."""
    failing = {e.reference for c in verdict.checks if c.outcome == "fail" for e in c.evidence}
    return reference in verdict.reason and reference in failing


def claim_check(verdict: Verdict) -> str:
    return next(c.outcome for c in verdict.checks if c.name == "claim_agrees")


@pytest.fixture(scope="module")
def jenny() -> PatientRecord:
    return load_record(JENNY)


# ------------------------------------------------------------------------------------------------
# (a) a medication called current that another source stopped; orders stale for years


@pytest.fixture(scope="module")
def stopped() -> tuple[PatientRecord, str, str]:
    bundle = bundle_of(JENNY)
    order, stop = stop_anastrozole(bundle)
    return load(bundle), order, stop


@pytest.mark.parametrize(
    "text",
    [
        "Current medication: anastrozole since 2018-09-30 (status active).",
        "Currently on anastrozole.",
        "Anastrozole is ongoing.",
        "On anastrozole 1 mg daily.",
        LINE_2,
    ],
)
def test_called_current_after_a_stopping_statement(
    stopped: tuple[PatientRecord, str, str], text: str
) -> None:
    record, order, stop = stopped
    verdict = verify(record, text, order)
    assert verdict.verdict == CONTRADICTED and names(verdict, stop)
    assert "arthralgia" in verdict.reason  # the deciding source's own reason


def test_the_same_sentences_hold_on_the_untouched_record(jenny: PatientRecord) -> None:
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    for text in ("Current medication: anastrozole since 2018-09-30 (status active).", LINE_2):
        assert verify(jenny, text, order).verdict == VerdictLabel.supported
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=[order])
    assert verify(jenny, "Currently on anastrozole.", order, claim=claim).verdict == VerdictLabel.supported


def test_claims_of_current_medication_and_ongoing_line_name_the_stop(
    stopped: tuple[PatientRecord, str, str],
) -> None:
    record, order, stop = stopped
    medication = MedicationClaim(ingredient="anastrozole", status="current", facts=[order])
    verdict = verify(record, "Anastrozole 1 mg daily, ordered 2018-09-30.", order, claim=medication)
    assert verdict.verdict == CONTRADICTED and names(verdict, stop)
    assert verdict.reason.startswith("medication claim: claims anastrozole current; the picture says stopped")
    cancer = picture_of(record).cancers[0].condition
    line = LineClaim(
        cancer=cancer, drugs=["anastrozole"], start="2018-09-30", status="current", facts=[order]
    )
    verdict = verify(record, LINE_2, order, claim=line)
    assert verdict.verdict == CONTRADICTED and names(verdict, stop) and claim_check(verdict) == "fail"
    assert "claims the line is ongoing; the picture's line ended 2018-10-20" in verdict.reason


def test_statements_that_say_stopped_are_not_contradicted(stopped: tuple[PatientRecord, str, str]) -> None:
    record, order, stop = stopped
    claim = MedicationClaim(
        ingredient="anastrozole", status="stopped", last_evidence_date="2018-10-20", facts=[stop, order]
    )
    verdict = verify(record, "Anastrozole was stopped on 2018-10-20 (arthralgia).", stop, order, claim=claim)
    assert verdict.verdict == VerdictLabel.supported and claim_check(verdict) == "pass"


def test_orders_stale_for_years_are_not_current() -> None:
    """Loyd's metoprolol order is 'active', its last evidence three years before the case date (and
    before his death): stale either way, and the order is named."""
    record = load_record(LOYD)
    metoprolol = next(m for m in picture_of(record).medications if m.ingredient == "metoprolol")
    assert metoprolol.status == "stale"
    order = metoprolol.sources[-1]
    label = record.facts_citing(order)[0].label
    verdict = verify(record, f"Current medication: {label} (status active).", order)
    assert (
        verdict.verdict == CONTRADICTED
        and names(verdict, order)
        and "the picture says stale" in verdict.reason
    )
    claim = MedicationClaim(ingredient="metoprolol", status="current", facts=[order])
    verdict = verify(record, f"{label} (status active).", order, claim=claim)
    assert verdict.verdict == CONTRADICTED and "the picture says stale" in verdict.reason


# ------------------------------------------------------------------------------------------------
# (b) a biomarker result stated while a discordant one exists


@pytest.mark.parametrize("when", [None, "2018-06-01"], ids=["same day", "later specimen"])
def test_her2_negative_while_a_positive_exists(when: str | None) -> None:
    bundle = bundle_of(JENNY)
    negative, positive = second_her2(bundle, when=when)
    record = load(bundle)
    for text in (HER2_TEXT, "HER2 negative.", "HER2: not amplified; negative."):
        verdict = verify(record, text, negative)
        assert verdict.verdict == CONTRADICTED and names(verdict, positive), text
        assert f"contradicted by {positive}: Positive on {when or '2018-03-10'}" in verdict.reason
    claim = ResultClaim(
        kind="biomarker",
        name="HER2",
        code="48676-1",
        results=[ClaimedResult(value="Negative", date="2018-03-10", source=negative)],
        facts=[negative],
    )
    verdict = verify(record, HER2_TEXT, negative, claim=claim)
    assert verdict.verdict == CONTRADICTED and names(verdict, positive) and claim_check(verdict) == "fail"


def test_a_statement_reporting_both_results_is_not_contradicted() -> None:
    bundle = bundle_of(JENNY)
    negative, positive = second_her2(bundle)
    record = load(bundle)
    both = ResultClaim(
        kind="biomarker",
        name="HER2",
        results=[
            ClaimedResult(value="Negative", date="2018-03-10", source=negative),
            ClaimedResult(value="Positive", date="2018-03-10", source=positive),
        ],
        facts=[negative, positive],
    )
    text = "HER2 conflicting on 2018-03-10 (Negative; Positive)."
    verdict = verify(record, text, negative, positive, claim=both)
    assert verdict.verdict not in FLAGGED and claim_check(verdict) == "pass"


@pytest.mark.parametrize("when", [None, "2018-06-01"], ids=["same day", "later"])
def test_an_agreeing_repeat_test_is_not_a_conflict(when: str | None) -> None:
    bundle = bundle_of(JENNY)
    negative, _ = second_her2(bundle, when=when, agree=True)
    record = load(bundle)
    claim = ResultClaim(
        kind="biomarker",
        name="HER2",
        results=[ClaimedResult(value="Negative", date="2018-03-10", source=negative)],
        facts=[negative],
    )
    assert verify(record, HER2_TEXT, negative).verdict == VerdictLabel.supported
    assert verify(record, HER2_TEXT, negative, claim=claim).verdict == VerdictLabel.supported


# ------------------------------------------------------------------------------------------------
# (c) a line "ongoing", a drug "current", the patient "alive" — after a recorded death


@pytest.fixture(scope="module")
def died() -> tuple[PatientRecord, str, str]:
    bundle = bundle_of(JENNY)
    patient = kill(bundle, "2018-10-15")
    return load(bundle), patient, ref(find(bundle, is_anastrozole_order))


def test_line_ongoing_and_drug_current_after_death(died: tuple[PatientRecord, str, str]) -> None:
    record, patient, order = died
    for text in (LINE_2, "Currently on anastrozole."):
        verdict = verify(record, text, order)
        assert verdict.verdict == CONTRADICTED and names(verdict, patient), text
        assert "the patient died on 2018-10-15" in verdict.reason
    cancer = picture_of(record).cancers[0].condition
    line = LineClaim(
        cancer=cancer, drugs=["anastrozole"], start="2018-09-30", status="current", facts=[order]
    )
    verdict = verify(record, LINE_2, order, claim=line)
    assert verdict.verdict == CONTRADICTED and names(verdict, patient) and claim_check(verdict) == "fail"


def test_alive_against_a_recorded_death(died: tuple[PatientRecord, str, str]) -> None:
    record, patient, _ = died
    verdict = verify(record, "The patient is alive.", patient)
    assert verdict.verdict == CONTRADICTED and names(verdict, patient)
    claim = VitalStatusClaim(deceased=False, facts=[patient])
    assert verify(record, "The patient is alive.", patient, claim=claim).verdict == CONTRADICTED
    dead = VitalStatusClaim(deceased=True, date="2018-10-15", facts=[patient])
    verdict = verify(record, "The patient died on 2018-10-15.", patient, claim=dead)
    assert verdict.verdict == VerdictLabel.supported  # the death's own record is not "after death"


def test_a_result_dated_after_death_stated_as_fact() -> None:
    """Loyd died 2012-06-16; a haemoglobin planted on 2012-07-01 is care after death."""
    bundle = bundle_of(LOYD)
    hemoglobin = find(bundle, is_hemoglobin)
    later = add(
        bundle, clone(hemoglobin, "planted-after-death", effectiveDateTime="2012-07-01T08:00:00+00:00")
    )
    record = load(bundle)
    patient = record.patient_ref or ""
    value = float(hemoglobin["valueQuantity"]["value"])
    text = f"Hemoglobin [Mass/volume] in Blood: {value:.1f} g/dL on 2012-07-01."
    verdict = verify(record, text, later)
    assert verdict.verdict == CONTRADICTED and names(verdict, patient) and later in verdict.reason
    claim = ResultClaim(
        kind="lab",
        name="Hemoglobin",
        code="718-7",
        results=[ClaimedResult(value=value, unit="g/dL", date="2012-07-01", source=later)],
        facts=[later],
    )
    assert verify(record, text, later, claim=claim).verdict == CONTRADICTED
    flagged = text.removesuffix(".") + " (dated after the recorded death: data quality)."
    assert verify(record, flagged, later).verdict not in FLAGGED


# ------------------------------------------------------------------------------------------------
# (d) implausible values


def test_implausible_value_as_recorded() -> None:
    """Adan's "Protein 76 g/dL": listed by the reconciliation, never a supported statement."""
    if not ADAN.exists():
        pytest.skip("shared Synthea records not present")
    record = load_record(ADAN)
    item = next(
        q
        for q in picture_of(record).data_quality
        if q.kind == "implausible_value" and "Protein" in q.description
    )
    [source] = item.sources
    fact = record.facts_citing(source)[0]
    text = f"{fact.label}: {float(fact.value):.2f} g/dL on {fact.date[:10]}."  # type: ignore[arg-type,index]
    verdict = verify(record, text, source)
    assert verdict.verdict == CONTRADICTED and names(verdict, source) and "implausible" in verdict.reason
    claim = ResultClaim(
        kind="lab",
        name=fact.label,
        code="2885-2",
        results=[ClaimedResult(value=float(fact.value), unit="g/dL", date=fact.date[:10], source=source)],  # type: ignore[arg-type,index]
        facts=[source],
    )
    verdict = verify(record, text, source, claim=claim)
    assert verdict.verdict == CONTRADICTED and claim_check(verdict) == "fail"


def test_planted_implausible_value_and_a_trend_control() -> None:
    bundle = bundle_of(LOYD)
    hemoglobin = find(bundle, is_hemoglobin)
    value = float(hemoglobin["valueQuantity"]["value"])
    wrong = add(
        bundle,
        clone(
            hemoglobin, "planted-x100", valueQuantity={**hemoglobin["valueQuantity"], "value": value * 100}
        ),
    )
    later = add(
        bundle,
        clone(
            hemoglobin,
            "planted-trend",
            valueQuantity={**hemoglobin["valueQuantity"], "value": value * 0.7},
            effectiveDateTime="2011-01-10T08:00:00+00:00",
        ),
    )
    record = load(bundle)
    day = hemoglobin["effectiveDateTime"][:10]
    verdict = verify(record, f"Hemoglobin [Mass/volume] in Blood: {value * 100:.0f} g/dL on {day}.", wrong)
    assert verdict.verdict == CONTRADICTED and names(verdict, wrong)
    # values that change over time are a trend: each true value is supported
    assert verify(record, f"Hemoglobin: {value:.1f} g/dL on {day}.", ref(hemoglobin)).verdict not in FLAGGED
    trend = verify(record, f"Hemoglobin: {value * 0.7:.1f} g/dL on 2011-01-10.", later)
    assert trend.verdict not in FLAGGED


# ------------------------------------------------------------------------------------------------
# stages: clinical vs pathologic may differ; two clinical groups of one system may not


def test_clinical_and_pathologic_stage_may_differ() -> None:
    bundle = bundle_of(JENNY)
    clinical, pathologic = second_stage_group(bundle, "IIIA", pathologic=True)
    record = load(bundle)
    cancer = picture_of(record).cancers[0].condition
    claim = StageClaim(cancer=cancer, type="clinical", group="IIB", facts=[clinical])
    verdict = verify(record, "Clinical TNM stage group: stage IIB on 2018-03-16.", clinical, claim=claim)
    assert verdict.verdict == VerdictLabel.supported and claim_check(verdict) == "pass"
    other = StageClaim(cancer=cancer, type="pathologic", group="IIIA", facts=[pathologic])
    assert claim_check(verify(record, "Pathologic stage IIIA.", pathologic, claim=other)) == "pass"


def test_two_clinical_stage_groups_that_differ() -> None:
    bundle = bundle_of(JENNY)
    clinical, second = second_stage_group(bundle, "IIIA", pathologic=False)
    record = load(bundle)
    claim = StageClaim(type="clinical", group="IIB", facts=[clinical])
    verdict = verify(record, "Clinical TNM stage group: stage IIB on 2018-03-16.", clinical, claim=claim)
    assert verdict.verdict == CONTRADICTED and names(verdict, second) and "IIIA" in verdict.reason


# ------------------------------------------------------------------------------------------------
# how claim and text verdicts combine


def test_a_hand_edited_text_under_a_valid_claim_is_still_caught(jenny: PatientRecord) -> None:
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=[order])
    verdict = verify(jenny, "Anastrozole was discontinued.", order, claim=claim)
    assert verdict.verdict == CONTRADICTED and claim_check(verdict) == "pass"
    assert "status_agrees" in {c.name for c in verdict.checks if c.outcome == "fail"}


def test_a_valid_claim_does_not_make_unverified_words_supported(jenny: PatientRecord) -> None:
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=[order])
    verdict = verify(jenny, "Currently on anastrozole, tolerating it with hot flushes.", order, claim=claim)
    assert verdict.verdict == VerdictLabel.unverifiable and claim_check(verdict) == "pass"


def test_a_claim_resting_on_facts_not_in_the_record_is_unsupported(jenny: PatientRecord) -> None:
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=["MedicationRequest/nowhere"])
    verdict = verify(jenny, "Currently on anastrozole.", order, claim=claim)
    assert verdict.verdict == VerdictLabel.unsupported and "MedicationRequest/nowhere" in verdict.reason


def test_the_picture_is_the_one_of_the_case_date(stopped: tuple[PatientRecord, str, str]) -> None:
    """Before the stop (case date 2018-10-10) anastrozole was current: the same sentence holds."""
    record, order, _ = stopped
    text = "Current medication: anastrozole since 2018-09-30 (status active)."
    assert verify(record, text, order, case_date="2018-10-10").verdict == VerdictLabel.supported
    assert verify(record, text, order, case_date="2018-11-01").verdict == CONTRADICTED
    assert picture_day(None) is None and picture_day("2018-10") == "2018-10"
    assert picture_day(datetime(2018, 10, 10, 9, tzinfo=UTC)) == "2018-10-10" and picture_day("soon") is None


# ------------------------------------------------------------------------------------------------
# discrepancies: the verifier's rules and the picture's, merged


def test_verify_summary_lists_the_picture_discrepancies_once() -> None:
    bundle = bundle_of(JENNY)
    negative, positive = second_her2(bundle)
    record = load(bundle)
    summary = summary_of(record, [statement(HER2_TEXT, negative)])
    report = asyncio.run(verify_summary(summary, record))
    kinds = [d.kind for d in report.discrepancies]
    assert "discordant_biomarker" in kinds
    keys = [(d.kind, frozenset(s.reference for s in d.sources)) for d in report.discrepancies]
    assert len(keys) == len(set(keys))
    [found] = [d for d in report.discrepancies if d.kind == "discordant_biomarker"]
    assert {negative, positive} <= {s.reference for s in found.sources}
    assert report.verdicts[0].verdict == CONTRADICTED


def test_merge_keeps_one_per_kind_and_set_of_sources() -> None:
    a = make_discrepancy(
        "k", "one", [EvidenceRef(reference="Observation/a"), EvidenceRef(reference="Observation/b")]
    )
    b = make_discrepancy(
        "k",
        "two",
        [EvidenceRef(reference="Observation/b", path="value"), EvidenceRef(reference="Observation/a")],
    )
    c = make_discrepancy(
        "other", "three", [EvidenceRef(reference="Observation/a"), EvidenceRef(reference="Observation/b")]
    )
    assert a.id != b.id  # different element paths: different ids, the same discrepancy
    assert merge_discrepancies([a], [b, c]) == [a, c]


def test_the_two_rule_sets_report_different_kinds() -> None:
    """Why both remain: on records that trigger them, no kind is reported by both rule sets, so
    neither covers the other (retiring a verifier rule would lose its kind)."""
    records = [load_record(JENNY), load_record(LOYD)]
    planted = bundle_of(JENNY)
    second_her2(planted)
    second_stage_group(planted, "IIIA", pathologic=False)
    stop_anastrozole(planted)
    records.append(load(planted))
    verifier_kinds: set[str] = set()
    picture_kinds: set[str] = set()
    for record in records:
        verifier_kinds |= {d.kind for d in find_discrepancies(record)}
        picture_kinds |= {d.kind for d in build_picture(record).discrepancies}
    assert verifier_kinds and picture_kinds and not verifier_kinds & picture_kinds
    assert {r.__name__ for r in VERIFIER_RULES}.isdisjoint({r.__name__ for r in PICTURE_RULES})


# ------------------------------------------------------------------------------------------------
# claims in JSON, and `medboard verify` with and without them


def summary_of(record: PatientRecord, statements: list, *, version: str | None = None) -> CaseSummary:  # type: ignore[type-arg]
    fields = {"schema_version": version} if version else {}
    return CaseSummary(
        case_id="record-global",
        patient=record.patient_ref,
        sections=[Section(kind=SectionKind.medications, title="Medications", statements=statements)],
        run=RunMetadata(medboard_version="0", started_at=datetime(2024, 1, 1, tzinfo=UTC)),
        **fields,  # type: ignore[arg-type]
    )


def test_claims_round_trip_through_json(stopped: tuple[PatientRecord, str, str]) -> None:
    record, order, stop = stopped
    claims = [
        MedicationClaim(
            ingredient="anastrozole", status="stopped", last_evidence_date="2018-10-20", facts=[stop]
        ),
        LineClaim(
            drugs=["anastrozole"], start="2018-09-30", end="2018-10-20", status="stopped", facts=[order]
        ),
        ResultClaim(
            kind="biomarker",
            name="HER2",
            results=[ClaimedResult(value="Negative", source=order)],
            facts=[order],
        ),
        StageClaim(type="clinical", group="IIB", facts=[order]),
        VitalStatusClaim(deceased=False, facts=[record.patient_ref or ""]),
    ]
    statements = [statement("x.", order, claim=c, sid=f"s{i}") for i, c in enumerate(claims)]
    summary = summary_of(record, statements)
    again = CaseSummary.model_validate_json(summary.model_dump_json())
    assert again == summary
    assert [type(s.claim) for s in again.statements()] == [type(c) for c in claims]
    assert (
        json.loads(summary.model_dump_json())["sections"][0]["statements"][0]["claim"]["concept"]
        == "medication"
    )


def write(tmp_path: Path, summary: CaseSummary, bundle: dict | None = None) -> tuple[Path, Path]:  # type: ignore[type-arg]
    path = tmp_path / "summary.json"
    path.write_text(summary.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")
    record_path = JENNY
    if bundle is not None:
        record_path = tmp_path / "record.json"
        record_path.write_text(json.dumps(bundle), encoding="utf-8")
    return path, record_path


def test_cli_accepts_a_summary_without_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jenny: PatientRecord
) -> None:
    """A schema 1.1 summary (no `claim` key anywhere) still verifies."""
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    summary = summary_of(jenny, [statement("Currently on anastrozole.", order)], version="1.1")
    path, record_path = write(tmp_path, summary)
    assert '"claim"' not in path.read_text()
    assert main(["verify", str(path), "--record", str(record_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [v["verdict"] for v in payload["verdicts"]] == ["supported"]


def test_cli_checks_claims_against_the_whole_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = bundle_of(JENNY)
    order, stop = stop_anastrozole(bundle)
    record = load(bundle)
    claim = MedicationClaim(ingredient="anastrozole", status="current", facts=[order])
    summary = summary_of(
        record, [statement("Anastrozole 1 mg daily, ordered 2018-09-30.", order, claim=claim)]
    )
    path, record_path = write(tmp_path, summary, bundle)
    assert main(["verify", str(path), "--record", str(record_path), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    [verdict] = payload["verdicts"]
    assert verdict["verdict"] == "contradicted" and stop in verdict["reason"]
    valid = MedicationClaim(ingredient="anastrozole", status="stopped", facts=[stop, order])
    summary = summary_of(record, [statement("Anastrozole was stopped on 2018-10-20.", stop, claim=valid)])
    path, record_path = write(tmp_path, summary, bundle)
    assert main(["verify", str(path), "--record", str(record_path), "--json"]) == 0
