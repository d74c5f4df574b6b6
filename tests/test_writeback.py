"""Write-back: a verified summary as one FHIR transaction (Devices, Composition, Provenance).

Unit tests build the Bundle from the real embedded case (mCODE Jenny M, no model) and edited
copies of it; the integration tests post it to the real test FHIR server (medplum, in memory)
through medboard's own FHIR client (`medboard.tools.fhir_server.FhirClient`), read the resources
back, and post again to prove that a re-run writes nothing new.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from medboard.api import run_case, run_case_sync
from medboard.examples import DEFAULT_CASE
from medboard.models import CaseSummary, EvidenceRef, ModelRun, StruckStatement, VerdictLabel
from medboard.tools.fhir import load_record
from medboard.tools.fhir_server import FhirClient, pull_patient
from medboard.tools.writeback import (
    WriteBackInputError,
    WriteBackResponseError,
    WriteBackValidationError,
    build_writeback,
    read_response,
    summary_hash,
    write_back,
)
from medboard.tools.writeback import bundle as bundle_module

XHTML = "{http://www.w3.org/1999/xhtml}"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
AIAST = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "AIAST")
JENNY = "Patient/cancer-patient-jenny-m"


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jenny() -> CaseSummary:
    """The embedded default case, deterministic path (no model)."""
    return run_case_sync(DEFAULT_CASE, model="none")


def copy(summary: CaseSummary) -> CaseSummary:
    return summary.model_copy(deep=True)


def resources(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


def composition_of(bundle: dict[str, Any]) -> dict[str, Any]:
    (composition,) = resources(bundle)["Composition"]
    return composition


def provenance_of(bundle: dict[str, Any]) -> dict[str, Any]:
    (provenance,) = resources(bundle)["Provenance"]
    return provenance


def walk_sections(sections: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for section in sections:
        yield section
        yield from walk_sections(section.get("section", []))


def narratives(composition: dict[str, Any]) -> list[str]:
    return [composition["text"]["div"]] + [
        s["text"]["div"] for s in walk_sections(composition["section"]) if "text" in s
    ]


def narrative_text(div: str) -> str:
    """The text a reader sees: the narrative parsed as XML (it must parse), its text joined."""
    return "".join(ET.fromstring(div).itertext())


def one_line(text: str) -> str:
    """Text as the narrative shows it: whitespace runs collapsed (a value never spans lines)."""
    return " ".join(text.split())


def fhir_refs(evidence: list[EvidenceRef]) -> list[str]:
    return list(dict.fromkeys(e.reference for e in evidence if e.kind == "fhir"))


def all_entries(composition: dict[str, Any]) -> set[str]:
    return {e["reference"] for s in walk_sections(composition["section"]) for e in s.get("entry", [])}


def strike(summary: CaseSummary, text_start: str) -> str:
    """Move the statement starting with `text_start` to `summary.struck`, as the verifier does."""
    for section in summary.sections:
        for statement in section.statements:
            if statement.text.startswith(text_start):
                section.statements.remove(statement)
                summary.struck.append(
                    StruckStatement(
                        statement=statement, section=section.kind, reason="contradicted by the record"
                    )
                )
                return statement.text
    raise AssertionError(f"no statement starts with {text_start!r}")


# --- the bundle ---------------------------------------------------------------------------------


def test_bundle_is_a_valid_r4_transaction_of_conditional_creates(jenny: CaseSummary) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    bundle = build_writeback(jenny, patient_ref=JENNY, now=NOW)
    assert bundle["type"] == "transaction"
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == ["Device", "Composition", "Provenance"]  # no model: no model Device
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["url"] == resource["resourceType"]
        assert entry["request"]["ifNoneExist"]
    get_fhir_model_class("Bundle").model_validate(bundle)

    device, composition, provenance = (e["resource"] for e in bundle["entry"])
    device_url, composition_url = bundle["entry"][0]["fullUrl"], bundle["entry"][1]["fullUrl"]
    assert device["identifier"] == [{"system": "urn:medboard:device", "value": "medboard-0.1.0"}]
    assert device["version"] == [{"value": jenny.run.medboard_version}]
    assert bundle["entry"][0]["request"]["ifNoneExist"] == "identifier=urn:medboard:device|medboard-0.1.0"

    digest = summary_hash(jenny, patient_ref=JENNY)
    assert composition["identifier"] == {"system": "urn:medboard:summary", "value": digest}
    assert bundle["entry"][1]["request"]["ifNoneExist"] == f"identifier=urn:medboard:summary|{digest}"
    assert bundle["entry"][2]["request"]["ifNoneExist"] == f"_tag=urn:medboard:summary|{digest}"
    assert {"system": "urn:medboard:summary", "code": digest} in provenance["meta"]["tag"]

    assert composition["status"] == "preliminary"
    assert composition["type"]["coding"][0]["system"] == "http://loinc.org"
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    assert composition["subject"] == {"reference": JENNY}
    assert composition["date"] == "2026-01-02T03:04:05Z"
    assert composition["author"] == [{"reference": device_url}]
    for resource in (composition, provenance):
        assert AIAST in {(c["system"], c["code"]) for c in resource["meta"]["security"]}
        assert ("urn:medboard:tag", "ai-draft-unreviewed") in {
            (t["system"], t["code"]) for t in resource["meta"]["tag"]
        }
    assert provenance["target"] == [{"reference": composition_url}]
    assert provenance["recorded"] == "2026-01-02T03:04:05Z"
    # Every urn:uuid reference inside the bundle points at one of its entries.
    text = json.dumps(bundle)
    for urn in {part.split('"')[0] for part in text.split('"reference": "urn:uuid:')[1:]}:
        assert f"urn:uuid:{urn}" in full_urls
    # The disclaimer is in the Composition's own narrative, and says what this is.
    top = narrative_text(composition["text"]["div"])
    assert jenny.disclaimer in top
    assert "not reviewed by a clinician" in top


def test_sections_map_one_to_one_and_every_written_statement_is_there(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    struck = strike(summary, "Body weight:")
    composition = composition_of(build_writeback(summary, patient_ref=JENNY, now=NOW))

    sections = composition["section"]
    # One Composition section per summary section, in order, plus the discrepancies.
    assert [s["code"]["coding"][0]["code"] for s in sections] == [
        *(s.kind for s in summary.sections),
        "discrepancies",
    ]
    assert [s["title"] for s in sections[: len(summary.sections)]] == [s.title for s in summary.sections]
    for written, section in zip(sections, summary.sections, strict=False):
        seen = narrative_text(written["text"]["div"])
        for statement in section.statements:
            if (
                statement.cells is not None
                and section.columns
                and len(statement.cells) == len(section.columns)
            ):
                assert all(one_line(cell) in seen for cell in statement.cells if cell.strip()), statement.text
            else:
                assert one_line(statement.text) in seen, statement.text
            verdict = statement.verdict.verdict.value if statement.verdict else "unchecked"
            assert verdict in seen
        for question in section.open_questions:
            assert one_line(question) in seen
        if not section.statements:
            assert "entry" not in written and written["emptyReason"]["coding"][0]["code"] == "nilknown"
    # The struck statement is nowhere: not in a section, a sub-section title, or any narrative.
    assert one_line(struck) not in json.dumps(composition, ensure_ascii=False)
    assert "statement(s) the verifier could not support were left out" in narrative_text(
        composition["text"]["div"]
    )


def test_each_statement_cites_its_own_resources_in_its_sub_section(jenny: CaseSummary) -> None:
    composition = composition_of(build_writeback(jenny, patient_ref=JENNY, now=NOW))
    checked = 0
    for written, section in zip(composition["section"], jenny.sections, strict=False):
        subsections = {sub["id"]: sub for sub in written.get("section", [])}
        section_refs = [r for st in section.statements for r in fhir_refs(st.evidence)]
        assert [e["reference"] for e in written.get("entry", [])] == list(dict.fromkeys(section_refs))
        for statement in section.statements:
            refs = fhir_refs(statement.evidence)
            if not refs:
                assert statement.id not in subsections
                continue
            sub = subsections[statement.id]
            assert [e["reference"] for e in sub["entry"]] == refs
            assert sub["title"] == one_line(statement.text)
            assert sub["code"]["coding"][0] == {
                "system": "urn:medboard:verdict",
                "code": statement.verdict.verdict.value,
            }
            # The narrative's list item / table row carries the same id as the sub-section.
            root = ET.fromstring(written["text"]["div"])
            assert [el for el in root.iter() if el.get("id") == statement.id]
            checked += 1
    assert checked == sum(1 for st in jenny.statements() if fhir_refs(st.evidence)) > 30


def test_provenance_names_medboard_and_every_cited_resource(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    strike(summary, "Body weight:")  # its Observation is cited by nothing else: it must not be a source
    bundle = build_writeback(summary, patient_ref=JENNY, now=NOW)
    composition, provenance = composition_of(bundle), provenance_of(bundle)

    entities = [e["what"]["reference"] for e in provenance["entity"]]
    assert all(e["role"] == "source" for e in provenance["entity"])
    cited = {r for st in summary.statements() for r in fhir_refs(st.evidence)}
    cited |= {r for d in summary.discrepancies for r in fhir_refs(d.sources)}
    assert len(entities) == len(set(entities))
    assert set(entities) == cited == all_entries(composition)
    assert "Observation/bodyweight-jenny-m-2018-03-16" not in entities
    (agent,) = provenance["agent"]  # no model: medboard alone
    assert agent["who"] == {"reference": bundle["entry"][0]["fullUrl"]}
    assert agent["type"]["coding"][0]["code"] == "author"
    assert AIAST in {(c["system"], c["code"]) for r in provenance["reason"] for c in r["coding"]}


def test_a_model_gets_its_own_device_and_agent_and_its_endpoint_is_not_written(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    summary.run.model = ModelRun(
        name="google/medgemma-1.5-4b-it", endpoint="http://user:secret@gpu-host:8000/v1"
    )
    bundle = build_writeback(summary, patient_ref=JENNY, now=NOW)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Device",
        "Device",
        "Composition",
        "Provenance",
    ]
    model_entry = bundle["entry"][1]
    assert model_entry["resource"]["identifier"] == [
        {"system": "urn:medboard:model", "value": "google/medgemma-1.5-4b-it"}
    ]
    assert model_entry["request"]["ifNoneExist"] == "identifier=urn:medboard:model|google/medgemma-1.5-4b-it"
    agents = provenance_of(bundle)["agent"]
    assert [a["who"]["reference"] for a in agents] == [bundle["entry"][0]["fullUrl"], model_entry["fullUrl"]]
    assert "secret" not in json.dumps(bundle) and "gpu-host" not in json.dumps(bundle)
    # Another model means another author: another document.
    assert summary_hash(summary, patient_ref=JENNY) != summary_hash(jenny, patient_ref=JENNY)


def test_planted_markup_in_record_text_stays_text(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    hostile = '<script>alert("x")</script> & "quoted" <img src=x onerror=alert(1)> \x1b[31m'
    summary.sections[0].statements[0].text = hostile
    table = next(s for s in summary.sections if s.columns)
    row = next(st for st in table.statements if st.cells)
    row.cells = [f"{hostile} cell", *row.cells[1:]]
    summary.sections[1].title = "<b>title</b> & co"
    summary.sections[1].open_questions.append("</li></ul><script>q()</script>")
    summary.question = '"><script>question()</script>'
    # Characters XML 1.0 cannot carry (NUL, a lone surrogate, U+FFFE) and a bidi override.
    summary.sections[0].statements[1].text = "a\x00b\ud800c\ufffed\u202ee"
    composition = composition_of(build_writeback(summary, patient_ref=JENNY, now=NOW))

    for div in narratives(composition):
        root = ET.fromstring(div)  # well-formed XHTML
        assert root.tag == f"{XHTML}div"
        tags = {el.tag.removeprefix(XHTML) for el in root.iter()}
        assert not tags & {"script", "img"}, tags
        assert all(set(el.attrib) <= {"id"} for el in root.iter())
    seen = "\n".join(narrative_text(div) for div in narratives(composition))
    shown = hostile.replace("\x1b", "\\x1b").strip()
    assert shown in seen  # the reader sees exactly the text, as text
    assert f"{shown} cell" in seen
    assert "</li></ul><script>q()</script>" in seen
    assert composition["section"][1]["title"] == "<b>title</b> & co"  # a plain string, not XHTML
    assert '"><script>question()</script>' in seen
    assert "a\\x00b\\ud800c\\ufffed\\u202ee" in seen  # shown as visible escapes
    raw = composition["section"][0]["text"]["div"]
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; "quoted"' in raw
    assert "\x1b" not in json.dumps(composition, ensure_ascii=False)


def test_image_frames_are_named_in_the_narrative_not_entries(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    statement = summary.sections[0].statements[0]
    statement.evidence = [EvidenceRef(reference="image:ct-chest#frame=12", box=(100, 200, 300, 400))]
    composition = composition_of(build_writeback(summary, patient_ref=JENNY, now=NOW))
    section = composition["section"][0]
    assert "image ct-chest, frame 12, box [100, 200, 300, 400]" in narrative_text(section["text"]["div"])
    assert statement.id not in {sub["id"] for sub in section.get("section", [])}  # no FHIR citation
    assert not any(ref.startswith("image:") for ref in all_entries(composition))


def test_same_content_same_identifier_and_only_then(jenny: CaseSummary) -> None:
    digest = summary_hash(jenny, patient_ref=JENNY)
    # Run timings, ids and the time of writing are not content.
    timing = copy(jenny)
    timing.run.started_at += timedelta(hours=1)
    timing.run.agents[0].seconds += 3.0
    timing.run.warnings.append("another warning")
    timing.sections[0].statements[0].id = "st-renamed"
    assert summary_hash(timing, patient_ref=JENNY) == digest
    later = build_writeback(timing, patient_ref=JENNY, now=NOW + timedelta(days=1))
    assert composition_of(later)["identifier"]["value"] == digest
    # A re-run of the case is the same content.
    assert summary_hash(run_case_sync(DEFAULT_CASE, model="none"), patient_ref=JENNY) == digest

    def changed(edit: Any) -> str:
        other = copy(jenny)
        edit(other)
        return summary_hash(other, patient_ref=JENNY)

    first = jenny.sections[0].statements[0]
    variants = {
        "text": changed(lambda s: setattr(s.sections[0].statements[0], "text", first.text + " ")),
        "verdict": changed(
            lambda s: setattr(s.sections[0].statements[0].verdict, "verdict", VerdictLabel.unsupported)
        ),
        "citation": changed(
            lambda s: s.sections[0].statements[0].evidence.append(EvidenceRef(reference="Observation/other"))
        ),
        "struck": changed(lambda s: strike(s, "Body weight:")),
        "question": changed(lambda s: setattr(s, "question", "Another question?")),
        "case": changed(lambda s: setattr(s, "case_id", "another-case")),
    }
    assert digest not in variants.values()
    assert len(set(variants.values())) == len(variants)
    unnamed = copy(jenny)
    unnamed.patient = None
    assert summary_hash(unnamed, patient_ref="Patient/a") != summary_hash(unnamed, patient_ref="Patient/b")


def test_the_wrong_or_a_malformed_patient_is_refused(jenny: CaseSummary) -> None:
    with pytest.raises(WriteBackInputError, match="another patient") as caught:
        build_writeback(jenny, patient_ref="Patient/someone-else", now=NOW)
    assert caught.value.exit_code == 2
    with pytest.raises(WriteBackInputError, match="Patient/<id>"):
        build_writeback(jenny, patient_ref="Observation/x", now=NOW)


class RecordingClient:
    """Counts transactions; answers like a server that created everything."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(bundle)
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{e['resource']['resourceType']}/id{i}/_history/1",
                    }
                }
                for i, e in enumerate(bundle["entry"])
            ],
        }

    async def search(self, resource_type: str, params: dict[str, str]) -> list[dict[str, Any]]:
        raise AssertionError("write-back does not search")

    async def read(self, resource_type: str, id: str) -> dict[str, Any]:
        raise AssertionError("write-back does not read")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ({"version": "0.1.0"}, r"at Device\.version: .*nothing was sent"),  # a list in FHIR
        ({"colour": "red"}, r"at Device\.colour: .*nothing was sent"),  # no such element
        (
            {
                "text": {
                    "status": "generated",
                    "div": '<div xmlns="http://www.w3.org/1999/xhtml"><script/>x</div>',
                }
            },
            r"at Device\.text\.div: the narrative holds a 'script' element",
        ),
        ({"text": {"status": "generated", "div": "<div>unclosed"}}, r"not well-formed XML"),
    ],
)
async def test_an_invalid_resource_is_a_clear_error_and_nothing_is_sent(
    jenny: CaseSummary, monkeypatch: pytest.MonkeyPatch, breakage: dict[str, Any], message: str
) -> None:
    good = bundle_module._medboard_device

    def broken(version: str) -> dict[str, Any]:
        return {**good(version), **breakage}

    monkeypatch.setattr(bundle_module, "_medboard_device", broken)
    client = RecordingClient()
    with pytest.raises(WriteBackValidationError, match=message) as caught:
        await write_back(client, jenny, patient_ref=JENNY)
    assert client.sent == []
    assert caught.value.exit_code == 1
    assert "\n" not in str(caught.value)


