"""The synthesizer: specialists' findings → a cited `CaseSummary` draft.

It restates findings and never adds facts. The deterministic template writes every section (so a
machine with no model still gets the whole summary); with a model, the answer to the board question
is drafted by MedGemma under a schema whose `finding_ids` are an enum of the real finding ids — the
model cannot cite what does not exist. On a revision round, only model-written statements are
re-asked (templated statements restate findings verbatim; if those fail, re-wording cannot help,
and the verifier strikes them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

import medboard
from medboard.agents.case import CaseContext
from medboard.agents.messages import DraftSummary, VerificationResult
from medboard.agents.prompting import build_case_context, shared_messages
from medboard.agents.specialist import SpecialistReport
from medboard.agents.synthesizer.prompts import answer_instruction
from medboard.agents.synthesizer.template import (
    SECTION_TITLES,
    draft_sections,
    missing_information,
    relevant_to_question,
    statement_for,
)
from medboard.llm.errors import ModelCallError
from medboard.models import (
    AgentRun,
    CaseSummary,
    Finding,
    ModelRun,
    RunMetadata,
    Section,
    SectionKind,
    Statement,
)

log = logging.getLogger(__name__)

AGENT = "synthesizer"
MAX_ANSWER_FINDINGS = 30


class _AnswerStatementBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=400)


def answer_schema(finding_ids: list[str]) -> type[BaseModel]:
    """The answer schema, with `finding_ids` constrained to the case's real finding ids."""
    ids_type: Any = Literal[tuple(finding_ids)] if finding_ids else str
    statement = create_model(
        "AnswerStatement",
        __base__=_AnswerStatementBase,
        finding_ids=(list[ids_type], Field(min_length=1, max_length=6)),
    )
    return create_model(
        "BoardAnswer",
        __config__=ConfigDict(extra="forbid"),
        answer=(str, Field(max_length=800, description="Direct answer to the board question.")),
        supporting=(list[statement], Field(max_length=6)),  # type: ignore[valid-type]
        not_in_record=(list[str], Field(max_length=5, description="What the record does not say.")),
    )


