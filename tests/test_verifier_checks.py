"""Each deterministic check on real facts from the shared records, both directions.

A true statement built from a fact passes; its planted twin (one thing changed) fails. Facts are
picked by kind/unit/status, never by id, so the tests say what the checks do on any record.
"""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from medboard.models import EvidenceRef, Fact, FactKind, Statement, VerdictLabel
from medboard.tools.checks.arithmetic import check_arithmetic, check_counts, check_extremes
from medboard.tools.checks.dates import check_age, check_dates
from medboard.tools.checks.evidence import check_evidence_exists, resolve_citations
from medboard.tools.checks.extract import extract_claims
from medboard.tools.checks.laterality import check_laterality
from medboard.tools.checks.numbers import check_numbers
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.checks.staging import check_staging
from medboard.tools.checks.status import check_status
from medboard.tools.checks.subject import check_subject
from medboard.tools.checks.units import compare
from medboard.tools.fhir import PatientRecord, load_record

DATA = Path(__file__).parent / "data" / "fhir"


@pytest.fixture(scope="module")
def jenny() -> PatientRecord:
    return load_record(DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json")


@pytest.fixture(scope="module")
def synthea() -> PatientRecord:
    return load_record(DATA / "synthea" / "loyd_connelly.json")


@pytest.fixture(scope="module")
def john() -> PatientRecord:
    return load_record(DATA / "verifier" / "john")


@pytest.fixture(scope="module")
def adam() -> PatientRecord:
    return load_record(DATA / "mcode" / "Bundle-gx-genomic-bundle-adam-anyperson.json")


def cite(record: PatientRecord, *facts: Fact):
    return resolve_citations([f.evidence for f in facts], record)


def first(record: PatientRecord, kind: FactKind, **want: object) -> Fact:
    for fact in record.facts_of(kind):
        if all(getattr(fact, k, None) == v or getattr(fact.details, k, None) == v for k, v in want.items()):
            return fact
    raise AssertionError(f"no {kind} fact with {want}")


def day(fact: Fact) -> date:
    return date.fromisoformat((fact.date or "")[:10])


def outcome(check, text: str, record: PatientRecord, *facts: Fact, case_date: date | None = None) -> str:
    return check(text, cite(record, *facts), record, case_date=case_date).outcome


# --------------------------------------------------------------------------- evidence exists


def test_evidence_must_exist_and_belong_to_the_patient(jenny: PatientRecord, john: PatientRecord) -> None:
    condition = first(jenny, FactKind.condition)
    ok = check_evidence_exists("x", cite(jenny, condition), jenny)
    assert ok.outcome == "pass"

    missing = resolve_citations([EvidenceRef(reference="Observation/not-in-this-record")], jenny)
    result = check_evidence_exists("x", missing, jenny)
    assert result.outcome == "fail" and "not in the record" in result.detail

    # A record that also holds another patient's resource (a server answer mixing patients):
    # citing that resource is evidence from another patient.
    mixed = copy.copy(jenny)
    mixed.resources = dict(jenny.resources)
    foreign = first(john, FactKind.condition, cancer="secondary")
    mixed.resources[foreign.evidence.reference] = john.resources[foreign.evidence.reference]
    result = check_evidence_exists("x", resolve_citations([foreign.evidence], mixed), mixed)
    assert result.outcome == "fail" and "belongs to Patient/cancer-patient-john-anyperson" in result.detail


# --------------------------------------------------------------------------- numbers and units


def test_numbers_agree_with_unit_conversion(synthea: PatientRecord) -> None:
    hb = next(f for f in synthea.facts_of(FactKind.lab) if f.unit_code == "g/dL" and "emoglobin" in f.label)
    value = float(hb.value)  # type: ignore[arg-type]
    assert outcome(check_numbers, f"Hemoglobin {value:g} g/dL", synthea, hb) == "pass"
    assert outcome(check_numbers, f"Hemoglobin {value * 10:.1f} g/L", synthea, hb) == "pass"
    # planted twins: wrong value, same number in the wrong unit, an incompatible unit
    assert outcome(check_numbers, f"Hemoglobin {value * 1.4:.1f} g/dL", synthea, hb) == "fail"
    assert outcome(check_numbers, f"Hemoglobin {value:g} g/L", synthea, hb) == "fail"
    assert outcome(check_numbers, f"Hemoglobin {value:g} mmol/L", synthea, hb) == "fail"


def test_mass_and_molar_concentrations_convert_only_for_known_analytes(synthea: PatientRecord) -> None:
    glucose = next(
        f for f in synthea.facts_of(FactKind.lab) if f.label == "Glucose" and f.unit_code == "mg/dL"
    )
    mmol = float(glucose.value) / 18.0156  # type: ignore[arg-type]
    assert outcome(check_numbers, f"Glucose {mmol:.1f} mmol/L", synthea, glucose) == "pass"
    assert outcome(check_numbers, f"Glucose {mmol * 1.5:.1f} mmol/L", synthea, glucose) == "fail"
    # Albumin has no molar mass in the table: mmol/L is not convertible, so it is a unit error.
    albumin = next(f for f in synthea.facts_of(FactKind.lab) if f.label.startswith("Albumin"))
    assert outcome(check_numbers, f"Albumin {float(albumin.value):g} mmol/L", synthea, albumin) == "fail"  # type: ignore[arg-type]


def test_percent_and_fraction_and_pounds(synthea: PatientRecord, jenny: PatientRecord) -> None:
    hct = next(f for f in synthea.facts_of(FactKind.lab) if f.unit_code == "%")
    fraction = float(hct.value) / 100  # type: ignore[arg-type]
    assert outcome(check_numbers, f"Hematocrit fraction {fraction:.3f}", synthea, hct) == "pass"
    weight = first(jenny, FactKind.vital, unit_code="[lb_av]")
    kg = float(weight.value) * 0.45359237  # type: ignore[arg-type]
    assert outcome(check_numbers, f"Weight {kg:.1f} kg", jenny, weight) == "pass"
    assert outcome(check_numbers, f"Weight {float(weight.value):g} kg", jenny, weight) == "fail"  # type: ignore[arg-type]
    assert compare(37.0, "37.0", "°C", 98.6, "[degF]").agrees


# --------------------------------------------------------------------------------------- dates


def test_dates_in_common_formats_and_relative(jenny: PatientRecord) -> None:
    weight = first(jenny, FactKind.vital, unit_code="[lb_av]")
    when = day(weight)
    for text in (
        when.isoformat(),
        f"{when:%B} {when.day}, {when.year}",
        f"{when.day} {when:%B %Y}",
        f"{when:%B %Y}",
    ):
        assert outcome(check_dates, f"Weight measured {text}", jenny, weight) == "pass", text
    moved = when + timedelta(days=400)
    assert outcome(check_dates, f"Weight measured {moved.isoformat()}", jenny, weight) == "fail"
    assert outcome(check_dates, f"Weight measured in {moved:%B %Y}", jenny, weight) == "fail"

    case_date = when + timedelta(days=91)
    assert outcome(check_dates, "Weight measured 3 months ago", jenny, weight, case_date=case_date) == "pass"
    assert outcome(check_dates, "Weight measured 2 years ago", jenny, weight, case_date=case_date) == "fail"


# ---------------------------------------------------------------------------------- laterality


def test_laterality_against_the_recorded_side(jenny: PatientRecord) -> None:
    sided = next(f for f in jenny.facts_of(FactKind.condition, FactKind.procedure) if f.laterality)
    other = "right" if sided.laterality == "left" else "left"
    assert outcome(check_laterality, f"Cancer of the {sided.laterality} breast", jenny, sided) == "pass"
    assert outcome(check_laterality, f"Cancer of the {other} breast", jenny, sided) == "fail"
    assert outcome(check_laterality, "Cancer of both breasts", jenny, sided) == "fail"
    # "left" as a verb is not a side
    assert outcome(check_laterality, "The tumour was left untreated", jenny, sided) == "skip"


# ------------------------------------------------------------------------------ status/negation


def test_condition_status_and_negation(jenny: PatientRecord, synthea: PatientRecord) -> None:
    remission = first(jenny, FactKind.condition, cancer="primary")
    assert remission.status == "remission"
    assert outcome(check_status, "Breast cancer, in remission.", jenny, remission) == "pass"
    assert outcome(check_status, "Breast cancer is active.", jenny, remission) == "fail"

    active = first(synthea, FactKind.condition, status="active")
    name = active.label.split(" (")[0]
    assert outcome(check_status, f"{name} is ongoing.", synthea, active) == "pass"
    assert outcome(check_status, f"{name} has resolved.", synthea, active) == "fail"
    assert outcome(check_status, f"No {name.lower()}.", synthea, active) == "fail"


def test_no_metastasis_while_a_secondary_cancer_is_active(john: PatientRecord) -> None:
    m0 = first(john, FactKind.staging, category="M")
    # cM0 at staging, dated before the metastasis was found: true then
    staged = day(m0).isoformat()
    text = f"No distant metastasis at staging on {staged}."
    assert outcome(check_status, text, john, m0) != "fail"
    assert outcome(check_staging, text, john, m0) == "pass"
    assert outcome(check_staging, "Metastatic at staging.", john, m0) == "fail"
    # ...but "no metastasis" today contradicts the active secondary cancer elsewhere in the record
    result = check_status("No metastatic disease.", cite(john, m0), john)
    assert result.outcome == "fail" and "Secondary malignant neoplasm" in result.detail
    assert any(e.reference.startswith("Condition/") for e in result.evidence)


def test_medication_current_vs_stopped(
    jenny: PatientRecord, john: PatientRecord, synthea: PatientRecord
) -> None:
    active = first(jenny, FactKind.medication, status="active")
    assert outcome(check_status, f"Currently on {active.label}.", jenny, active) == "pass"
    assert outcome(check_status, f"{active.label} was discontinued.", jenny, active) == "fail"
    for record in (john, synthea):
        stopped = first(record, FactKind.medication, status="stopped")
        assert outcome(check_status, f"{stopped.label} was stopped.", record, stopped) == "pass"
        assert outcome(check_status, f"Currently taking {stopped.label}.", record, stopped) == "fail"


def test_qualitative_result_present_absent(jenny: PatientRecord) -> None:
    variant = next(f for f in jenny.facts_of(FactKind.genomic) if f.value == "Present")
    gene = variant.details.gene
    assert outcome(check_status, f"{gene} variant present.", jenny, variant) == "pass"
    assert outcome(check_status, f"{gene} variant absent.", jenny, variant) == "fail"


# -------------------------------------------------------------------------- staging/biomarkers


def test_stage_group_and_tnm(jenny: PatientRecord) -> None:
    group = first(jenny, FactKind.staging, category="stage_group")
    t = first(jenny, FactKind.staging, category="T")
    short = str(group.details.short)
    assert outcome(check_staging, f"Clinical stage {short}, {t.details.short}.", jenny, group, t) == "pass"
    wrong_group = {"I": "III", "II": "IV", "III": "I", "IV": "II"}[short.rstrip("ABC")]
    assert outcome(check_staging, f"Clinical stage {wrong_group}.", jenny, group) == "fail"
    wrong_t = str(t.details.short)[:-1] + str((int(str(t.details.short)[-1]) + 1) % 5)
    assert outcome(check_staging, f"Primary tumour {wrong_t}.", jenny, t) == "fail"
    # A less specific stage ("stage II" for IIB) does not contradict the record
    assert outcome(check_staging, f"Stage {short.rstrip('ABC')}.", jenny, group) == "pass"


def test_receptor_status(jenny: PatientRecord) -> None:
    markers = {f.details.marker: f for f in jenny.facts_of(FactKind.tumor_marker) if f.details.marker}
    truth = {name: str(f.value).lower() for name, f in markers.items()}
    text = ", ".join(f"{name} {truth[name]}" for name in ("ER", "PR", "HER2"))
    facts = [markers[n] for n in ("ER", "PR", "HER2")]
    assert outcome(check_staging, text, jenny, *facts) == "pass"
    flipped = "negative" if truth["ER"] == "positive" else "positive"
    assert outcome(check_staging, f"ER {flipped}", jenny, markers["ER"]) == "fail"
    assert (
        outcome(check_staging, f"ER{'+' if flipped == 'positive' else '-'}/PR {truth['PR']}", jenny, *facts)
        == "fail"
    )


def test_variant_hgvs(adam: PatientRecord, jenny: PatientRecord) -> None:
    variant = next(f for f in jenny.facts_of(FactKind.genomic) if f.details.hgvs_c)
    hgvs = str(variant.details.hgvs_c).split(":")[-1]
    assert outcome(check_staging, f"{variant.details.gene} {hgvs}", jenny, variant) == "pass"
    changed = hgvs[:-1] + ("T" if hgvs[-1] != "T" else "G")
    assert outcome(check_staging, f"{variant.details.gene} {changed}", jenny, variant) == "fail"
    # A gene the record knows, named for a variant found in another gene
    genes = sorted({str(f.details.gene) for f in adam.facts_of(FactKind.genomic) if f.details.gene})
    one = next(f for f in adam.facts_of(FactKind.genomic) if f.details.gene == genes[0])
    assert outcome(check_staging, f"{genes[0]} variant detected", adam, one) == "pass"
    assert outcome(check_staging, f"{genes[1]} variant detected", adam, one) == "fail"


# ----------------------------------------------------------------------------------- subject


def test_fabricated_finding_with_an_unrelated_citation(synthea: PatientRecord, jenny: PatientRecord) -> None:
    hb = next(f for f in synthea.facts_of(FactKind.lab) if "emoglobin [Mass" in f.label)
    assert outcome(check_subject, "Hb within range", synthea, hb) == "pass"
    assert outcome(check_subject, "History of myocardial infarction", synthea, hb) == "fail"
    neutrophils = next(f for f in jenny.facts_of(FactKind.lab) if "eutrophil" in f.label)
    assert outcome(check_subject, "Brain metastases on MRI", jenny, neutrophils) == "fail"


def test_claims_extraction_keeps_names_out_of_numbers() -> None:
    claims = extract_claims(
        "pT2N1aM0, stage 2a, HER2 3+, PHQ-2 score 4, c.3549C>A, 120/80 mmHg on 2019-04-02"
    )
    assert [(s.category, s.core) for s in claims.stages] == [
        ("stage_group", "IIA"),
        ("T", "T2"),
        ("N", "N1a"),
        ("M", "M0"),
    ]
    assert [(q.value, q.unit) for q in claims.quantities] == [(4.0, None), (120.0, "mmHg"), (80.0, "mmHg")]
    assert [d.text for d in claims.dates] == ["2019-04-02"]


def test_age_against_the_birth_date(jenny: PatientRecord) -> None:
    condition = first(jenny, FactKind.condition, cancer="primary")
    born = date.fromisoformat(str(jenny.patient["birthDate"]))  # type: ignore[index]
    onset = day(condition)
    age = onset.year - born.year - ((onset.month, onset.day) < (born.month, born.day))
    text = f"A {age}-year-old woman diagnosed on {onset.isoformat()}."
    assert outcome(check_age, text, jenny, condition, case_date=onset) == "pass"
    assert outcome(check_age, f"A {age + 9}-year-old woman.", jenny, condition, case_date=onset) == "fail"


def test_medication_dose_from_the_dosage_text(jenny: PatientRecord) -> None:
    drug = next(
        f for f in jenny.facts_of(FactKind.medication) if re.search(r"\d\s*mg", str(f.details.dosage))
    )
    dose = re.search(r"(\d+(?:\.\d+)?)\s*mg(?![/\w])", str(drug.details.dosage))  # mg, not mg/m²
    assert dose is not None
    assert outcome(check_numbers, f"{drug.label} {dose[1]} mg", jenny, drug) == "pass"
    assert outcome(check_numbers, f"{drug.label} {float(dose[1]) * 3:g} mg", jenny, drug) == "fail"
    per_area = re.search(r"(\d+)\s*mg/m", str(drug.details.dosage))
    if per_area:  # a per-m² dose written as a flat dose is a unit error
        assert outcome(check_numbers, f"{drug.label} {per_area[1]} mg", jenny, drug) == "fail"


# ------------------------------------------------------------------ trend statements (worked maths)


def _series(record: PatientRecord) -> list[Fact]:
    """The longest dated numeric series of one LOINC code in the record."""
    by_code: dict[str, list[Fact]] = {}
    for fact in record.facts_of(FactKind.lab):
        if isinstance(fact.value, float) and fact.date and fact.codes:
            by_code.setdefault(str(fact.codes[0].code), []).append(fact)
    longest = max(by_code.values(), key=len)
    return sorted(longest, key=lambda f: f.date or "")


def _trend_text(series: list[Fact], *, change: float | None = None, direction: str | None = None) -> str:
    first_, last = series[0], series[-1]
    a, b = float(last.value), float(first_.value)  # type: ignore[arg-type]
    diff = a - b if change is None else change
    pct = 100 * diff / b
    word = direction or ("rising" if pct > 5 else "falling" if pct < -5 else "stable")
    low = min(series, key=lambda f: float(f.value))  # type: ignore[arg-type]
    unit, code = last.unit, series[0].codes[0].code
    day_last, day_first, day_low = (str(f.date)[:10] for f in (last, first_, low))
    return (
        f"{last.label} (LOINC {code}), {len(series)} values: latest {a:.3g} {unit} on {day_last}. "
        f"Versus baseline {b:.3g} {unit} on {day_first}: {a:.3g} − {b:.3g} = {diff:+.3g} {unit} "
        f"({diff:+.3g} / {b:.3g} = {pct:+.3g} %) ({word}; stable means within ±5 %). "
        f"Nadir {float(low.value):.3g} {unit} on {day_low}."  # type: ignore[arg-type]
    )


def test_trend_statement_numbers_and_worked_arithmetic(synthea: PatientRecord) -> None:
    series = _series(synthea)
    text = _trend_text(series)
    cited = cite(synthea, *series)
    claims = extract_claims(text)
    assert not claims.dates or all(
        d.text[4] == "-" and len(d.text) == 10 for d in claims.dates
    )  # LOINC ≠ date
    assert check_numbers(text, cited, synthea).outcome == "pass"
    assert check_arithmetic(text, cited, synthea).outcome == "pass"
    assert check_extremes(text, cited, synthea).outcome == "pass"
    assert check_counts(text, cited, synthea).outcome == "pass"
    statement = Statement(id="t", text=text, evidence=[f.evidence for f in series])
    assert verify_statement(statement, [], synthea, synthea.latest_date()).verdict == VerdictLabel.supported

    a, b = float(series[-1].value), float(series[0].value)  # type: ignore[arg-type]
    wrong = _trend_text(series, change=(a - b) + max(1.0, abs(b) * 0.3))
    assert check_arithmetic(wrong, cited, synthea).outcome == "fail"
    flipped = _trend_text(series, direction="falling" if a > b else "rising")
    if abs(100 * (a - b) / b) > 5:
        assert check_arithmetic(flipped, cited, synthea).outcome == "fail"
