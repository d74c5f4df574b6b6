"""Attachments: strict base64 decoding and HTML-to-text for notes and report forms.

FHIR carries note text as base64 in ``Attachment.data`` (DocumentReference.content,
DiagnosticReport.presentedForm, Media.content, Binary.data). Decoding is strict (`validate=True`):
a lenient decoder silently drops junk characters and would hand the model a corrupted note.
Text types are decoded to ``str``; ``text/html`` (and XHTML narrative) becomes plain text with the
standard library's `html.parser`, keeping block structure as line breaks.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import Any

TEXT_TYPES = ("text/plain", "text/html", "application/xhtml+xml", "text/markdown", "text/xml")
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "pre",
        "section",
        "article",
        "blockquote",
        "hr",
    }
)


class AttachmentError(ValueError):
    """Attachment data that cannot be decoded; carries the element path."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(problem)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment; scripts/styles dropped, whitespace normalised."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def narrative_text(div: Any) -> str | None:
    return html_to_text(div) if isinstance(div, str) and div.strip() else None


def decode_base64(data: str, path: str) -> bytes:
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise AttachmentError(path, f"attachment data is not valid base64 ({error})") from None


def attachment_text(attachment: Mapping[str, Any], path: str) -> str | None:
    """Decode an Attachment's ``data`` to text (None for binary types such as PDF or images).

    Raises `AttachmentError` when ``data`` is not valid base64, whatever the content type.
    """
    data = attachment.get("data")
    if not isinstance(data, str):
        return None
    raw = decode_base64(data, f"{path}.data" if path else "data")
    content_type = str(attachment.get("contentType") or "text/plain").lower()
    mime, _, params = content_type.partition(";")
    mime = mime.strip()
    if mime not in TEXT_TYPES:
        return None
    charset = re.search(r"charset=\"?([\w\-.:]+)", params)
    try:
        text = raw.decode(charset.group(1) if charset else "utf-8", errors="replace")
    except LookupError:  # an unknown charset, or a codec that is not a text encoding (base64, rot13)
        raise AttachmentError(
            f"{path}.contentType" if path else "contentType",
            "unknown charset (not a text encoding Python knows; use e.g. utf-8)",
        ) from None
    return html_to_text(text) if mime in ("text/html", "application/xhtml+xml") else text


def _attachments(resource: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    kind = resource.get("resourceType")
    if kind == "DocumentReference":
        for i, content in enumerate(resource.get("content", ())):
            if isinstance(content, Mapping) and isinstance(content.get("attachment"), Mapping):
                yield f"content[{i}].attachment", content["attachment"]
    elif kind == "DiagnosticReport":
        for i, form in enumerate(resource.get("presentedForm", ())):
            if isinstance(form, Mapping):
                yield f"presentedForm[{i}]", form
    elif kind == "Media" and isinstance(resource.get("content"), Mapping):
        yield "content", resource["content"]
    elif kind == "Binary":
        yield "", {"data": resource.get("data"), "contentType": resource.get("contentType")}


def decode_attachments(resource: Mapping[str, Any]) -> dict[str, str]:
    """Element path -> decoded text for every text attachment of the resource.

    Raises `AttachmentError` (with the element path) on invalid base64.
    """
    out: dict[str, str] = {}
    for path, attachment in _attachments(resource):
        text = attachment_text(attachment, path)
        if text is not None:
            out[path] = text
    return out
