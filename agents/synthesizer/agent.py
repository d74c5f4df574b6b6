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
from typing import ClassVar

from pydantic import BaseModel

import medboard
from medboard.agents.case import CaseContext
from medboard.agents.messages import DraftSummary, VerificationResult
from medboard.agents.prompting import build_case_context
from medboard.agents.specialist import SpecialistReport
from medboard.agents.synthesizer.board import Board
from medboard.agents.synthesizer.board.headline import headline as headline_block
from medboard.agents.synthesizer.board.model_text import draft_answer, draft_headline
from medboard.agents.synthesizer.template import (
    draft_sections,
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
)

log = logging.getLogger(__name__)

AGENT = "synthesizer"


def template_headline(board: Board) -> Section:
    """The deterministic headline (the headline block's section)."""
    return headline_block(board)[0]


def _in_board_order(sections: list[Section]) -> list[Section]:
    """The model's answer (drafted before the template's sections) goes right after the headline."""
    answers = [s for s in sections if s.kind == SectionKind.answer]
    rest = [s for s in sections if s.kind != SectionKind.answer]
    at = next((i + 1 for i, s in enumerate(rest) if s.kind == SectionKind.headline), 0)
    return rest[:at] + answers + rest[at:]


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
        self._headline_failure: str | None = None
        #: Ids of the statements the model wrote (the ones a revision may re-ask).
        self._model_written: set[str] = set()

    async def respond(self, inbox: Sequence[BaseModel]) -> DraftSummary:
        verification = None
        for content in inbox:
            if isinstance(content, SpecialistReport):
                self._reports[content.agent] = content
            elif isinstance(content, VerificationResult):
                verification = content
        return await (self.first_draft() if verification is None else self.revise(verification))

    def account(self, output: BaseModel, run: AgentRun) -> None:
        parts = (("answer", self._answer_failure), ("headline", self._headline_failure))
        failures = [f"{part}: {why}" for part, why in parts if why]
        if failures:
            run.status, run.error = "degraded", "; ".join(failures)

    def reset(self) -> None:
        self._findings, self._reports = [], {}
        self._answer_failure = self._headline_failure = None
        self._model_written = set()

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

    def _board(self) -> Board:
        return Board(
            picture=self.context.picture,
            findings=self._findings,
            record=self.context.record,
            question=self.context.case.question,
        )

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
        if self.context.caller is not None:
            headline = await self._model_headline()
            if headline is not None:
                index = next(i for i, s in enumerate(sections) if s.kind == SectionKind.headline)
                sections[index] = headline
                model_ids += [s.id for s in headline.statements]
        sections = _in_board_order(sections)
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
        """Re-ask the model for its failing statements (answer and headline), once, with the
        verifier's reasons."""
        summary = verification.summary.model_copy(deep=True)
        caller = self.context.caller
        for kind in (SectionKind.answer, SectionKind.headline):
            section = summary.section(kind)
            failing = [s for s in (section.statements if section else []) if s.id in verification.failing]
            if section is None or not failing or caller is None:
                continue
            reasons = "\n".join(f"- {s.text} → rejected: {verification.failing[s.id]}" for s in failing)
            if kind == SectionKind.answer and summary.question:
                revised = await self._model_answer(summary.question, rejected=reasons)
            else:
                # A revision the model fails (or drafts without what a headline must cite) falls
                # back to the template's headline, never to the rejected one.
                revised = await self._model_headline(rejected=reasons) or template_headline(self._board())
            if revised is not None:
                summary.sections[summary.sections.index(section)] = revised
        model_ids = [
            s.id
            for section in summary.sections
            if section.kind in (SectionKind.answer, SectionKind.headline)
            for s in section.statements
            if s.id in self._model_written
        ]
        return DraftSummary(summary=summary, round=verification.round + 1, model_statement_ids=model_ids)

    async def _model_answer(self, question: str, rejected: str | None = None) -> Section | None:
        caller = self.context.caller
        assert caller is not None
        context_text = build_case_context(self.context.record, question=question)
        try:
            section = await draft_answer(self._board(), caller, context_text, agent=AGENT, rejected=rejected)
        except ModelCallError as error:  # model faults degrade the answer section, visibly
            self._answer_failure = error.reason[:300] or error.kind
            log.warning("synthesizer answer failed: %s", type(error).__name__)
            return None
        self._model_written.update(s.id for s in section.statements)
        return section

    async def _model_headline(self, rejected: str | None = None) -> Section | None:
        """MedGemma's headline from the picture; None (the template's stays) when the call fails
        or the draft leaves out what a headline must cite (each cancer, vital status, the lines)."""
        caller = self.context.caller
        assert caller is not None
        context_text = build_case_context(self.context.record, question=self.context.case.question)
        try:
            section = await draft_headline(
                self._board(), caller, context_text, agent=AGENT, rejected=rejected
            )
        except ModelCallError as error:
            self._headline_failure = error.reason[:300] or error.kind
            log.warning("synthesizer headline failed: %s", type(error).__name__)
            return None
        if section is None:
            self._headline_failure = (
                "the model's headline left out what a headline must cite; the template's stands"
            )
            return None
        self._model_written.update(s.id for s in section.statements)
        return section

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
