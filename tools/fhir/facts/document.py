"""DocumentReference and Composition -> ``document`` facts with their text decoded."""

from __future__ import annotations

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import DocumentDetails
from medboard.tools.fhir.attachments import narrative_text
from medboard.tools.fhir.facts.common import JSON, ExtractContext, codings, display, displays


def extract_document_reference(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    label = display(resource.get("type")) or resource.get("description") or key
    texts: list[str] = []
    content_types: list[str | None] = []
    urls: list[str] = []
    first_path = None
    for index, content in enumerate(resource.get("content", ())):
        attachment = content.get("attachment") or {}
        content_types.append(attachment.get("contentType"))
        if attachment.get("url"):
            urls.append(attachment["url"])
        decoded = ctx.attachment_text.get((key, f"content[{index}].attachment"))
        if decoded:
            texts.append(decoded)
            first_path = first_path or f"content[{index}].attachment"
    period = (resource.get("context") or {}).get("period") or {}
    date = resource.get("date") or period.get("start")
    text = "\n\n".join(texts) or None
    return [
        ctx.fact(
            FactKind.document,
            key,
            label,
            path=first_path,
            quote=_quote(text),
            codes=codings(resource.get("type")),
            status=resource.get("docStatus") or resource.get("status"),
            date=date,
            end_date=period.get("end"),
            text=text,
            details=DocumentDetails(
                content_type=next((c for c in content_types if c), None),
                content_types=content_types,
                category=displays(resource.get("category", ())),
                urls=urls,
                description=resource.get("description"),
            ),
        )
    ]


def extract_composition(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    """A Composition's sections as one document: section titles and their narrative text."""
    parts: list[str] = []

    def walk(sections: list, depth: int) -> None:
        for section in sections:
            if section.get("title"):
                parts.append(f"{'#' * (depth + 1)} {section['title']}")
            body = narrative_text((section.get("text") or {}).get("div"))
            if body:
                parts.append(body)
            walk(section.get("section", ()), depth + 1)

    walk(resource.get("section", ()), 1)
    label = resource.get("title") or display(resource.get("type")) or key
    text = "\n".join(parts) or None
    return [
        ctx.fact(
            FactKind.document,
            key,
            label,
            path="section" if text else "title",
            quote=_quote(text) or label,
            codes=codings(resource.get("type")),
            status=resource.get("status"),
            date=resource.get("date"),
            text=text,
            details=DocumentDetails(content_type="text/html" if text else None, resource_type="Composition"),
        )
    ]


def _quote(text: str | None, limit: int = 200) -> str | None:
    """The opening of a note: evidence quotes stay short; the full text is in `Fact.text`."""
    if not text:
        return None
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