def test_a_composition_invariant_fhir_resources_does_not_check_is_checked(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bundle_module, "_section", lambda section, used: {"title": section.title})
        with pytest.raises(WriteBackValidationError, match=r"section\[0\]: a section needs text.*cmp-1"):
            build_writeback(summary, patient_ref=JENNY, now=NOW)


async def test_the_result_says_what_was_created(jenny: CaseSummary) -> None:
    client = RecordingClient()
    result = await write_back(client, jenny, patient_ref=JENNY, now=NOW)
    assert len(client.sent) == 1
    assert [e.resource_type for e in result.created] == ["Device", "Composition", "Provenance"]
    assert result.composition == "Composition/id1" and result.provenance == "Provenance/id2"
    assert result.identifier == summary_hash(jenny, patient_ref=JENNY)


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        ({"resourceType": "OperationOutcome"}, "not a Bundle"),
        ({"resourceType": "Bundle", "entry": [{"response": {"status": "201"}}]}, "1 response entries for 3"),
        (
            {
                "resourceType": "Bundle",
                "entry": [{"response": {"status": "201"}}] * 2 + [{"response": {"status": "400"}}],
            },
            "entry 2 (Provenance) answered 400",
        ),
        ({"resourceType": "Bundle", "entry": [{"response": {"status": "201"}}] * 2 + [{}]}, "no response"),
    ],
)
def test_an_unusable_transaction_response_is_one_clear_error(
    jenny: CaseSummary, response: dict[str, Any], problem: str
) -> None:
    bundle = build_writeback(jenny, patient_ref=JENNY, now=NOW)
    with pytest.raises(WriteBackResponseError, match=re.escape(problem)) as caught:
        read_response(bundle, response)
    assert caught.value.exit_code == 3


