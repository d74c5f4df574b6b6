"""The imaging reader specialist.

Deterministic core (`imaging_core`, always): the case images loaded once and described, radiology
report conclusions quoted, record-only imaging studies listed, mask measurements. Model layer (when
the case has a model whose endpoint accepts images): per image series one single-turn MedGemma
request laid out by the series' recipe (`medboard.tools.imaging.layouts`: CT/MRI instruction, each
slice then ``SLICE i``, question last; pathology prompt first, then patches; X-ray and other
pictures text then image), checked against the endpoint's context and images-per-prompt limits
(too many slices: fewer, sampled evenly, and the findings say so). The answer is schema-bound:
at most 8 findings, each naming the ``SLICE`` label it is seen on (bounded to the labels actually
sent) and optionally a box ``[y0, x0, y1, x1]`` on 0–1000 of that model image. Labels map back to
series frames through `RequestLayout.image_for_label`, boxes back to source pixels through the
frame's letterbox; evidence is ``image:<series>#frame=<i>`` with the box normalised on the source
frame (see `imaging_core`).

A text-only endpoint (`ModelEndpoint.vision` false, e.g. the local 270M smoke model) skips the
model reading with a run warning; a failed model call or an over-budget series degrades the
imaging section with the reason; the deterministic findings always stay.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from medboard.agents.base import SpecialistAgent, SpecialistOutput
from medboard.agents.imaging_core import (
    AGENT,
    TAGS,
    CaseImage,
    CaseImages,
    case_images,
    deterministic_findings,
    image_problems,
    is_radiology_report,
    map_box,
)
from medboard.errors import MedboardInputError
from medboard.llm.errors import ModelCallError
from medboard.models import EvidenceRef, FactKind, Finding, FindingCategory

if TYPE_CHECKING:
    from medboard.tools.imaging import EndpointLimits, ImageSeries, RequestLayout

log = logging.getLogger(__name__)

MAX_FINDINGS = 8
BoxCoord = Annotated[int, Field(ge=0, le=1000)]

READ_SYSTEM = (
    "You are the imaging reader inside medboard, a tool that prepares cross-checked case summaries "
    "for clinicians. You are not a diagnostic device and you never recommend treatment. Describe "
    "only what the images show. Answer with JSON that matches the schema you are given."
)
ANSWER_FORMAT = (
    "Answer in JSON with up to 8 findings. For each: `text` (one sentence), `slice` (the label of "
    "the image it is best seen on: the SLICE number, or the image's position counting from 1), "
    "`box` ([y0, x0, y1, x1] normalised to 0-1000 on that image, or null) and `laterality` "
    "(left, right, bilateral or null)."
)


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


def endpoint_limits(endpoint: Any) -> EndpointLimits:
    """The image budget of a `ModelEndpoint` (server --max-model-len, --limit-mm-per-prompt)."""
    from medboard.tools.imaging import EndpointLimits

    context = int(endpoint.context_length)
    return EndpointLimits(
        max_model_len=context,
        max_images=int(endpoint.images_per_prompt),
        reserve_output=min(int(endpoint.max_tokens), context // 2),
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


def _reason(error: BaseException) -> str:
    text = getattr(error, "reason", None) or getattr(error, "problem", None) or str(error)
    return (text or type(error).__name__)[:200]


class ImagingAgent(SpecialistAgent):
    agent_name = AGENT
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
        from autogen_core.models import SystemMessage, UserMessage

        caller = self.context.caller
        assert caller is not None
        layout = await asyncio.to_thread(request_layout, image, limits)
        messages = [
            SystemMessage(content=READ_SYSTEM),
            UserMessage(content=layout.to_autogen_content(), source="medboard"),
        ]
        result = await caller.structured(
            messages=messages,
            schema=reading_schema(len(layout.images)),
            agent=self.name,
            purpose=f"read {layout.recipe} image {image.index + 1}",
        )
        return list(layout.notes), reading_findings(result.value, layout, image)


# ------------------------------------------------------------------------------------ overlays


def display_frame(series: ImageSeries, frame: int) -> Any:
    """A frame as the report shows it: CT in the three windows the model saw, others 8-bit."""
    from medboard.tools.imaging import ct_rgb, minmax_u8

    pixels = series.frame(frame)
    if series.units == "HU":
        return ct_rgb(pixels)
    return pixels if series.units == "uint8" else minmax_u8(pixels)


def save_overlays(
    findings: Iterable[Finding], series: Mapping[str, ImageSeries], out_dir: str | Path
) -> list[Path]:
    """Key frames with every boxed finding drawn (PNG, one per frame), for the report.

    Boxes are read as `EvidenceRef.box` on the source frame (0–1000) and drawn on the source pixels.
    """
    from medboard.agents.imaging_core import box_pixels
    from medboard.tools.imaging import Box, save_overlay
    from medboard.tools.imaging.frames import square_transform

    frames: dict[tuple[str, int], list[Box]] = defaultdict(list)
    for number, finding in enumerate(findings, start=1):
        for ref in finding.evidence:
            if ref.box is None or ref.series is None or ref.series not in series or ref.frame is None:
                continue
            shape = series[ref.series].shape
            transform = square_transform(shape[1], shape[2])
            padded = transform.source_to_box(box_pixels(ref.box, shape[1], shape[2]))
            frames[(ref.series, ref.frame)].append(Box(padded, label=str(number)))
    written = []
    for (series_id, frame), boxes in sorted(frames.items()):
        path = Path(out_dir) / f"{series_id}-frame{frame}.png"
        written.append(save_overlay(display_frame(series[series_id], frame), boxes, path))
    return written
