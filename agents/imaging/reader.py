"""The imaging reader's model layer: one schema-bound MedGemma request per image series.

Each series is laid out by its recipe (`medboard.tools.imaging.layouts`: CT/MRI instruction, each
slice then ``SLICE i``, question last; pathology prompt first, then patches; X-ray and other
pictures text then image), within the endpoint's context and images-per-prompt limits. The answer
names the ``SLICE`` label each finding is seen on (bounded to the labels actually sent) and
optionally a box ``[y0, x0, y1, x1]`` on 0–1000 of that model image; labels map back to series
frames and boxes back to source pixels (`medboard.agents.imaging.core.map_box`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from medboard.agents.images import CaseImage
from medboard.agents.imaging.core import AGENT, TAGS
from medboard.agents.imaging.prompts import ANSWER_FORMAT, READ_SYSTEM
from medboard.llm.content import layout_messages
from medboard.models import EvidenceRef, Finding, FindingCategory, SectionKind
from medboard.tools.imaging.boxes import map_box

if TYPE_CHECKING:
    from medboard.tools.imaging import EndpointLimits, RequestLayout

log = logging.getLogger(__name__)

MAX_FINDINGS = 8
BoxCoord = Annotated[int, Field(ge=0, le=1000)]


class _ReadingFindingBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=300, description="The finding, in one sentence.")
    box: Annotated[list[BoxCoord], Field(min_length=4, max_length=4)] | None = Field(
        default=None, description="[y0, x0, y1, x1] on 0-1000 of that image, or null."
    )
    laterality: Literal["left", "right", "bilateral"] | None = None


def reading_schema(labels: int) -> type[BaseModel]:
    """``ImagingReading``: findings whose ``slice`` is bounded to the ``labels`` images sent."""
    item = create_model(
        "ImagingReadingFinding",
        __base__=_ReadingFindingBase,
        slice=(int, Field(ge=1, le=max(1, labels), description="SLICE label (1-based image position).")),
    )
    # `findings` required, extras forbidden: `{"foo": 1}` is a schema violation, not "nothing seen".
    return create_model(
        "ImagingReading",
        __config__=ConfigDict(extra="forbid"),
        findings=(list[item], Field(max_length=MAX_FINDINGS)),  # type: ignore[valid-type]
    )


def request_layout(image: CaseImage, limits: EndpointLimits | None) -> RequestLayout:
    """The image's request in its recipe's order, within ``limits`` (volumes/patches down-sampled)."""
    from medboard.tools.imaging.layouts import DEFAULT_TEXT, build_layout

    recipe = image.recipe
    options: dict[str, Any] = {"limits": limits}
    if recipe in ("ct", "mri", "wsi"):
        options["on_overflow"] = "downsample"
    if recipe == "wsi":
        options["tissue"] = image.series.body_part
        options["question"] = (
            f"{DEFAULT_TEXT['wsi'][1]} Patches are numbered from 1 in order. {ANSWER_FORMAT}"
        )
    else:
        options["question"] = f"{DEFAULT_TEXT[recipe][1]} {ANSWER_FORMAT}"
    if recipe in ("cxr", "image"):
        options["frame"] = image.middle_frame
    return build_layout(recipe, image.series, **options)


def reading_findings(reading: Any, layout: RequestLayout, image: CaseImage) -> list[Finding]:
    """Schema-bound model findings → `Finding`s citing the frame behind each SLICE label."""
    findings = []
    count = len(layout.images)
    for item in reading.findings:
        notes = list(layout.notes)
        if not 1 <= item.slice <= count:  # the schema bounds it; a replayed answer might not
            log.info("imaging: model finding with slice label outside 1..%d dropped", count)
            continue
        part = layout.image_for_label(item.slice)
        box = None
        if item.box is not None:
            box, note = map_box(part, item.box)
            notes.append(note)
        notes.append(f"seen on SLICE {item.slice} of {count} = series frame {part.frame}")
        origins = image.series.patch_origins
        if origins and part.frame < len(origins):  # pathology: where the patch lies in the tile
            y, x = origins[part.frame]
            notes.append(f"patch {part.frame} starts at (row {y}, column {x}) px of the source tile")
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.imaging,
                text=item.text.strip(),
                evidence=[EvidenceRef(reference=part.ref, box=box)],
                method="model",
                date=image.date,
                laterality=item.laterality,
                confidence=0.5,
                notes=notes,
                section=SectionKind.imaging,
                tags=[*TAGS, "from-image"],
            )
        )
    return findings


_BOX_KEYS = ("box_2d", "box", "bbox")
_LABEL_KEYS = ("label", "text", "finding")


def parse_localisation(answer: str) -> tuple[list[tuple[str, tuple[int, int, int, int]]], list[str]]:
    """Boxes from a schema-free localisation answer: a ```json list of ``{"box_2d": [y0, x0, y1, x1],
    "label": ...}`` on 0–1000 (MedGemma's / Gemma's convention), thinking spans and fences removed.

    Returns ``(label, box)`` pairs and, for every item left out, why (never silently dropped). The
    boxes are on the padded model image: map them with `map_box` and the `ImagePart` they refer to.
    """
    import json

    from medboard.llm.parsing import clean_answer, load_json

    try:
        data = load_json(clean_answer(answer))
    except json.JSONDecodeError as error:
        return [], [f"no JSON box list in the answer ({error.msg})"]
    items = data if isinstance(data, list) else [data]
    boxes: list[tuple[str, tuple[int, int, int, int]]] = []
    skipped: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append(f"item {index}: not an object")
            continue
        raw = next((item[k] for k in _BOX_KEYS if k in item), None)
        label = next((str(item[k]).strip() for k in _LABEL_KEYS if item.get(k)), "")
        if not (isinstance(raw, list) and len(raw) == 4 and all(isinstance(v, int | float) for v in raw)):
            skipped.append(f"item {index}: no [y0, x0, y1, x1] box")
            continue
        y0, x0, y1, x1 = (round(float(v)) for v in raw)
        if not all(0 <= v <= 1000 for v in (y0, x0, y1, x1)) or y0 > y1 or x0 > x1:
            skipped.append(f"item {index}: box {raw} is not ordered within 0–1000")
            continue
        boxes.append((label, (y0, x0, y1, x1)))
    return boxes, skipped


async def read_image(
    caller: Any, image: CaseImage, limits: EndpointLimits | None, *, agent: str = AGENT
) -> tuple[list[str], list[Finding]]:
    """Read one series with the model: the layout's notes and the findings, citing frames."""
    import asyncio

    layout = await asyncio.to_thread(request_layout, image, limits)
    result = await caller.structured(
        messages=layout_messages(READ_SYSTEM, layout),
        schema=reading_schema(len(layout.images)),
        agent=agent,
        purpose=f"read {layout.recipe} image {image.index + 1}",
    )
    return list(layout.notes), reading_findings(result.value, layout, image)
