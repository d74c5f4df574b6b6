"""Case-flow benchmarks (issue: the case flow). Prints figures; asserts nothing.

1. Orchestration overhead per case with a zero-latency model: the GraphFlow run minus the same
   agents' work called directly (no graph), in the same process.
2. Wall time over critical-path time with a real local HTTP model endpoint that adds a fixed latency
   per call; the sequential sum of the calls is printed beside it as the baseline.
3. Shared-prefix fraction of the text agents' prompts per case, in characters, and in Gemma tokens
   plus the vLLM prefix-cache hit rate when `--local` starts the real local server.

    python benchmarks/bench_case_flow.py [--case PATH] [--latency 0.4] [--repeats 5] [--local]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI server lives with the tests

from fake_openai import FakeOpenAIServer, chat_completion  # noqa: E402

from medboard.agents.case import CaseInput  # noqa: E402
from medboard.llm.calls import ModelCaller  # noqa: E402
from medboard.llm.client import make_chat_client  # noqa: E402
from medboard.llm.endpoint import ModelEndpoint  # noqa: E402
from medboard.orchestrator.flow import run_case_flow  # noqa: E402

DEFAULT_CASE = ROOT.parent / "shared" / "data" / "fhir" / "synthea" / "austin_franecki.json"
QUESTION = "Is this patient a candidate for systemic therapy, and what does the record not say?"


def responder(latency: float):
    """A model that answers every schema with minimal valid JSON after `latency` seconds."""

    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        fmt = body.get("response_format") or {}
        name = (fmt.get("json_schema") or {}).get("name")
        if name == "BoardAnswer":
            # Restate the first listed finding verbatim, as a faithful model would.
            prompt = "".join(str(m["content"]) for m in body["messages"])
            first = next(line[2:] for line in prompt.splitlines() if line.startswith("- "))
            finding_id, text = first.split(": ", 1)
            assert finding_id in _enum(fmt["json_schema"]["schema"])
            content = {
                "answer": text,
                "supporting": [{"text": text, "finding_ids": [finding_id]}],
                "not_in_record": [],
            }
        elif name == "TextReading":
            content = {"findings": []}
        elif name == "EntailmentJudgement":
            content = {"label": "neutral", "reason": "benchmark"}
        else:
            content = {}
        time.sleep(latency)
        return 200, chat_completion(json.dumps(content)), 0.0

    return respond


def _enum(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        if "enum" in schema:
            return list(schema["enum"])
        for value in schema.values():
            found = _enum(value)
            if found:
                return found
    if isinstance(schema, list):
        for value in schema:
            found = _enum(value)
            if found:
                return found
    return []


def caller_for(url: str) -> ModelCaller:
    endpoint = ModelEndpoint(
        base_url=url, model="fake-model", max_concurrency=16, timeout_s=30, max_retries=0
    )
    return ModelCaller(make_chat_client(endpoint), endpoint)


async def direct_pipeline(case: CaseInput) -> float:
    """The same agents' work called directly, without the graph: the overhead figure's baseline."""
    from datetime import UTC, datetime

    from medboard.agents.ehr.core import ehr_findings
    from medboard.agents.longitudinal.core import longitudinal_findings
    from medboard.agents.synthesizer.template import draft_sections
    from medboard.models import CaseSummary, RunMetadata
    from medboard.tools.checks.pipeline import apply_verdicts, verify_summary

    started = time.perf_counter()
    findings = ehr_findings(case.record) + longitudinal_findings(case.record)
    sections = draft_sections(findings, question=case.question)
    summary = CaseSummary(
        case_id=case.case_id,
        sections=sections,
        findings=findings,
        run=RunMetadata(medboard_version="bench", started_at=datetime.now(UTC)),
    )
    report = await verify_summary(summary, case.record, case_date=case.effective_date)
    apply_verdicts(summary, report.verdicts, discrepancies=report.discrepancies)
    return time.perf_counter() - started


def model_stages(records: list[Any]) -> int:
    """Dependent model stages of a run: the specialists' calls form one stage (they may all fly
    together), then every synthesizer or verifier turn that called the model is one more."""
    specialists = {"ehr", "imaging", "longitudinal"}
    ordered = sorted(records, key=lambda r: r.started_at)
    stages, previous = 0, None
    for record in ordered:
        group = "specialists" if record.agent in specialists else record.agent
        if group != previous:
            stages += 1
            previous = group
    return stages


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, default=DEFAULT_CASE)
    parser.add_argument("--latency", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--prefix-case", type=Path, default=ROOT / "tests" / "data" / "fhir" / "notes_bundle.json"
    )
    parser.add_argument("--local", action="store_true", help="also measure on the real local vLLM server")
    args = parser.parse_args()

    from medboard.orchestrator.case import load_case

    case = load_case(args.case, question=QUESTION)
    print(f"case: {args.case.name}: {len(case.record.facts)} facts")

    # 1. overhead with a zero-latency model
    with FakeOpenAIServer(responder(0.0)) as server:
        flow_times, direct_times = [], []
        for _ in range(args.repeats):
            caller = caller_for(server.base_url)
            t0 = time.perf_counter()
            await run_case_flow(case, caller=caller)
            flow_times.append(time.perf_counter() - t0)
            await caller.close()
            direct_times.append(await direct_pipeline(case))
        calls_per_case = len(server.requests) // args.repeats
        nomodel = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            await run_case_flow(case)
            nomodel.append(time.perf_counter() - t0)
    flow, direct, bare = (statistics.median(x) for x in (flow_times, direct_times, nomodel))
    print(
        f"[overhead] flow with zero-latency model: {flow * 1000:.0f} ms/case ({calls_per_case} calls); "
        f"no-model flow: {bare * 1000:.0f} ms; agents' work without the graph: {direct * 1000:.0f} ms"
    )
    print(
        f"[overhead] orchestration overhead (no-model flow − direct work): {(bare - direct) * 1000:.0f} ms "
        f"(target ≤ 150 ms); ratio flow/direct = {bare / direct:.2f}"
    )

    # 2. wall time vs critical path under fixed latency
    with FakeOpenAIServer(responder(args.latency)) as server:
        caller = caller_for(server.base_url)
        t0 = time.perf_counter()
        await run_case_flow(case, caller=caller)
        wall = time.perf_counter() - t0
        await caller.close()
        calls = len(server.requests)
        stages = model_stages(caller.records)
    # Critical path: the zero-latency run (all CPU work) plus one latency per dependent stage —
    # what the case would take if every independent call were in flight together.
    critical = flow + stages * args.latency
    sequential = flow + calls * args.latency
    print(
        f"[latency] {calls} calls × {args.latency:.2f} s in {stages} dependent stages: wall {wall:.2f} s, "
        f"critical path {critical:.2f} s, sequential sum {sequential:.2f} s → wall/critical = "
        f"{wall / critical:.2f} (target ≤ 1.2), wall/sequential = {wall / sequential:.2f}"
    )

    # 3. shared prefix of the text agents' prompts, on a case whose notes the EHR reader reads
    prefix_case = load_case(args.prefix_case, question=QUESTION)
    with FakeOpenAIServer(responder(0.0)) as server:
        caller = caller_for(server.base_url)
        await run_case_flow(prefix_case, caller=caller)
        await caller.close()
        bodies = list(server.requests)
    text_agent_schemas = ("TextReading", "BoardAnswer")
    prompts = [_prompt(b) for b in bodies if _schema_name(b) in text_agent_schemas]
    everything = [_prompt(b) for b in bodies]
    print(
        f"[prefix] {args.prefix_case.name}: {len(prompts)} text-agent prompts (EHR reader, synthesizer); "
        f"shared-prefix fraction (characters) {shared_prefix_fraction(prompts):.2f} (target ≥ 0.6); over "
        f"all {len(everything)} calls incl. the verifier's short entailment checks "
        f"{shared_prefix_fraction(everything):.2f}"
    )
    if args.local:
        await local_prefix(prefix_case, bodies)


def _prompt(body: dict[str, Any]) -> str:
    return "".join(str(m["content"]) for m in body["messages"])


def _schema_name(body: dict[str, Any]) -> str | None:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name")


def shared_prefix_fraction(prompts: list[Any]) -> float:
    """Share of all prompt characters that repeat a prefix another prompt of the case already sent."""
    if len(prompts) < 2:
        return 0.0
    cached = 0
    for i, prompt in enumerate(prompts[1:], start=1):
        best = 0
        for earlier in prompts[:i]:
            n = 0
            for a, b in zip(prompt, earlier, strict=False):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        cached += best
    return cached / sum(len(p) for p in prompts[1:])


async def local_prefix(case: CaseInput, bodies: list[dict[str, Any]]) -> None:
    """Token figures on the real local server: the shared prefix in Gemma tokens (vLLM /tokenize)
    and the prefix-cache hit rate from /metrics, over a whole case and over its text agents only."""
    import httpx

    from medboard.llm.local_server import LocalServer

    with LocalServer() as server:
        root = server.base_url.removesuffix("/v1")
        token_prompts = []
        for body in bodies:
            if _schema_name(body) in ("TextReading", "BoardAnswer"):
                reply = httpx.post(
                    f"{root}/tokenize", json={"model": server.model, "messages": body["messages"]}, timeout=60
                )
                reply.raise_for_status()
                token_prompts.append(reply.json()["tokens"])
        print(
            f"[prefix/local] shared-prefix fraction of the text agents' prompts in Gemma tokens: "
            f"{shared_prefix_fraction(token_prompts):.2f} over {len(token_prompts)} prompts (target ≥ 0.6)"
        )
        # Each run asks its own question: the question heads the shared case context, so no run is
        # served from a cache the previous run warmed.
        for index, (label, entail) in enumerate(
            (("text agents (rules-only verifier)", False), ("whole case", True))
        ):
            case.question = f"{QUESTION} (run {index})"
            endpoint = ModelEndpoint(
                base_url=server.base_url, model=server.model, vision=False, max_concurrency=4
            )
            caller = ModelCaller(make_chat_client(endpoint), endpoint)
            before = _metrics(server.base_url)
            await run_case_flow(case, caller=caller, model_entailment=entail)
            await caller.close()
            after = _metrics(server.base_url)
            hits = after.get("hits", 0) - before.get("hits", 0)
            queries = after.get("queries", 0) - before.get("queries", 0)
            rate = hits / queries if queries else float("nan")
            print(
                f"[prefix/local] {label}: {len(caller.records)} calls; vLLM prefix-cache hit rate {rate:.2f} "
                f"({hits:.0f}/{queries:.0f} prompt tokens) (target ≥ 0.6)"
            )


def _metrics(base_url: str) -> dict[str, float]:
    import httpx

    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        if name.endswith("prefix_cache_hits_total") or name.endswith("prefix_cache_hits"):
            out["hits"] = out.get("hits", 0) + float(line.rsplit(" ", 1)[1])
        elif name.endswith("prefix_cache_queries_total") or name.endswith("prefix_cache_queries"):
            out["queries"] = out.get("queries", 0) + float(line.rsplit(" ", 1)[1])
    return out


if __name__ == "__main__":
    asyncio.run(main())
