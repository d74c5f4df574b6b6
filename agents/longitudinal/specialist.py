"""The longitudinal comparer: what changed, with numbers it can prove.

Its deterministic core (`core.py`, `lines.py`, over `medboard.tools.longitudinal`) reads the case's
clinical picture: lab and marker trends per comparable unit, kinetics of each cancer's own markers,
RECIST 1.1 responses and each cancer's lines of therapy with their status at the case date, every
finding citing every measurement it used. Prior versus current imaging (`compare.py`, `reader.py`):
studies of the same modality and body site are paired by date; their reports and mask measurements
are compared deterministically (RECIST from masks at two or more time points), and with a vision
model the two pictures go to MedGemma in the longitudinal recipe (prior image, current image, then
the text). Without a model the deterministic comparison stands alone.
"""

from __future__ import annotations

import asyncio
import logging

from medboard.agents.images import case_images
from medboard.agents.longitudinal.compare import (
    ImagingPair,
    deterministic_comparisons,
    imaging_pairs,
    imaging_timepoints,
)
from medboard.agents.longitudinal.core import AGENT, longitudinal_findings
from medboard.agents.longitudinal.reader import compare_pair
from medboard.agents.specialist import Specialist, SpecialistOutput
from medboard.errors import MedboardInputError
from medboard.llm.errors import ModelCallError
from medboard.models import FactKind, Finding
from medboard.models.sections import BUILTIN_BY_KIND, SectionKind
from medboard.tools.imaging.budget import EndpointLimits, endpoint_limits

log = logging.getLogger(__name__)


class LongitudinalAgent(Specialist):
    agent_name = AGENT
    sections = (
        BUILTIN_BY_KIND[SectionKind.labs_and_trends],
        BUILTIN_BY_KIND[SectionKind.current_status],
        BUILTIN_BY_KIND[SectionKind.oncologic_history],
        BUILTIN_BY_KIND[SectionKind.imaging],
    )
    description_text = (
        "Trends, tumour-marker kinetics, RECIST response, the treatment timeline, prior vs current imaging."
    )

    async def analyse(self) -> SpecialistOutput:
        # Pure CPU work on the record: run it off the event loop so other specialists' model calls
        # keep flowing meanwhile.
        # The case's picture (built at the case date, shared with every agent): lines, their
        # status and the lab series are what it reconciled, not a second reading of the facts.
        findings = await asyncio.to_thread(longitudinal_findings, self.context.record, self.context.picture)
        problems: list[str] = []
        if self.context.case.images or self.context.record.facts_of(FactKind.imaging_study):
            pairs = await self._imaging_pairs()
            findings += deterministic_comparisons(pairs)
            if self.context.caller is not None and pairs:
                read, problems = await self.compare_with_model(pairs)
                findings += read
        return SpecialistOutput(findings=findings, degraded_reason="; ".join(problems) or None)

    async def _imaging_pairs(self) -> list[ImagingPair]:
        images = await case_images(self.context)  # shared with the imaging reader: loaded once
        return imaging_pairs(imaging_timepoints(self.context.record.facts, images))

    async def compare_with_model(self, pairs: list[ImagingPair]) -> tuple[list[Finding], list[str]]:
        """One longitudinal-recipe request per pair with a prior and a current picture."""
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

    async def _compare(self, pair: ImagingPair, limits: EndpointLimits | None) -> list[Finding]:
        return await compare_pair(self.context.caller, pair, limits, agent=self.name)
