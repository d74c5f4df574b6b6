"""The EHR/lab parser specialist.

Deterministic core (`core.py`): the record's structured facts → findings. Model layer
(`reader.py`): free text (report conclusions and presentedForm, clinical notes) read into findings
whose evidence quotes the exact span; what cannot be found verbatim in its source is dropped.
"""

from __future__ import annotations

import asyncio
import logging

from medboard.agents.ehr.core import AGENT, ehr_findings
from medboard.agents.ehr.reader import free_texts, read_text
from medboard.agents.prompting import build_case_context, warm_shared_prefix
from medboard.agents.specialist import Specialist, SpecialistOutput
from medboard.llm.errors import ModelCallError
from medboard.models import Fact, Finding
from medboard.models.sections import BOARD_BY_KIND, BUILTIN_BY_KIND, SectionKind

log = logging.getLogger(__name__)


class EhrAgent(Specialist):
    agent_name = AGENT
    sections = (
        BUILTIN_BY_KIND[SectionKind.patient],
        BUILTIN_BY_KIND[SectionKind.oncologic_history],
        BUILTIN_BY_KIND[SectionKind.current_status],
        BUILTIN_BY_KIND[SectionKind.labs_and_trends],
        BUILTIN_BY_KIND[SectionKind.medications],
        BOARD_BY_KIND[SectionKind.history],  # smoking and family history (`history.py`)
    )
    description_text = "Turns the FHIR record into cited findings; reads notes with MedGemma."

    async def analyse(self) -> SpecialistOutput:
        record = self.context.record
        findings = ehr_findings(record, self.context.picture)
        caller = self.context.caller
        if caller is None:
            return SpecialistOutput(findings=findings)
        sources = free_texts(record.facts)
        if not sources:
            return SpecialistOutput(findings=findings)
        context_text = build_case_context(record, question=self.context.case.question)
        if len(sources) > 1:
            await warm_shared_prefix(caller, context_text, agent=self.name)
        results = await asyncio.gather(
            *(self._read(context_text, source) for source in sources), return_exceptions=True
        )
        failures = []
        for source, result in zip(sources, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, ModelCallError):
                raise result  # a bug or a cassette miss must surface, not degrade quietly
            if isinstance(result, ModelCallError):
                failures.append(f"{source.id}: {result.reason[:200] or result.kind}")
            else:
                findings.extend(result)
        degraded = f"reading free text failed for {len(failures)} of {len(sources)}: " + "; ".join(failures)
        return SpecialistOutput(findings=findings, degraded_reason=degraded if failures else None)

    async def _read(self, context_text: str, source: Fact) -> list[Finding]:
        return await read_text(self.context.caller, context_text, source, agent=self.name)