# --- against the real test FHIR server (medplum) -------------------------------------------------


def counts(server: Any) -> dict[str, int]:
    return {t: server.count(t) for t in ("Composition", "Provenance", "Device")}


async def test_write_back_to_a_fhir_server_reads_back_and_a_rerun_writes_nothing(
    fhir_server: Any, jenny: CaseSummary
) -> None:
    assert fhir_server.load("jenny-m") == "cancer-patient-jenny-m"  # a collection keeps its ids
    client = FhirClient(fhir_server.base_url)
    try:
        before = counts(fhir_server)
        bundle = build_writeback(jenny, patient_ref=JENNY, now=NOW)
        result = await write_back(client, jenny, patient_ref=JENNY, now=NOW)
        created = {e.resource_type for e in result.created}
        assert {"Composition", "Provenance"} <= created
        after = counts(fhir_server)
        assert after["Composition"] == before["Composition"] + 1
        assert after["Provenance"] == before["Provenance"] + 1
        assert after["Device"] - before["Device"] == (1 if "Device" in created else 0)

        # Read back what the server holds.
        assert result.composition and result.provenance
        composition = await client.read(*result.composition.split("/"))
        sent = composition_of(bundle)
        device_ref = next(e.reference for e in result.entries if e.resource_type == "Device")
        assert composition["status"] == "preliminary"
        assert composition["identifier"] == {"system": "urn:medboard:summary", "value": result.identifier}
        assert composition["subject"] == {"reference": JENNY}
        assert composition["author"] == [{"reference": device_ref}]
        assert composition["type"]["coding"][0]["code"] == "60591-5"
        assert AIAST in {(c["system"], c["code"]) for c in composition["meta"]["security"]}
        assert composition["section"] == sent["section"]  # sections, narratives, entries, sub-sections
        assert narrative_text(composition["text"]["div"]) == narrative_text(sent["text"]["div"])

        provenance = await client.read(*result.provenance.split("/"))
        assert provenance["target"] == [{"reference": result.composition}]
        assert provenance["agent"][0]["who"] == {"reference": device_ref}
        assert {e["what"]["reference"] for e in provenance["entity"]} == all_entries(sent)
        assert AIAST in {(c["system"], c["code"]) for c in provenance["meta"]["security"]}
        device = await client.read(*device_ref.split("/"))
        assert device["version"] == [{"value": jenny.run.medboard_version}]
        # Every cited resource is the server's own.
        for ref in sorted(all_entries(sent))[:10]:
            await client.read(*ref.split("/"))
        # Found by the searches the conditional creates use.
        assert (
            len(
                await client.search(
                    "Composition", {"identifier": f"urn:medboard:summary|{result.identifier}"}
                )
            )
            == 1
        )
        assert (
            len(await client.search("Provenance", {"_tag": f"urn:medboard:summary|{result.identifier}"})) == 1
        )

        # A re-run (later, other timings) writes nothing new and points at the same resources.
        rerun = copy(jenny)
        rerun.run.started_at += timedelta(minutes=5)
        again = await write_back(client, rerun, patient_ref=JENNY, now=NOW + timedelta(hours=1))
        assert again.created == []
        assert [e.reference for e in again.entries] == [e.reference for e in result.entries]
        assert counts(fhir_server) == after
    finally:
        await client.aclose()