class SynthesizerAgent:
    """Joins the specialists' reports into a draft summary; revises once on the verifier's word."""

    name = AGENT
    description = "Drafts the cited case summary from findings only."
    output_type: ClassVar[type[BaseModel]] = DraftSummary

    def __init__(self, context: CaseContext) -> None:
        self.context = context
        self._findings: list[Finding] = []
        self._reports: dict[str, SpecialistReport] = {}
        self._answer_failure: str | None = None

    async def respond(self, inbox: Sequence[BaseModel]) -> DraftSummary:
        verification = None
        for content in inbox:
            if isinstance(content, SpecialistReport):
                self._reports[content.agent] = content
            elif isinstance(content, VerificationResult):
                verification = content
        return await (self.first_draft() if verification is None else self.revise(verification))

    def account(self, output: BaseModel, run: AgentRun) -> None:
        if self._answer_failure:
            run.status, run.error = "degraded", f"answer: {self._answer_failure}"

    def reset(self) -> None:
        self._findings, self._reports = [], {}

    # -- drafting -------------------------------------------------------------------------------

    def collect_findings(self) -> list[Finding]:
        seen: set[str] = set()
        findings = []
        for agent in sorted(self._reports):
            for finding in self._reports[agent].findings:
                if finding.id not in seen:
                    seen.add(finding.id)
                    findings.append(finding)
        return findings

    async def first_draft(self) -> DraftSummary:
        started = datetime.now(UTC)
        self._findings = self.collect_findings()
        case = self.context.case
        answered = False
        model_ids: list[str] = []
        sections: list[Section] = []
        if case.question and self.context.caller is not None:
            answer = await self._model_answer(case.question)
            if answer is not None:
                sections.append(answer)
                model_ids = [s.id for s in answer.statements]
                answered = True
        declared = [spec for report in self._reports.values() for spec in report.sections]
        sections.extend(
            draft_sections(
                self._findings,
                question=case.question,
                answered_by_model=answered,
                declared=declared,
                picture=self.context.picture,
                record=self.context.record,
            )
        )
        self._mark_failed_specialists(sections)
        if self._answer_failure and case.question:
            answer_section = next(s for s in sections if s.kind == SectionKind.answer)
            answer_section.error = f"Model answer failed ({self._answer_failure}); {answer_section.error}"
        summary = CaseSummary(
            case_id=case.case_id,
            patient=case.record.patient_ref,
            question=case.question,
            sections=sections,
            findings=self._findings,
            run=self._run_metadata(started),
        )
        return DraftSummary(summary=summary, round=0, model_statement_ids=model_ids)

    async def revise(self, verification: VerificationResult) -> DraftSummary:
        """Re-ask the model for its failing statements, once, with the verifier's reasons."""
        summary = verification.summary.model_copy(deep=True)
        answer = summary.section(SectionKind.answer)
        failing_model = [s for s in (answer.statements if answer else []) if s.id in verification.failing]
        if answer is not None and failing_model and self.context.caller is not None and summary.question:
            reasons = "\n".join(f"- {s.text} → rejected: {verification.failing[s.id]}" for s in failing_model)
            revised = await self._model_answer(summary.question, rejected=reasons)
            if revised is not None:
                index = summary.sections.index(answer)
                summary.sections[index] = revised
        answer = summary.section(SectionKind.answer)
        return DraftSummary(
            summary=summary,
            round=verification.round + 1,
            model_statement_ids=[s.id for s in answer.statements] if answer else [],
        )

    async def _model_answer(self, question: str, rejected: str | None = None) -> Section | None:
        caller = self.context.caller
        assert caller is not None
        relevant = relevant_to_question(question, self._findings, limit=MAX_ANSWER_FINDINGS)
        if not relevant:
            relevant = self._findings[:MAX_ANSWER_FINDINGS]
        by_id = {f.id: f for f in relevant}
        schema = answer_schema(list(by_id))
        instruction = answer_instruction(question, relevant)
        if rejected:
            instruction += (
                "\nA verifier rejected these statements of your previous answer; write them again so "
                f"that they say only what the cited findings say:\n{rejected}"
            )
        context_text = build_case_context(self.context.record, question=question)
        try:
            result = await caller.structured(
                messages=shared_messages(context_text, instruction),
                schema=schema,
                agent=AGENT,
                purpose="answer",
            )
        except ModelCallError as error:  # model faults degrade the answer section, visibly
            self._answer_failure = error.reason[:300] or error.kind
            log.warning("synthesizer answer failed: %s", type(error).__name__)
            return None
        draft: Any = result.value
        statements: list[Statement] = []
        cited_all: list[Finding] = []
        for item in draft.supporting:
            cited = [by_id[i] for i in dict.fromkeys(item.finding_ids) if i in by_id]
            if cited:
                cited_all.extend(cited)
                statements.append(statement_for(SectionKind.answer, cited, text=item.text.strip()))
        if draft.answer.strip() and cited_all:
            unique = list({f.id: f for f in cited_all}.values())[:8]
            statements.insert(0, statement_for(SectionKind.answer, unique, text=draft.answer.strip()))
        gaps = [g.strip() for g in draft.not_in_record if g.strip()] or missing_information(
            self._findings, self.context.picture
        )
        return Section(
            kind=SectionKind.answer,
            title=SECTION_TITLES[SectionKind.answer],
            statements=statements,
            status="ok" if statements else "degraded",
            error=None if statements else "The model's answer cited no finding; nothing could be kept.",
            open_questions=gaps,
        )

    def _mark_failed_specialists(self, sections: list[Section]) -> None:
        """A failed or degraded specialist shows in the summary: the sections it feeds say so.

        A specialist files findings under topics (``patient``, ``labs_and_trends``, ...) the board
        layout does not show as sections; its failure then marks the headline, which every reader
        sees first.
        """
        laid_out = {section.kind for section in sections}
        for agent, report in self._reports.items():
            if report.status not in ("failed", "degraded"):
                continue
            fed = {spec.kind for spec in report.sections} & laid_out or {SectionKind.headline}
            for section in sections:
                if section.kind not in fed:
                    continue
                note = f"{agent} {report.status}: {report.error}"
                section.error = f"{section.error}; {note}" if section.error else note
                section.status = (
                    "failed" if report.status == "failed" and not section.statements else "degraded"
                )

    def _run_metadata(self, started: datetime) -> RunMetadata:
        caller = self.context.caller
        model = None
        if caller is not None:
            endpoint = getattr(caller, "endpoint", None)
            model = ModelRun(
                name=getattr(endpoint, "model", "unknown"),
                endpoint=getattr(endpoint, "safe_url", None),  # credentials in the URL stay out
            )
        return RunMetadata(
            medboard_version=medboard.__version__,
            started_at=started,
            model=model,
            warnings=list(self.context.warnings)
            + list(self.context.record.warnings)
            + [f"skipped {s.location}: {s.problem}" for s in self.context.record.skipped],
        )
