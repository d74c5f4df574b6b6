"""`medboard verify`: a CI gate over a summary file and its record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from medboard.cli.main import main
from medboard.models import (
    CaseSummary,
    FactKind,
    Finding,
    RunMetadata,
    Section,
    SectionKind,
    Statement,
)
from medboard.tools.fhir import load_record

BUNDLE = Path(__file__).parent / "data" / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def write_summary(tmp_path: Path, *, contradicted: bool) -> Path:
    record = load_record(BUNDLE)
    weight = next(f for f in record.facts_of(FactKind.vital) if f.unit_code == "[lb_av]")
    value = float(weight.value)  # type: ignore[arg-type]
    finding = Finding.create(
        agent="ehr", category="vital", text=f"Body weight {value:g} lb", evidence=[weight.evidence]
    )
    statements = [Statement(id="w1", text=f"Body weight {value:g} lb.", finding_ids=[finding.id])]
    if contradicted:
        statements.append(
            Statement(id="w2", text=f"Body weight {value + 40:g} lb.", evidence=[weight.evidence])
        )
    summary = CaseSummary(
        case_id="cli",
        patient=record.patient_ref,
        sections=[Section(kind=SectionKind.labs_and_trends, title="Labs", statements=statements)],
        findings=[finding],
        run=RunMetadata(medboard_version="0", started_at=datetime(2024, 1, 1, tzinfo=UTC)),
    )
    path = tmp_path / "summary.json"
    path.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return path


def test_contradicted_statement_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_summary(tmp_path, contradicted=True)
    assert main(["verify", str(path), "--record", str(BUNDLE), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"verdicts", "discrepancies"}
    assert [(v["statement_id"], v["verdict"]) for v in payload["verdicts"]] == [
        ("w1", "supported"),
        ("w2", "contradicted"),
    ]
    assert all(set(v) == {"statement_id", "verdict", "reason", "checks"} for v in payload["verdicts"])
    assert payload["discrepancies"] and all(len(d["sources"]) >= 2 for d in payload["discrepancies"])


def test_clean_summary_passes_and_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_summary(tmp_path, contradicted=False)
    assert main(["verify", str(path), "--record", str(BUNDLE)]) == 0
    out = capsys.readouterr().out
    assert "w1" in out and "supported" in out and "1 supported" in out


def test_bad_summary_exits_2_naming_file_and_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_summary(tmp_path, contradicted=False)
    data = json.loads(path.read_text())
    data["sections"][0]["statements"][0]["evidence"] = [{"reference": "not a reference"}]
    path.write_text(json.dumps(data))
    assert main(["verify", str(path), "--record", str(BUNDLE)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "sections[0].statements[0].evidence[0].reference" in err
    assert "Traceback" not in err

    path.write_text("{not json")
    assert main(["verify", str(path), "--record", str(BUNDLE)]) == 2
    assert "line 1 column 2" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.json"), "--record", str(BUNDLE)]) == 2


def test_model_entailment_over_an_openai_compatible_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--model URL`: statements the rules leave open go to the model, one schema-bound call each."""
    from fake_openai import FakeOpenAIServer, chat_completion

    record = load_record(BUNDLE)
    condition = next(f for f in record.facts_of(FactKind.condition) if "breast" in f.label)
    path = write_summary(tmp_path, contradicted=False)
    data = json.loads(path.read_text())
    data["sections"][0]["statements"].append(
        {
            "id": "q1",
            "text": "The breast cancer responded well to therapy.",
            "evidence": [{"reference": condition.id}],
        }
    )
    path.write_text(json.dumps(data))
    requests: list[dict] = []

    def respond(body: dict) -> tuple[int, dict, float]:
        requests.append(body)
        answer = {"label": "contradicted", "reason": "The evidence records remission, not a response."}
        return 200, chat_completion(json.dumps(answer)), 0.0

    for name in ("MEDBOARD_MODEL_URL", "MEDBOARD_MODEL", "MEDBOARD_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAIServer(respond, models=["fake-model"]) as server:
        argv = [
            "verify",
            str(path),
            "--record",
            str(BUNDLE),
            "--model",
            server.base_url,
            "--model-name",
            "fake-model",
        ]
        rc = main([*argv, "--json"])
    assert rc == 1
    verdicts = {v["statement_id"]: v for v in json.loads(capsys.readouterr().out)["verdicts"]}
    assert verdicts["w1"]["verdict"] == "supported" and verdicts["q1"]["verdict"] == "contradicted"
    assert verdicts["q1"]["checks"][-1]["name"] == "entailment"
    (request,) = requests  # only the statement the rules could not decide
    assert request["response_format"]["json_schema"]["name"] == "EntailmentJudgement"
    assert "responded well" in json.dumps(request["messages"])


# ------------------------------------------------------------------ the gate under hand edits


@pytest.fixture(scope="module")
def real_summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`medboard run BUNDLE --out D` (no model): the summary a user would then hand-edit."""
    out = tmp_path_factory.mktemp("run") / "D"
    assert main(["run", str(BUNDLE), "--out", str(out)]) == 0
    return out / "summary.json"


def _edited(real_summary: Path, tmp_path: Path, edits: dict[str, str]) -> Path:
    """The real summary with the statements citing `edits`' references rewritten to its texts."""
    data = json.loads(real_summary.read_text())
    done = set()
    for section in data["sections"]:
        for statement in section["statements"]:
            refs = {e["reference"] for e in statement["evidence"]}
            for reference, text in edits.items():
                if reference in refs and reference not in done:
                    statement["text"] = text
                    statement["id"] = "edited"
                    done.add(reference)
    assert done == set(edits)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


def test_the_untouched_real_summary_passes(real_summary: Path) -> None:
    assert main(["verify", str(real_summary), "--record", str(BUNDLE)]) == 0


@pytest.mark.parametrize(
    ("reference", "text"),
    (
        ("Condition/primary-cancer-condition-jenny-m", "The patient is free of breast cancer."),
        ("Observation/tumor-marker-test-er-jenny-m", "Oestrogen receptor: not positive."),
        ("Patient/cancer-patient-jenny-m", "Patient Jenny M: a 53-year-old man, born 1965-01-01."),
        (
            "Observation/tnm-clinical-stage-group-jenny-m",
            "Clinical stage group: Stage \u0406\u0406\u0406\u0412.",
        ),
        ("Observation/tumor-marker-test-her2-jenny-m", "HER2 overexpressed (IHC 3+) on 2018-03-10."),
        (
            "Observation/tumor-marker-test-oncotype-dx-jenny-m",
            "Oncotype DX Breast Recurrence Score Assay: twelve.",
        ),
    ),
)
def test_hand_edited_false_statements_fail_the_gate(
    real_summary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str, text: str
) -> None:
    path = _edited(real_summary, tmp_path, {reference: text})
    assert main(["verify", str(path), "--record", str(BUNDLE), "--json"]) == 1
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    by_id = {v["statement_id"]: v["verdict"] for v in verdicts}
    assert by_id.pop("edited") == "contradicted"
    assert "contradicted" not in by_id.values() and "unsupported" not in by_id.values()


def test_strict_also_fails_on_unverifiable(
    real_summary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(
        real_summary,
        tmp_path,
        {"Condition/primary-cancer-condition-jenny-m": "Breast cancer, a long and difficult course."},
    )
    assert main(["verify", str(path), "--record", str(BUNDLE)]) == 0  # unverifiable is not a failure
    assert main(["verify", str(path), "--record", str(BUNDLE), "--strict"]) == 1
    # On the untouched summary, --strict fails exactly when the rules left something open.
    capsys.readouterr()
    assert main(["verify", str(real_summary), "--record", str(BUNDLE), "--json"]) == 0
    open_ = [v for v in json.loads(capsys.readouterr().out)["verdicts"] if v["verdict"] == "unverifiable"]
    assert main(["verify", str(real_summary), "--record", str(BUNDLE), "--strict"]) == (1 if open_ else 0)


@pytest.mark.parametrize(
    ("make", "needle"),
    (
        (lambda tmp: tmp, "is a folder"),
        (lambda tmp: Path("/dev/zero"), "is a device"),
        (lambda tmp: _write(tmp, "[" * 100_000 + "]" * 100_000), "max_json_depth"),
        (lambda tmp: _write(tmp, '{"case_id": ' + "9" * 5000 + "}"), "max_number_chars"),
        (lambda tmp: _write(tmp, '{"a": ' + "[" * 70 + "1" + "]" * 70 + "}"), "max_json_depth"),
        (lambda tmp: _write(tmp, '{"case_id": "' + "M" * (2 * 1024 * 1024) + '"}'), "max_text_chars"),
        (lambda tmp: _write(tmp, '{"case_id": "a", "case_id": "b"}'), "case_id: a key is given twice"),
    ),
)
def test_unreadable_or_oversized_summaries_are_one_clean_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make,
    needle: str,  # type: ignore[no-untyped-def]
) -> None:
    path = make(tmp_path)
    assert main(["verify", str(path), "--record", str(BUNDLE)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def _write(folder: Path, text: str) -> Path:
    path = folder / "summary.json"
    path.write_text(text)
    return path