async def test_a_pulled_synthea_record_is_written_back_citing_the_servers_ids(
    fhir_server: Any, tmp_path: Path
) -> None:
    """Synthea bundles are transactions: the server assigns new ids, so the record must be pulled
    from it (here through $everything) for the citations to be the server's."""
    patient_id = fhir_server.load("andy_schaden")
    client = FhirClient(fhir_server.base_url)
    try:
        pulled = await pull_patient(client, patient_id)
        assert pulled.strategy == "everything"
        record_file = tmp_path / "pulled.json"
        record_file.write_text(json.dumps(pulled.to_bundle()))
        assert load_record(record_file).patient_id == patient_id
        summary = await run_case(record_file, model="none")
        patient_ref = f"Patient/{patient_id}"
        model_summary = copy(summary)
        model_summary.run.model = ModelRun(name="google/medgemma-1.5-4b-it")
        model_summary.run.medboard_version = "0.2.0+dev.1"  # '+' must survive the conditional URL

        result = await write_back(client, model_summary, patient_ref=patient_ref)
        assert [(e.resource_type, e.created) for e in result.entries][2:] == [
            ("Composition", True),
            ("Provenance", True),
        ]
        provenance = await client.read(*result.provenance.split("/"))  # type: ignore[union-attr]
        assert len(provenance["agent"]) == 2
        model_device = await client.read(*provenance["agent"][1]["who"]["reference"].split("/"))
        assert model_device["deviceName"] == [{"name": "google/medgemma-1.5-4b-it", "type": "model-name"}]
        for entity in provenance["entity"]:  # every source resolves on the server
            await client.read(*entity["what"]["reference"].split("/"))

        after = counts(fhir_server)
        again = await write_back(client, model_summary, patient_ref=patient_ref)
        assert again.created == [] and counts(fhir_server) == after
    finally:
        await client.aclose()


