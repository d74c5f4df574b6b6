"""Request layouts: the ordered message parts of one single-turn MedGemma request, per recipe.

The imaging reader agent only has to send a layout (`RequestLayout.to_openai_content()`); every
ordering rule of ARCHITECTURE.md "MedGemma imaging recipes" lives here, tested on real images:

* ``ct`` / ``mri``: instruction, then each sampled slice followed by the text ``SLICE i``
  (1-based position in the sample), the question LAST — otherwise MedGemma falls back to an
  X-ray-style report. CT slices are three-window RGB; MRI slices per-volume min–max.
* ``cxr``: single image: instruction + question, then the image (the MedGemma quick-start order);
  longitudinal: prior image, current image, then the text.
* ``wsi``: prompt naming tissue and procedure first, then the tissue patches.
* ``image`` (fundus, dermatology, any 2D picture): text, then the image.

Each `ImagePart` carries its evidence locator ``image:<series>#frame=<i>`` (``i`` = the frame's
index in the series, not its position in the sample) and the `Letterbox` transform that maps
model boxes back to source pixels. Budgets (`budget.EndpointLimits`) are checked while building:
too many images is an error, or with ``on_overflow="downsample"`` fewer frames, sampled evenly
and recorded in ``notes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from medboard.errors import ImageInputError
from medboard.models.evidence import image_ref
from medboard.tools.imaging.budget import (
    EndpointLimits,
    ImageBudgetError,
    check_budget,
    estimate_text_tokens,
    max_images_that_fit,
)
from medboard.tools.imaging.frames import (
    MAX_SLICES,
    MODEL_SIZE,
    ImageFormat,
    Letterbox,
    ct_rgb,
    data_uri,
    encode_image,
    letterbox,
    minmax_u8,
    sample_indices,
)
from medboard.tools.imaging.patches import MAX_PATCHES
from medboard.tools.imaging.series import ImageSeries

Recipe = Literal["ct", "mri", "cxr", "wsi", "image"]
RECIPES: tuple[str, ...] = ("ct", "mri", "cxr", "wsi", "image")
Overflow = Literal["error", "downsample"]

DEFAULT_TEXT: dict[str, tuple[str, str]] = {
    "ct": (
        "You are reviewing a CT series. The slices below are axial, in order along the body, each "
        "shown with three windows as RGB (red: wide, green: soft tissue, blue: brain) and followed "
        "by its label.",
        "Based on the slices above, describe the key findings, citing slice labels, and give an "
        "impression. Do not recommend treatment.",
    ),
    "mri": (
        "You are reviewing an MRI series. The slices below are in order along the body, each "
        "followed by its label.",
        "Based on the slices above, describe the key findings, citing slice labels, and give an "
        "impression. Do not recommend treatment.",
    ),
    "cxr": (
        "You are reviewing a chest X-ray.",
        "Describe the findings and give an impression. Do not recommend treatment.",
    ),
    "cxr_longitudinal": (
        "The first image is the prior chest X-ray, the second the current one.",
        "Compare the current chest X-ray with the prior: what is new, resolved or unchanged?",
    ),
    "wsi": (
        "You are reviewing patches of a histopathology slide.",
        "Describe the histologic findings in these patches. Do not recommend treatment.",
    ),
    "image": ("You are reviewing a medical image.", "Describe the findings."),
}


@dataclass(frozen=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class ImagePart:
    """One model image (896 × 896 RGB) and where it came from."""

    image: Any = field(repr=False)  # PIL.Image.Image
    series: str
    frame: int
    transform: Letterbox
    role: str = "frame"  # "slice", "patch", "prior", "current", "image"
    type: Literal["image"] = "image"

    @property
    def ref(self) -> str:
        return image_ref(self.series, self.frame)

    def encode(self, fmt: ImageFormat = "png") -> bytes:
        return encode_image(self.image, fmt)

    def data_uri(self, fmt: ImageFormat = "png") -> str:
        return data_uri(self.encode(fmt), fmt)

    def box_to_source(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """A model box ``[y0, x0, y1, x1]`` (0–1000) → source-frame pixel coordinates."""
        return self.transform.box_to_source(box)


Part = TextPart | ImagePart


@dataclass
class RequestLayout:
    recipe: str
    parts: list[Part]
    prompt_tokens: int
    notes: list[str] = field(default_factory=list)

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]

    def image_for_label(self, position: int) -> ImagePart:
        """The image shown as ``SLICE <position>`` (1-based), for mapping answers back to frames."""
        return self.images[position - 1]

    def to_openai_content(self, fmt: ImageFormat = "png") -> list[dict[str, Any]]:
        """The user message's content list for an OpenAI-compatible chat endpoint (vLLM)."""
        out: list[dict[str, Any]] = []
        for part in self.parts:
            if isinstance(part, TextPart):
                out.append({"type": "text", "text": part.text})
            else:
                out.append({"type": "image_url", "image_url": {"url": part.data_uri(fmt)}})
        return out

    def describe(self, frame_files: Sequence[str] | None = None) -> dict[str, Any]:
        """JSON-ready description of the layout (what `medboard image frames` writes)."""
        parts: list[dict[str, Any]] = []
        files = iter(frame_files or [])
        for part in self.parts:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            else:
                parts.append(
                    {
                        "type": "image",
                        "role": part.role,
                        "evidence": part.ref,
                        "frame": part.frame,
                        "file": next(files, None),
                        "size": list(part.image.size),
                        "source_shape": list(part.transform.source),
                        "pad": list(part.transform.pad),
                    }
                )
        return {
            "recipe": self.recipe,
            "image_count": len(self.images),
            "prompt_tokens_estimate": self.prompt_tokens,
            "notes": list(self.notes),
            "parts": parts,
        }


