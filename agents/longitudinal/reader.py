"""The longitudinal comparer's model layer: prior and current pictures in one MedGemma request.

MedGemma's longitudinal recipe: prior image, current image, then the text
(`cxr_layout(current, prior=prior)`); the answer is schema-bound change findings citing both frames,
a box mapped back to the current frame. Volumes have no longitudinal recipe, so their change is
measured (`compare.py`), not model-read.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.agents.longitudinal.compare import AGENT, MAX_CHANGES, TAGS, BoxCoord, ImagingPair
from medboard.agents.longitudinal.prompts import COMPARE_QUESTION, COMPARE_SYSTEM
from medboard.llm.content import layout_messages
from medboard.models import EvidenceRef, Finding, FindingCategory, SectionKind
from medboard.tools.imaging.boxes import map_box

if TYPE_CHECKING:
    from medboard.tools.imaging import EndpointLimits, RequestLayout


class ImagingChangeItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=300, description="The change, in one sentence.")
    change: Literal["new", "resolved", "improved", "worsened", "unchanged"]
    box: Annotated[list[BoxCoord], Field(min_length=4, max_length=4)] | None = Field(
        default=None, description="[y0, x0, y1, x1] on 0-1000 of the CURRENT image, or null."
    )
    laterality: Literal["left", "right", "bilateral"] | None = None


class ImagingChange(BaseModel):
    """The longitudinal answer: at most 6 changes, prior → current (required: `[]` = no change seen)."""

    model_config = ConfigDict(extra="forbid")

    changes: list[ImagingChangeItem] = Field(max_length=MAX_CHANGES)


def change_schema() -> type[BaseModel]:
    return ImagingChange


def comparison_layout(pair: ImagingPair, limits: EndpointLimits | None) -> RequestLayout | None:
    """Prior image, current image, then the text (MedGemma's longitudinal recipe); None for volumes."""
    from medboard.tools.imaging import cxr_layout

    prior, current = pair.prior.picture, pair.current.picture
    if prior is None or current is None:
        return None
    return cxr_layout(
        current.series,
        prior=prior.series,
        frame=current.middle_frame,
        prior_frame=prior.middle_frame,
        instruction=(
            f"The first image is the prior {pair.current.label} image ({pair.prior.date}), the second "
            f"the current one ({pair.current.date})."
        ),
        question=COMPARE_QUESTION,
        limits=limits,
    )


def change_findings(answer: Any, layout: RequestLayout, pair: ImagingPair) -> list[Finding]:
    """Model change items → findings citing both frames (the box on the current frame)."""
    prior_part, current_part = layout.images[0], layout.images[1]
    findings = []
    for item in answer.changes:
        notes = [
            f"prior {pair.prior.date} vs current {pair.current.date}; change: {item.change}",
            *layout.notes,
        ]
        box = None
        if item.box is not None:
            box, note = map_box(current_part, item.box)
            notes.append(note)
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.imaging,
                text=item.text.strip(),
                evidence=[
                    EvidenceRef(reference=prior_part.ref),
                    EvidenceRef(reference=current_part.ref, box=box),
                ],
                method="model",
                date=pair.current.date,
                laterality=item.laterality,
                confidence=0.5,
                notes=notes,
                section=SectionKind.imaging,
                tags=[*TAGS, "from-image", item.change],
            )
        )
    return findings


async def compare_pair(
    caller: Any, pair: ImagingPair, limits: EndpointLimits | None, *, agent: str = AGENT
) -> list[Finding]:
    """One longitudinal-recipe request for a pictured pair; [] when the pair has no recipe."""
    layout = await asyncio.to_thread(comparison_layout, pair, limits)
    if layout is None:
        return []
    result = await caller.structured(
        messages=layout_messages(COMPARE_SYSTEM, layout),
        schema=change_schema(),
        agent=agent,
        purpose=f"compare prior/current {pair.current.modality}",
    )
    return change_findings(result.value, layout, pair)
