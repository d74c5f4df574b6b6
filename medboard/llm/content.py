"""Model request content from laid-out parts: the one place image parts become AutoGen messages.

The imaging tools lay a request out (`medboard.tools.imaging.layouts.RequestLayout`: text and
896×896 image parts in the recipe's order) without knowing any agent framework; this module turns
such a layout into AutoGen chat content, which `OpenAIChatCompletionClient` sends in order (images
as PNG data URIs). It reads the parts by shape (`text` or `image`), so the model layer does not
import the imaging tools either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from autogen_core import Image
from autogen_core.models import LLMMessage, SystemMessage, UserMessage


class LaidOut(Protocol):
    """What a request layout offers: its parts, each a text part or an image part."""

    @property
    def parts(self) -> Iterable[Any]: ...


def autogen_content(layout: LaidOut) -> list[str | Image]:
    """The layout's parts as an AutoGen ``UserMessage.content`` list, in order."""
    return [part.text if part.type == "text" else Image(part.image) for part in layout.parts]


def layout_messages(system: str, layout: LaidOut) -> list[LLMMessage]:
    """One single-turn request: the system text, then the laid-out user turn."""
    return [SystemMessage(content=system), UserMessage(content=autogen_content(layout), source="medboard")]
