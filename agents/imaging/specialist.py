"""The imaging reader specialist.

Deterministic core (`core.py`, always): the case images (`medboard.agents.images`, loaded once)
described, radiology report conclusions quoted, record-only imaging studies listed, mask
measurements. Model layer (`reader.py`, when the case has a model whose endpoint accepts images):
per image series one single-turn, schema-bound MedGemma request laid out by the series' recipe,
within the endpoint's context and images-per-prompt limits; its findings cite the frames behind
the ``SLICE`` labels, boxes mapped back to the source frame.

A text-only endpoint (`ModelEndpoint.vision` false, e.g. the local 270M smoke model) skips the
model reading with a run warning; a failed model call or an over-budget series degrades the
imaging section with the reason; the deterministic findings always stay.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from medboard.agents.images import CaseImage, CaseImages, case_images
from medboard.agents.imaging.core import (
    AGENT,
    deterministic_findings,
    image_problems,
    is_radiology_report,
)
from medboard.agents.imaging.reader import read_image
from medboard.agents.specialist import Specialist, SpecialistOutput
from medboard.errors import MedboardInputError
from medboard.llm.errors import ModelCallError
from medboard.models import FactKind, Finding, SectionKind
from medboard.models.sections import BUILTIN_BY_KIND
from medboard.tools.imaging.budget import endpoint_limits

if TYPE_CHECKING:
    from medboard.tools.imaging import EndpointLimits

log = logging.getLogger(__name__)


def _reason(error: BaseException) -> str:
    text = getattr(error, "reason", None) or getattr(error, "problem", None) or str(error)
    return (text or type(error).__name__)[:200]


class ImagingAgent(Specialist):
    agent_name = AGENT
    sections = (BUILTIN_BY_KIND[SectionKind.imaging],)
    description_text = "Describes the case's images and radiology reports; reads images with MedGemma."

    async def analyse(self) -> SpecialistOutput:
        record = self.context.record
        has_studies = bool(record.facts_of(FactKind.imaging_study))
        has_reports = any(is_radiology_report(f) for f in record.facts_of(FactKind.report))
        if not self.context.case.images and not has_studies and not has_reports:
            return SpecialistOutput(
                skipped_reason="no images, imaging studies or radiology reports in this case"
            )
        images = await case_images(self.context)
        findings = deterministic_findings(record.facts, images)
        problems = image_problems(images)
        if self.context.caller is not None and images.images:
            read, failed = await self.read_with_model(images)
            findings.extend(read)
            problems.extend(failed)
        return SpecialistOutput(findings=findings, degraded_reason="; ".join(problems) or None)

    def _skip_model(self) -> str | None:
        endpoint = getattr(self.context.caller, "endpoint", None)
        if endpoint is None:
            return None
        if not endpoint.vision:
            return f"endpoint {endpoint.model} is text-only (vision disabled)"
        if endpoint.images_per_prompt < 1:
            return f"endpoint {endpoint.model} accepts no images per prompt"
        return None

    async def read_with_model(self, images: CaseImages) -> tuple[list[Finding], list[str]]:
        """One request per series; returns model findings and the failures that degrade the section."""
        skip = self._skip_model()
        if skip:
            self.context.warnings.append(
                f"imaging: images not read by the model: {skip}; imaging findings are deterministic only"
            )
            return [], []
        endpoint = getattr(self.context.caller, "endpoint", None)
        limits = endpoint_limits(endpoint) if endpoint is not None else None
        results = await asyncio.gather(
            *(self._read(image, limits) for image in images.images), return_exceptions=True
        )
        findings: list[Finding] = []
        problems: list[str] = []
        for image, result in zip(images.images, results, strict=True):
            name = image.series.id
            if isinstance(result, ModelCallError):
                problems.append(f"model reading of {name} failed: {_reason(result)}")
            elif isinstance(result, MedboardInputError):  # over budget, recipe does not fit the image
                problems.append(f"{name} not sent to the model: {_reason(result)}")
            elif isinstance(result, BaseException):
                raise result  # a bug or a cassette miss must surface, not degrade quietly
            else:
                layout_notes, read = result
                findings.extend(read)
                self.context.warnings.extend(f"imaging: {name}: {note}" for note in layout_notes)
        return findings, problems

    async def _read(self, image: CaseImage, limits: EndpointLimits | None) -> tuple[list[str], list[Finding]]:
        return await read_image(self.context.caller, image, limits, agent=self.name)