def _fit(
    wanted: int,
    text: str,
    limits: EndpointLimits | None,
    on_overflow: Overflow,
    what: str,
    notes: list[str],
    per_image_text: int = 0,
) -> int:
    """How many images to use: ``wanted``, or fewer when allowed and the budget demands it."""
    if limits is None:
        return wanted
    text_tokens = estimate_text_tokens(text) + per_image_text * wanted
    try:
        check_budget(wanted, text_tokens, limits, what=what)
        return wanted
    except ImageBudgetError:
        if on_overflow != "downsample":
            raise
    fit = max_images_that_fit(
        estimate_text_tokens(text),
        limits.__class__(
            max_model_len=limits.max_model_len,
            max_images=limits.max_images,
            reserve_output=limits.reserve_output,
            overhead_per_image=limits.overhead_per_image + per_image_text,
        ),
    )
    if fit < 1:
        raise ImageBudgetError(f"{what}: not even one image fits the endpoint's limits")
    notes.append(f"{what}: {wanted} images do not fit the endpoint limits; {fit} sampled evenly instead")
    return fit


def _require_volume(series: ImageSeries, recipe: str) -> None:
    if not series.is_volume:
        raise ImageInputError(
            f"the {recipe} recipe needs a volume (a series of slices); this is "
            f"{'an image' if series.kind == 'image' else series.kind} of shape {series.shape}",
            source=series.source,
        )


def _volume_layout(
    series: ImageSeries,
    recipe: Recipe,
    instruction: str,
    question: str,
    max_slices: int,
    limits: EndpointLimits | None,
    on_overflow: Overflow,
    frame_fn: Any,
) -> RequestLayout:
    notes: list[str] = []
    wanted = min(series.frame_count, max_slices)
    count = _fit(
        wanted,
        instruction + question,
        limits,
        on_overflow,
        f"{recipe} series {series.id}",
        notes,
        per_image_text=estimate_text_tokens("SLICE 100") + 1,
    )
    indices = sample_indices(series.frame_count, count)
    rgb_frames = frame_fn(series, indices)
    parts: list[Part] = [TextPart(instruction)]
    for position, (index, rgb) in enumerate(zip(indices, rgb_frames, strict=True), start=1):
        image, transform = letterbox(rgb)
        parts.append(ImagePart(image=image, series=series.id, frame=index, transform=transform, role="slice"))
        parts.append(TextPart(f"SLICE {position}"))
    parts.append(TextPart(question))
    if series.frame_count > count:
        notes.append(f"{count} of {series.frame_count} slices sampled uniformly")
    text_tokens = sum(estimate_text_tokens(p.text) for p in parts if isinstance(p, TextPart))
    tokens = (
        check_budget(len(indices), text_tokens, limits, what=recipe)
        if limits
        else len(indices) * 256 + text_tokens
    )
    return RequestLayout(recipe=recipe, parts=parts, prompt_tokens=tokens, notes=notes)


