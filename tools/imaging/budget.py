"""Image-token budgeting, checked before a request is sent.

MedGemma (Gemma 3) turns every 896 × 896 image into 256 soft tokens. vLLM rejects a prompt with
more images than ``--limit-mm-per-prompt '{"image": N}'`` or more tokens than ``--max-model-len``,
and it does so only after the request was built and shipped; checking here turns that into a
clear error (or a deliberate, recorded down-sampling of the frames) before any call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from medboard.errors import ImageInputError

IMAGE_TOKENS = 256
#: Conservative characters per text token (Gemma's tokenizer averages ~4 on English prose).
CHARS_PER_TOKEN = 3.0


class ImageBudgetError(ImageInputError):
    """The request's images and text do not fit the endpoint's limits."""


@dataclass(frozen=True)
class EndpointLimits:
    """What the vLLM server was started with (``--max-model-len``, ``--limit-mm-per-prompt``)."""

    max_model_len: int = 32_768
    max_images: int = 128
    #: Tokens kept free for the answer.
    reserve_output: int = 2_048
    #: Allowance for the chat template's per-image and per-turn markers.
    overhead_per_image: int = 4


def estimate_text_tokens(text: str) -> int:
    """Upper-bound-ish token estimate without loading a tokenizer."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def prompt_tokens(n_images: int, text_tokens: int, limits: EndpointLimits) -> int:
    return n_images * (IMAGE_TOKENS + limits.overhead_per_image) + text_tokens


def max_images_that_fit(text_tokens: int, limits: EndpointLimits) -> int:
    """How many images fit next to ``text_tokens`` of text and the answer reserve."""
    room = limits.max_model_len - limits.reserve_output - text_tokens
    return max(0, min(limits.max_images, room // (IMAGE_TOKENS + limits.overhead_per_image)))


def check_budget(n_images: int, text_tokens: int, limits: EndpointLimits, *, what: str = "request") -> int:
    """Raise `ImageBudgetError` unless the request fits; returns its prompt token estimate."""
    if n_images > limits.max_images:
        raise ImageBudgetError(
            f"{what} has {n_images} images but the endpoint allows {limits.max_images} per prompt "
            "(vLLM --limit-mm-per-prompt); sample fewer frames or raise the limit"
        )
    total = prompt_tokens(n_images, text_tokens, limits)
    if total + limits.reserve_output > limits.max_model_len:
        raise ImageBudgetError(
            f"{what} needs ~{total} prompt tokens ({n_images} images × {IMAGE_TOKENS} + ~{text_tokens} text) "
            f"plus {limits.reserve_output} for the answer, above max-model-len {limits.max_model_len}; "
            f"at most {max_images_that_fit(text_tokens, limits)} images fit"
        )
    return total


def endpoint_limits(endpoint: Any) -> EndpointLimits:
    """The image budget of a `ModelEndpoint` (server --max-model-len, --limit-mm-per-prompt)."""
    context = int(endpoint.context_length)
    return EndpointLimits(
        max_model_len=context,
        max_images=int(endpoint.images_per_prompt),
        reserve_output=min(int(endpoint.max_tokens), context // 2),
    )
