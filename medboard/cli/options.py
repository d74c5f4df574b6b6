"""Command-line values more than one command reads, checked the same way everywhere."""

from __future__ import annotations


def parse_case_date(text: str | None) -> str | None:
    """The ``--case-date`` value checked as a FHIR date (exit 2, one line naming the option)."""
    if text is None:
        return None
    from medboard.errors import MedboardInputError
    from medboard.models.dates import FhirDate, FhirDateError

    try:
        FhirDate.parse(text)
    except FhirDateError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise MedboardInputError(
            f"--case-date {shown!r} is not a FHIR date (YYYY-MM-DD, YYYY-MM or YYYY)"
        ) from None
    return text
