"""DiagnosticReports -> ``report`` facts (conclusion, coded conclusion, presentedForm text)."""

from __future__ import annotations

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import PresentedForm, ReportDetails, ReportMedia
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    codings,
    displays,
    effective,
    label_of,
)


def extract_report(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    label = label_of(resource.get("code"), key)
    start, end = effective(resource)
    conclusion = resource.get("conclusion")
    texts = [conclusion] if conclusion else []
    forms = []
    for index, form in enumerate(resource.get("presentedForm", ())):
        decoded = ctx.attachment_text.get((key, f"presentedForm[{index}]"))
        if decoded:
            texts.append(decoded)
        forms.append(
            PresentedForm(
                content_type=form.get("contentType"),
                title=form.get("title"),
                url=form.get("url"),
                decoded=decoded is not None,
            )
        )
    media = [
        ReportMedia(comment=m.get("comment"), link=ctx.ref(m.get("link"))) for m in resource.get("media", ())
    ]
    conclusion_codes = [c for concept in resource.get("conclusionCode", ()) for c in codings(concept)]
    text = "\n\n".join(texts) or None
    return [
        ctx.fact(
            FactKind.report,
            key,
            label,
            path="conclusion" if conclusion else ("presentedForm" if forms else "code"),
            quote=conclusion or label,
            codes=codings(resource.get("code")),
            status=resource.get("status"),
            date=start or resource.get("issued"),
            end_date=end,
            text=text,
            value_codes=conclusion_codes,
            related=ctx.refs(resource.get("result")) + ctx.refs(resource.get("imagingStudy")),
            details=ReportDetails(
                category=displays(resource.get("category", ())),
                conclusion=conclusion,
                media=media,
                presented_form=forms,
            ),
        )
    ]