#: Slices decoded at a time: memory holds this many source slices, not the whole sample.
CHUNK = 8


def iter_frames(series: ImageSeries, indices: Sequence[int]) -> Iterator[np.ndarray]:
    """The frames at ``indices``, read ``CHUNK`` at a time."""
    for start in range(0, len(indices), CHUNK):
        yield from series.frames(indices[start : start + CHUNK])


def ct_frames(series: ImageSeries, indices: Sequence[int]) -> Iterator[np.ndarray]:
    """Sampled HU slices → three-window RGB uint8 slices, streamed."""
    return (ct_rgb(hu) for hu in iter_frames(series, indices))


def mri_frames(series: ImageSeries, indices: Sequence[int]) -> list[np.ndarray]:
    """Sampled MR slices → 8-bit with one min–max over all of them (the sampled volume)."""
    return list(minmax_u8(series.frames(indices)))


def ct_layout(
    series: ImageSeries,
    *,
    instruction: str | None = None,
    question: str | None = None,
    max_slices: int = MAX_SLICES,
    limits: EndpointLimits | None = None,
    on_overflow: Overflow = "error",
) -> RequestLayout:
    """CT recipe: instruction, (slice, ``SLICE i``) × ≤85, question last."""
    _require_volume(series, "ct")
    if series.units == "uint8":
        raise ImageInputError(
            "the ct recipe needs Hounsfield units; this series is 8-bit", source=series.source
        )
    layout = _volume_layout(
        series,
        "ct",
        instruction or DEFAULT_TEXT["ct"][0],
        question or DEFAULT_TEXT["ct"][1],
        max_slices,
        limits,
        on_overflow,
        ct_frames,
    )
    if series.units != "HU":
        layout.notes.append(
            f"values taken as HU (units {series.units!r}, modality {series.modality or 'unknown'})"
        )
    return layout


def mri_layout(
    series: ImageSeries,
    *,
    instruction: str | None = None,
    question: str | None = None,
    max_slices: int = MAX_SLICES,
    limits: EndpointLimits | None = None,
    on_overflow: Overflow = "error",
) -> RequestLayout:
    """MRI recipe (one acquisition = one series): like CT, slices min–max scaled per volume."""
    _require_volume(series, "mri")
    layout = _volume_layout(
        series,
        "mri",
        instruction or DEFAULT_TEXT["mri"][0],
        question or DEFAULT_TEXT["mri"][1],
        max_slices,
        limits,
        on_overflow,
        mri_frames,
    )
    layout.notes.append("min–max computed over the sampled slices")
    return layout


def _picture(series: ImageSeries, frame: int) -> np.ndarray:
    pixels = series.frame(frame)
    if series.units != "uint8":
        pixels = minmax_u8(pixels)
    return pixels


def _single_image_layout(
    recipe: Recipe,
    series: ImageSeries,
    instruction: str,
    question: str,
    frame: int,
    limits: EndpointLimits | None,
    role: str,
) -> RequestLayout:
    image, transform = letterbox(_picture(series, frame))
    text = f"{instruction}\n{question}"
    tokens = (
        check_budget(1, estimate_text_tokens(text), limits, what=recipe)
        if limits
        else 256 + estimate_text_tokens(text)
    )
    parts: list[Part] = [TextPart(text), ImagePart(image, series.id, frame, transform, role=role)]
    return RequestLayout(recipe=recipe, parts=parts, prompt_tokens=tokens)