# --- the command line ---------------------------------------------------------------------------


def test_write_back_without_a_fhir_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from medboard.cli.main import main

    assert main(["run", "--write-back"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--write-back" in err and "needs --fhir-server" in err


def test_the_cli_helper_writes_once_and_says_so(fhir_server: Any, jenny: CaseSummary) -> None:
    from medboard.cli.writeback import outcome_line, write_back_to_server

    fhir_server.load("jenny-m")
    summary = copy(jenny)
    summary.question = "A question only this test asks?"  # its own document, whatever ran before
    first = write_back_to_server(
        summary, patient="cancer-patient-jenny-m", open_client=lambda: FhirClient(fhir_server.base_url)
    )
    line = outcome_line(first)
    assert line.startswith("write-back: created ") and f"{first.composition}" in line
    second = write_back_to_server(
        summary, patient="cancer-patient-jenny-m", open_client=lambda: FhirClient(fhir_server.base_url)
    )
    assert (
        outcome_line(second)
        == f"write-back: already on the server, nothing new written ({first.composition})"
    )


def test_discrepancies_and_a_failed_section_are_written_as_such(jenny: CaseSummary) -> None:
    summary = copy(jenny)
    imaging = summary.section("imaging")
    assert imaging is not None and not imaging.statements
    imaging.status, imaging.error = "failed", "the imaging model did not answer <in time>"
    composition = composition_of(build_writeback(summary, patient_ref=JENNY, now=NOW))

    written = composition["section"][summary.sections.index(imaging)]
    assert written["emptyReason"]["coding"][0]["code"] == "unavailable"
    assert "Section failed. the imaging model did not answer <in time>" in narrative_text(
        written["text"]["div"]
    )

    (discrepancy,) = summary.discrepancies
    last = composition["section"][-1]
    assert last["code"]["coding"][0]["code"] == "discrepancies"
    assert discrepancy.description in narrative_text(last["text"]["div"])
    (sub,) = last["section"]
    assert sub["id"] == discrepancy.id
    assert sub["code"]["coding"][0] == {"system": "urn:medboard:discrepancy-kind", "code": discrepancy.kind}
    assert [e["reference"] for e in sub["entry"]] == fhir_refs(discrepancy.sources)

    summary.discrepancies = []
    without = composition_of(build_writeback(summary, patient_ref=JENNY, now=NOW))
    assert len(without["section"]) == len(summary.sections)
