"""The clinical picture a statement is verified against, for the checks that need the whole patient.

A check runs as `check(text, cited, record, *, case_date, claims)` (`base.CheckFn`): it is given the
record, not the picture. The pipeline builds the picture once (`picture_of` at the case date as
given, or the case's own) and pins it for the checks of one statement with `judged_against`; a
check reads it with `picture_for`, which falls back to the cached `picture_of(record, case_date)`
when a check runs outside the pipeline (a test, a benchmark). A context variable, not a global:
`verify_summary` is async and two cases may be verified at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir.record import PatientRecord

_PICTURE: ContextVar[ClinicalPicture | None] = ContextVar("medboard_verifier_picture", default=None)


@contextmanager
def judged_against(picture: ClinicalPicture | None) -> Iterator[None]:
    """Within the block, picture-reading checks read `picture` (the pipeline's, built once)."""
    token = _PICTURE.set(picture)
    try:
        yield
    finally:
        _PICTURE.reset(token)


def picture_for(record: PatientRecord, case_date: date | None) -> ClinicalPicture:
    """The picture being verified against: the pipeline's, else the cached one at `case_date`."""
    pinned = _PICTURE.get()
    if pinned is not None:
        return pinned
    # here, not at the top: medboard.tools.reconcile uses the checks package (its conflict rules)
    from medboard.tools.reconcile import picture_of

    return picture_of(record, case_date=case_date.isoformat() if case_date else None)


__all__ = ["judged_against", "picture_for"]