def cxr_layout(
    current: ImageSeries,
    *,
    prior: ImageSeries | None = None,
    instruction: str | None = None,
    question: str | None = None,
    frame: int = 0,
    prior_frame: int = 0,
    limits: EndpointLimits | None = None,
) -> RequestLayout:
    """Chest X-ray: single (text, image) or longitudinal (prior image, current image, text)."""
    if prior is None:
        return _single_image_layout(
            "cxr",
            current,
            instruction or DEFAULT_TEXT["cxr"][0],
            question or DEFAULT_TEXT["cxr"][1],
            frame,
            limits,
            "image",
        )
    default_instruction, default_question = DEFAULT_TEXT["cxr_longitudinal"]
    text = f"{instruction or default_instruction}\n{question or default_question}"
    prior_image, prior_tf = letterbox(_picture(prior, prior_frame))
    current_image, current_tf = letterbox(_picture(current, frame))
    tokens = (
        check_budget(2, estimate_text_tokens(text), limits, what="cxr")
        if limits
        else 512 + estimate_text_tokens(text)
    )
    parts: list[Part] = [
        ImagePart(prior_image, prior.id, prior_frame, prior_tf, role="prior"),
        ImagePart(current_image, current.id, frame, current_tf, role="current"),
        TextPart(text),
    ]
    notes = []
    if prior.series_date and current.series_date and prior.series_date > current.series_date:
        notes.append(f"prior ({prior.series_date}) is dated after current ({current.series_date})")
    return RequestLayout(recipe="cxr", parts=parts, prompt_tokens=tokens, notes=notes)


def image_layout(
    series: ImageSeries,
    *,
    instruction: str | None = None,
    question: str | None = None,
    frame: int = 0,
    limits: EndpointLimits | None = None,
) -> RequestLayout:
    """Any single 2D picture (fundus, dermatology, ...): text, then the image."""
    return _single_image_layout(
        "image",
        series,
        instruction or DEFAULT_TEXT["image"][0],
        question or DEFAULT_TEXT["image"][1],
        frame,
        limits,
        "image",
    )


def wsi_layout(
    series: ImageSeries,
    *,
    tissue: str | None = None,
    procedure: str | None = None,
    question: str | None = None,
    max_patches: int = MAX_PATCHES,
    limits: EndpointLimits | None = None,
    on_overflow: Overflow = "error",
) -> RequestLayout:
    """Pathology: prompt (with tissue and procedure) first, then the tissue patches."""
    context = ", ".join(
        f"{name}: {value}" for name, value in (("tissue", tissue), ("procedure", procedure)) if value
    )
    prompt = (
        DEFAULT_TEXT["wsi"][0]
        + (f" ({context})" if context else "")
        + "\n"
        + (question or DEFAULT_TEXT["wsi"][1])
    )
    notes: list[str] = []
    wanted = min(series.frame_count, max_patches)
    count = _fit(wanted, prompt, limits, on_overflow, f"wsi series {series.id}", notes)
    indices = sample_indices(series.frame_count, count)
    parts: list[Part] = [TextPart(prompt)]
    for index, patch in zip(indices, iter_frames(series, indices), strict=True):
        image, transform = letterbox(patch if series.units == "uint8" else minmax_u8(patch))
        parts.append(ImagePart(image, series.id, index, transform, role="patch"))
    tokens = (
        check_budget(len(indices), estimate_text_tokens(prompt), limits, what="wsi")
        if limits
        else (len(indices) * 256 + estimate_text_tokens(prompt))
    )
    return RequestLayout(recipe="wsi", parts=parts, prompt_tokens=tokens, notes=notes)


def build_layout(recipe: str, series: ImageSeries, **options: Any) -> RequestLayout:
    """Dispatch by recipe name (``ct``, ``mri``, ``cxr``, ``wsi``, ``image``)."""
    builders = {
        "ct": ct_layout,
        "mri": mri_layout,
        "cxr": cxr_layout,
        "wsi": wsi_layout,
        "image": image_layout,
    }
    if recipe not in builders:
        raise ImageInputError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    return builders[recipe](series, **options)  # type: ignore[operator]


def default_recipe(series: ImageSeries) -> str:
    """The recipe a series most likely wants, from its modality and kind."""
    if series.kind == "patches":
        return "wsi"
    if series.is_volume:
        return "ct" if series.units == "HU" or series.modality == "CT" else "mri"
    if (series.modality or "").upper() in {"CR", "DX"}:
        return "cxr"
    return "image"


__all__ = [
    "DEFAULT_TEXT",
    "MODEL_SIZE",
    "RECIPES",
    "ImagePart",
    "Part",
    "RequestLayout",
    "TextPart",
    "build_layout",
    "ct_layout",
    "cxr_layout",
    "default_recipe",
    "image_layout",
    "mri_layout",
    "wsi_layout",
]
