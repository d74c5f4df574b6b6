"""Fact kinds: typed details per kind (a discriminated union) and the registry every kind is in.

Real data: every FHIR file in ../shared/data/fhir (mCODE, genomics, Synthea) is loaded with the
medboard reader; every fact it yields must survive JSON and back unchanged, with its kind's model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from medboard.agents.prompting import build_case_context, context_facts
from medboard.models import EvidenceRef, Fact, FactKind
from medboard.models.fact_kinds import DETAILS_MODELS, LabDetails, TumorMarkerDetails
from medboard.tools.fhir import load_record
from medboard.tools.fhir.facts import DEFAULT_KINDS, extract_facts
from medboard.tools.fhir.facts.common import JSON, ExtractContext, display
from medboard.tools.fhir.facts.registry import FactKindSpec, dispatch_table, in_context_order

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
SHARED_FILES = sorted(SHARED_FHIR.rglob("*.json"))
JENNY = SHARED_FHIR / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def test_the_shared_data_is_there() -> None:
    if not SHARED_FILES:
        pytest.skip(f"shared FHIR data not found at {SHARED_FHIR}")
    assert len(SHARED_FILES) > 100


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fact_of_the_shared_data_round_trips(path: Path) -> None:
    record = load_record(path, lenient=True)
    for fact in record.facts:
        assert type(fact.details) is DETAILS_MODELS[fact.kind]
        assert Fact.model_validate_json(fact.model_dump_json()) == fact
        assert Fact.model_validate(json.loads(json.dumps(fact.model_dump(mode="json")))) == fact


def test_details_are_picked_by_kind_and_typos_fail() -> None:
    evidence = EvidenceRef(reference="Observation/x")
    marker = Fact(
        id="a", kind=FactKind.tumor_marker, label="HER2", evidence=evidence, details={"marker": "HER2"}
    )
    assert isinstance(marker.details, TumorMarkerDetails) and marker.details.marker == "HER2"
    assert isinstance(Fact(id="a", kind=FactKind.lab, label="Hb", evidence=evidence).details, LabDetails)
    with pytest.raises(ValidationError, match="marker"):  # a lab has no marker: no silent extra key
        Fact(id="a", kind=FactKind.lab, label="HER2", evidence=evidence, details={"marker": "HER2"})
    with pytest.raises(ValidationError, match="details of kind"):
        Fact(id="a", kind=FactKind.lab, label="HER2", evidence=evidence, details=marker.details)


def test_every_fact_kind_is_registered_once_with_its_details_model() -> None:
    registered = [spec.kind for spec in DEFAULT_KINDS]
    assert sorted(registered) == sorted(FactKind), "every FactKind needs exactly one FactKindSpec"
    assert set(DETAILS_MODELS) == set(FactKind)
    assert all(spec.details is DETAILS_MODELS[spec.kind] for spec in DEFAULT_KINDS)
    assert all(spec.reads for spec in DEFAULT_KINDS)
    dispatch_table(DEFAULT_KINDS)  # no kind is unreachable


def test_case_context_order_is_the_one_the_agents_were_tuned_on() -> None:
    assert [spec.kind for spec in in_context_order()] == [
        FactKind.patient,
        FactKind.condition,
        FactKind.staging,
        FactKind.tumor_marker,
        FactKind.genomic,
        FactKind.family_history,
        FactKind.performance_status,
        FactKind.medication,
        FactKind.procedure,
        FactKind.imaging_study,
        FactKind.lab,
        FactKind.vital,
        FactKind.observation,
        FactKind.report,
    ]


def test_a_spec_that_can_never_read_its_resources_is_refused() -> None:
    observation = next(s for s in DEFAULT_KINDS if s.kind == FactKind.observation)
    lab = next(s for s in DEFAULT_KINDS if s.kind == FactKind.lab)
    with pytest.raises(ValueError, match="can never read Observation"):
        dispatch_table([observation, lab])
    with pytest.raises(ValueError, match="registered twice"):
        dispatch_table([lab, lab])
    with pytest.raises(ValueError, match="not its kind's"):
        FactKindSpec(FactKind.vital, LabDetails, {"Observation": lab.reads["Observation"]}, context_rank=1)


def _specimen(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    """A toy extractor: one fact per Specimen (a type no shipped kind reads)."""
    kind = display(resource.get("type")) or "specimen"
    return [ctx.fact(FactKind.document, key, f"Specimen ({kind})", path="type", quote=kind)]


def test_a_kind_registered_in_a_test_reaches_the_case_context() -> None:
    """Register a toy reader (Specimen, ranked right after the patient) and nothing else:
    extraction dispatches to it and the model's case context lists its facts where its rank says."""
    record = load_record(JENNY)
    specimens = record.by_type("Specimen")
    assert len(specimens) == 1  # a real resource that yields no fact today
    assert not any(f.reference.startswith("Specimen/") for f in context_facts(record))
    assert "[Specimen/" not in build_case_context(record)

    document = next(s for s in DEFAULT_KINDS if s.kind == FactKind.document)
    toy = dataclasses.replace(document, reads={"Specimen": _specimen}, context_rank=15)
    kinds = [toy if spec is document else spec for spec in DEFAULT_KINDS]
    record.facts = extract_facts(record, kinds=kinds)

    lines = build_case_context(record, kinds=kinds).splitlines()
    toy_lines = [i for i, line in enumerate(lines) if line.startswith("[Specimen/")]
    assert len(toy_lines) == len(specimens)
    patient = next(i for i, line in enumerate(lines) if line.startswith("[Patient/"))
    first_condition = next(i for i, line in enumerate(lines) if "] condition: " in line)
    assert all(patient < i < first_condition for i in toy_lines)
    expected = display(specimens[0].get("type")) or "specimen"
    assert f"Specimen ({expected})" in lines[toy_lines[0]]  # the toy extractor read the real resource
