"""The longitudinal comparer: what changed, with numbers it can prove.

Its deterministic core (`medboard.tools.longitudinal`) computes lab and marker trends, PSA
kinetics, RECIST 1.1 responses and the treatment timeline, every finding citing every
measurement it used. Prior versus current imaging (`imaging_compare`): studies of the same
modality and body site are paired by date; their reports and mask measurements are compared
deterministically (RECIST from masks at two or more time points), and with a vision model the
two pictures go to MedGemma in the longitudinal recipe (prior image, current image, then the
text). Without a model the deterministic comparison stands alone.
"""

from __future__ import annotations

import asyncio
import logging

from medboard.agents.base import SpecialistAgent, SpecialistOutput
from medboard.agents.imaging_compare import (
    ImagingPair,
    change_findings,
    change_schema,
    comparison_layout,
    deterministic_comparisons,
    imaging_pairs,
    imaging_timepoints,
)
from medboard.errors import MedboardInputError
from medboard.llm.errors import ModelCallError
from medboard.models import FactKind, Finding
from medboard.tools.longitudinal.findings import AGENT, longitudinal_findings

log = logging.getLogger(__name__)

COMPARE_SYSTEM = (
    "You are the longitudinal imaging comparer inside medboard, a tool that prepares cross-checked "
    "case summaries for clinicians. You are not a diagnostic device and you never recommend "
    "treatment. Describe only what changed between the two images. Answer with JSON that matches "
    "the schema you are given."
)


class LongitudinalAgent(SpecialistAgent):
    agent_name = AGENT
    description_text = (
        "Trends, tumour-marker kinetics, RECIST response, the treatment timeline, prior vs current imaging."
    )

    async def analyse(self) -> SpecialistOutput:
        # Pure CPU work on the record: run it off the event loop so other specialists' model calls
        # keep flowing meanwhile.
        findings = await asyncio.to_thread(longitudinal_findings, self.context.record)
        problems: list[str] = []
        if self.context.case.images or self.context.record.facts_of(FactKind.imaging_study):
            pairs = await self._imaging_pairs()
            findings += deterministic_comparisons(pairs)
            if self.context.caller is not None and pairs:
                read, problems = await self.compare_with_model(pairs)
                findings += read
        return SpecialistOutput(findings=findings, degraded_reason="; ".join(problems) or None)

    async def _imaging_pairs(self) -> list[ImagingPair]:
        from medboard.agents.imaging_core import case_images

        images = await case_images(self.context)  # shared with the imaging reader: loaded once
        return imaging_pairs(imaging_timepoints(self.context.record.facts, images))

    async def compare_with_model(self, pairs: list[ImagingPair]) -> tuple[list[Finding], list[str]]:
        """One longitudinal-recipe request per pair with a prior and a current picture."""
        from medboard.agents.imaging import endpoint_limits

        pictured = [p for p in pairs if p.prior.picture is not None and p.current.picture is not None]
        if not pictured:
            return [], []
        endpoint = getattr(self.context.caller, "endpoint", None)
        if endpoint is not None and not endpoint.vision:
            self.context.warnings.append(
                f"longitudinal: prior and current images not compared by the model: endpoint "
                f"{endpoint.model} is text-only (vision disabled); the comparison is deterministic only"
            )
            return [], []
        limits = endpoint_limits(endpoint) if endpoint is not None else None
        results = await asyncio.gather(*(self._compare(p, limits) for p in pictured), return_exceptions=True)
        findings: list[Finding] = []
        problems: list[str] = []
        for pair, result in zip(pictured, results, strict=True):
            what = f"prior/current {pair.current.label} ({pair.prior.date} vs {pair.current.date})"
            if isinstance(result, ModelCallError):
                problems.append(f"model comparison of {what} failed: {result.reason[:200]}")
            elif isinstance(result, MedboardInputError):  # e.g. two images over the endpoint's limit
                problems.append(f"{what} not sent to the model: {result.problem[:200]}")
            elif isinstance(result, BaseException):
                raise result  # a bug or a cassette miss must surface
            else:
                findings.extend(result)
        return findings, problems

    async def _compare(self, pair: ImagingPair, limits: object) -> list[Finding]:
        from autogen_core.models import SystemMessage, UserMessage

        caller = self.context.caller
        assert caller is not None
        layout = await asyncio.to_thread(comparison_layout, pair, limits)  # type: ignore[arg-type]
        if layout is None:
            return []
        result = await caller.structured(
            messages=[
                SystemMessage(content=COMPARE_SYSTEM),
                UserMessage(content=layout.to_autogen_content(), source="medboard"),
            ],
            schema=change_schema(),
            agent=self.name,
            purpose=f"compare prior/current {pair.current.modality}",
        )
        return change_findings(result.value, layout, pair)
