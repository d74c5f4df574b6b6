"""With a model: MedGemma writes the headline and the answer from the picture, in the same layout.

The deterministic blocks (`headline.py`, `answer.py`) say what the record says; a model can say it
more readably and answer the question in words. It works from the same material — the clinical
picture, rendered compactly (`picture_digest`), and the findings a board block would cite, each
with its id — and its output goes through the same verification: every statement cites finding ids
drawn from a schema enum (the model cannot cite what does not exist), becomes a `Statement` with
those findings' evidence, and the verifier checks its text like any other.

Each request is an instruction (to follow the shared, cacheable case context — see
`medboard.agents.prompting`) plus a schema; each answer becomes a `Section`:

- `headline_request` / `headline_from_model`: at most `MAX_WORDS` words; a draft that leaves out a
  cancer, the patient's vital status or the therapy (judged by what it cites) is refused (None), so
  the caller keeps the deterministic headline;
- `answer_request` / `answer_from_model`: the deterministic premise checks come first, always (they
  are computed from the timeline, not the model's to decide), then the model's direct answer and
  its supporting statements.

Numbers in the schemas are bounded (lengths, counts): unbounded output can run on forever in guided
decoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from medboard.agents.prompting import data_block, shared_messages
from medboard.agents.synthesizer.board.answer import fact_statements, premise_statement
from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.casefacts import (
    day,
    of_cancer,
    patient_findings,
    short,
    stage_label,
    value_text,
    vital_status_findings,
    words,
)
from medboard.agents.synthesizer.board.headline import MAX_WORDS, headline_clauses
from medboard.agents.synthesizer.board.premises import check_premises, question_concepts
from medboard.agents.synthesizer.gaps import missing_information
from medboard.models import Finding, Section, SectionKind, Statement

#: The most findings a prompt lists (the schema's id enum grows with it).
MAX_PROMPT_FINDINGS = 40
MAX_STATEMENT_CHARS = 400
MAX_CITED = 8


class _Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_STATEMENT_CHARS)


def _cited_statement(finding_ids: Sequence[str]) -> type[BaseModel]:
    ids: Any = Literal[tuple(finding_ids)] if finding_ids else str
    return create_model(
        "CitedStatement",
        __base__=_Statement,
        finding_ids=(list[ids], Field(min_length=1, max_length=MAX_CITED)),
    )


def headline_schema(finding_ids: Sequence[str]) -> type[BaseModel]:
    """``{"statements": [{"text", "finding_ids"}]}``: 1–8 cited statements."""
    statement = _cited_statement(finding_ids)
    return create_model(
        "BoardHeadline",
        __config__=ConfigDict(extra="forbid"),
        statements=(list[statement], Field(min_length=1, max_length=8)),  # type: ignore[valid-type]
    )


def answer_schema(finding_ids: Sequence[str]) -> type[BaseModel]:
    """A direct answer, up to 6 cited supporting statements, and what the record does not say."""
    statement = _cited_statement(finding_ids)
    return create_model(
        "BoardAnswer",
        __config__=ConfigDict(extra="forbid"),
        answer=(str, Field(max_length=800, description="Direct answer to the board question.")),
        supporting=(list[statement], Field(max_length=6)),  # type: ignore[valid-type]
        not_in_record=(list[str], Field(max_length=5, description="What the record does not say.")),
    )


@dataclass(frozen=True)
class ModelRequest:
    """What to send after the shared case context, and how the answer must look."""

    instruction: str
    schema: type[BaseModel]
    findings: dict[str, Finding]  # the findings the model may cite, by id


# ----------------------------------------------------------------------------- the picture


def picture_digest(board: Board) -> str:
    """The clinical picture in compact lines: vital status, each cancer (stages with sources,
    metastatic sites, biomarkers, markers, lines), current medications. Deterministic."""
    picture = board.picture
    status = picture.patient
    lines = [f"CASE DATE: {day(picture.case_date) or 'not recorded'}"]
    if status.deceased:
        cause = f"; cause of death: {status.cause_of_death}" if status.cause_of_death else ""
        lines.append(f"PATIENT: deceased {day(status.deceased_date) or '(date not recorded)'}{cause}")
    else:
        lines.append("PATIENT: alive (no death recorded)")
    for cancer in picture.cancers:
        bits = [cancer.kind, short(cancer.histology) or None, cancer.laterality, cancer.clinical_status]
        head = ", ".join(b for b in bits if b)
        onset = f", onset {day(cancer.onset)}" if cancer.onset else ""
        lines.append(f"CANCER {short(cancer.name)} ({head}{onset})")
        for stage in cancer.stages:
            lines.append(
                f"  stage: {stage_label(stage)} ({', '.join(stage.sources)}; {day(stage.date) or 'undated'})"
            )
        if cancer.metastatic_sites:
            lines.append(f"  metastatic sites: {', '.join(cancer.metastatic_sites)}")
        for marker in [*cancer.biomarkers, *cancer.markers]:
            results = ", ".join(
                f"{value_text(r.value, r.unit) or 'no value'} ({day(r.date)})" for r in marker.results[-6:]
            )
            conflict = " CONFLICT" if getattr(marker, "conflict", False) else ""
            lines.append(f"  {marker.name}: {results}{conflict}")
        for number, line in enumerate(cancer.lines, start=1):
            end = f" – {day(line.end)}" if line.end else ""
            lines.append(f"  line {number}: {' + '.join(line.drugs)} {day(line.start)}{end} ({line.status})")
    current = [m.ingredient for m in picture.medications if m.status == "current"]
    lines.append(f"CURRENT MEDICATIONS: {', '.join(current) or 'none'}")
    if picture.data_quality:
        lines.append(f"DATA QUALITY: {len(picture.data_quality)} issue(s) (see findings)")
    return "\n".join(lines)


def prompt_findings(board: Board, extra: Iterable[Finding] = ()) -> list[Finding]:
    """The findings a board block would cite (the headline's clauses, then `extra`), capped."""
    chosen: list[Finding] = []
    for clause in headline_clauses(board):
        chosen.extend(clause.findings)
    chosen.extend(extra)
    unique = list({f.id: f for f in chosen}.values())
    return unique[:MAX_PROMPT_FINDINGS]


def _listing(findings: Sequence[Finding]) -> str:
    return "\n".join(f"- {f.id}: {f.text}" for f in findings)


def _material(board: Board, findings: Sequence[Finding]) -> str:
    return (
        data_block("clinical-picture", picture_digest(board))
        + "\nFINDINGS (cite these ids only):\n"
        + data_block("findings", _listing(findings), max_chars=12_000)
    )


_RULES = (
    "Use only the picture and the findings below. Every statement cites the ids of the findings it "
    "rests on. Write names, numbers, units and dates exactly as the findings write them; do not "
    "round, convert or infer. Do not recommend treatment."
)


def headline_request(board: Board, rejected: str | None = None) -> ModelRequest:
    """The headline: who, each cancer with stage, biomarkers, therapy, course, fitness — ≤ 100 words."""
    findings = prompt_findings(board)
    instruction = (
        f"You are the synthesizer. Write the case HEADLINE for a tumor board: at most {MAX_WORDS} words "
        "in total, as 3 to 8 short statements, in this order: age and sex, and alive or the date (and "
        "cause) of death; each cancer with its histology, stage (and whether clinical or pathologic, "
        "and from which record), metastatic sites; key biomarkers; the current line of therapy, or "
        "'none' with the last line; the latest response or tumour-marker course; performance status "
        f"and organ function that bear on treatment. {_RULES}\n" + _material(board, findings)
    )
    if rejected:
        instruction += _rejected(rejected)
    return ModelRequest(instruction, headline_schema([f.id for f in findings]), {f.id: f for f in findings})


def answer_request(board: Board, rejected: str | None = None) -> ModelRequest:
    """The answer: the question's facts (its concepts) and the premise checks, computed first."""
    question = board.question or ""
    concepts = question_concepts(question, board)
    premises = check_premises(board, concepts)
    named = {fid for s in fact_statements(board, concepts) for fid in s.finding_ids}
    extra = [f for p in premises for f in p.findings] + [f for f in board.findings if f.id in named]
    findings = prompt_findings(board, extra)
    checks = "\n".join(f"- {p.text}" for p in premises) or "- (the question makes no checkable assumption)"
    instruction = (
        "You are the synthesizer. Answer the BOARD QUESTION. First say whether its premises hold — "
        "the checks below were computed from the record's timeline; restate them, never contradict "
        "them — then what the record says that bears on the question, and what it does not say. "
        f"{_RULES}\nBOARD QUESTION: {question}\nPREMISE CHECKS:\n{checks}\n" + _material(board, findings)
    )
    if rejected:
        instruction += _rejected(rejected)
    return ModelRequest(instruction, answer_schema([f.id for f in findings]), {f.id: f for f in findings})


def _rejected(reasons: str) -> str:
    return (
        "\nA verifier rejected these statements of your previous draft; write them again so that "
        f"they say only what the cited findings say:\n{reasons}"
    )


# ----------------------------------------------------------------------------- the answers


def _statements(kind: str, items: Iterable[Any], by_id: dict[str, Finding]) -> list[Statement]:
    out = []
    for item in items:
        cited = [by_id[i] for i in dict.fromkeys(item.finding_ids) if i in by_id]
        text = " ".join(str(item.text).split())
        if cited and text:
            out.append(state(kind, text, cited))
    return out


def headline_from_model(board: Board, draft: Any, request: ModelRequest) -> Section | None:
    """The model's headline as a section, or None when it leaves out what a board needs (each
    cancer's diagnosis, the vital status, the therapy — judged by what it cites) or cites nothing."""
    statements = _statements(SectionKind.headline, draft.statements, request.findings)
    kept, total = [], 0
    for statement in statements:
        if total + words(statement.text) > MAX_WORDS:
            break
        kept.append(statement)
        total += words(statement.text)
    cited = {fid for s in kept for fid in s.finding_ids}
    required = _required(board)
    if not kept or any(group and not cited & group for group in required):
        return None
    return section(SectionKind.headline, kept)


def _required(board: Board) -> list[set[str]]:
    """Groups of finding ids of which the headline must cite at least one each."""
    groups = [{f.id for f in [*vital_status_findings(board), *patient_findings(board)]}]
    for cancer in board.picture.cancers:
        groups.append({f.id for f in of_cancer(board, cancer, "diagnosis")})
    lines = {f.id for c in board.picture.cancers for f in of_cancer(board, c, "line")}
    groups.append(lines)
    return [g for g in groups if g]


def answer_from_model(board: Board, draft: Any, request: ModelRequest) -> Section:
    """The premise checks (deterministic), the model's direct answer (citing everything its
    supporting statements cite), then its supporting statements."""
    premises = [premise_statement(p) for p in check_premises(board)]
    supporting = _statements(SectionKind.answer, draft.supporting, request.findings)
    statements = list(premises)
    direct = " ".join(str(draft.answer).split())
    cited = list({fid: None for s in supporting for fid in s.finding_ids})[:MAX_CITED]
    if direct and cited:
        statements.append(state(SectionKind.answer, direct, [request.findings[i] for i in cited]))
    statements.extend(supporting)
    # The open questions are the record's own gaps, computed: the model's `not_in_record` is text
    # nothing verifies (a small model fills it with finding ids; a large one may deny a result the
    # record holds), and everything a reader sees is checked first.
    gaps = missing_information(board.findings, board.picture)
    out = section(SectionKind.answer, list({s.id: s for s in statements}.values()), open_questions=gaps)
    if not supporting:
        out.status = "degraded"
        out.error = "The model's answer cited no finding; only the premise checks could be kept."
    return out


# ----------------------------------------------------------------------------- one call each


async def draft_headline(
    board: Board, caller: Any, context_text: str, *, agent: str = "synthesizer", rejected: str | None = None
) -> Section | None:
    """Ask the model for the headline (after the shared case context); None when its draft leaves
    out what a board needs. `ModelCallError` propagates: the caller degrades visibly."""
    request = headline_request(board, rejected)
    result = await caller.structured(
        messages=shared_messages(context_text, request.instruction),
        schema=request.schema,
        agent=agent,
        purpose="headline",
    )
    return headline_from_model(board, result.value, request)


async def draft_answer(
    board: Board, caller: Any, context_text: str, *, agent: str = "synthesizer", rejected: str | None = None
) -> Section:
    """Ask the model to answer the board question (premise checks computed first and kept first).
    `ModelCallError` propagates: the caller degrades visibly."""
    request = answer_request(board, rejected)
    result = await caller.structured(
        messages=shared_messages(context_text, request.instruction),
        schema=request.schema,
        agent=agent,
        purpose="answer",
    )
    return answer_from_model(board, result.value, request)


__all__ = [
    "MAX_PROMPT_FINDINGS",
    "ModelRequest",
    "answer_from_model",
    "answer_request",
    "answer_schema",
    "draft_answer",
    "draft_headline",
    "headline_from_model",
    "headline_request",
    "headline_schema",
    "picture_digest",
    "prompt_findings",
]
