"""Where a claim comes from.

An `EvidenceRef` is the atom of citation in medboard: every `Fact`, `Finding` and `Statement`
carries them, and the verifier resolves them against the record. The `reference` string is the
contract other tools read, so its two forms are fixed:

* FHIR: ``ResourceType/id`` — the resource's own id, also for bundle entries addressed by a
  ``urn:uuid:`` fullUrl — optionally with an element ``path`` (``valueQuantity``, ``component[1]``).
* Image: ``image:<series>#frame=<i>`` — a frame of an `ImageSeries`, optionally with a ``box``
  ``[y0, x0, y1, x1]`` normalised to 0–1000 (MedGemma's localisation convention).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_FHIR_REF = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-\.]{1,64})$")
_IMAGE_REF = re.compile(r"^image:(?P<series>[^#\s]+)#frame=(?P<frame>\d+)$")

BoxCoord = Annotated[int, Field(ge=0, le=1000)]


def fhir_ref(resource_type: str, resource_id: str) -> str:
    """Build the canonical ``Type/id`` reference string."""
    return f"{resource_type}/{resource_id}"


def image_ref(series: str, frame: int) -> str:
    """Build the canonical ``image:<series>#frame=<i>`` reference string."""
    return f"image:{series}#frame={frame}"


class EvidenceRef(BaseModel):
    """A pointer into the record or an image, with the source value it quotes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: str = Field(
        description="`ResourceType/id` for FHIR, or `image:<series>#frame=<i>` for an image frame.",
        examples=["Observation/hemoglobin-1", "image:ct-head#frame=12"],
    )
    path: str | None = Field(
        default=None,
        description="FHIR element path inside the resource (e.g. `valueQuantity`, `component[0]`).",
    )
    box: tuple[BoxCoord, BoxCoord, BoxCoord, BoxCoord] | None = Field(
        default=None, description="Region on an image frame, `[y0, x0, y1, x1]` normalised to 0–1000."
    )
    quote: str | None = Field(
        default=None, description="The source value or text this evidence quotes, verbatim."
    )

    @field_validator("reference")
    @classmethod
    def _check_reference(cls, value: str) -> str:
        if _FHIR_REF.match(value) or _IMAGE_REF.match(value):
            return value
        raise ValueError(
            f"evidence reference {value!r} is neither `ResourceType/id` nor `image:<series>#frame=<i>`"
        )

    @field_validator("box")
    @classmethod
    def _check_box(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None and (value[0] > value[2] or value[1] > value[3]):
            raise ValueError(f"box {list(value)} must be [y0, x0, y1, x1] with y0 <= y1 and x0 <= x1")
        return value

    @property
    def kind(self) -> Literal["fhir", "image"]:
        return "image" if self.reference.startswith("image:") else "fhir"

    @property
    def resource_type(self) -> str | None:
        match = _FHIR_REF.match(self.reference)
        return match["type"] if match else None

    @property
    def resource_id(self) -> str | None:
        match = _FHIR_REF.match(self.reference)
        return match["id"] if match else None

    @property
    def series(self) -> str | None:
        match = _IMAGE_REF.match(self.reference)
        return match["series"] if match else None

    @property
    def frame(self) -> int | None:
        match = _IMAGE_REF.match(self.reference)
        return int(match["frame"]) if match else None
