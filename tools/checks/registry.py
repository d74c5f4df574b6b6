"""The verifier's checks, in the order they run on a statement.

Adding a check is one module (the check function and the parts of a statement it accounts for,
see `medboard.tools.checks.base`) plus one line here; the pipeline reads everything else — which
failures contradict, which spans are accounted for — from these declarations. The order is the
order of `Verdict.checks` and of the parts listed when a statement is left `unverifiable`.
"""

from __future__ import annotations

from medboard.models import VerdictLabel
from medboard.tools.checks.arithmetic import (
    ARITHMETIC_AGREES,
    COUNTS_AGREE,
    DIRECTION_TERMS,
    EXTREME_TERMS,
    EXTREMES_AGREE,
    check_arithmetic,
    check_counts,
    check_extremes,
    count_parts,
    expression_parts,
)
from medboard.tools.checks.base import Check
from medboard.tools.checks.dates import AGE_AGREES, DATES_AGREE, age_parts, check_age, check_dates, date_parts
from medboard.tools.checks.demographics import SEX_AGREES, check_sex
from medboard.tools.checks.family import FAMILY_AGREES, check_family_history, family_parts
from medboard.tools.checks.laterality import LATERALITY_AGREES, check_laterality, side_parts
from medboard.tools.checks.numbers import NUMBERS_AGREE, check_numbers, number_parts
from medboard.tools.checks.record_global import RECORD_AGREES, check_record
from medboard.tools.checks.staging import STAGING_AGREES, check_staging, staging_parts
from medboard.tools.checks.status import STATUS_AGREES, check_status, status_parts
from medboard.tools.checks.subject import SUBJECT_MENTIONED, check_subject

CONTRADICTS = VerdictLabel.contradicted

DEFAULT_CHECKS: tuple[Check, ...] = (
    # Citations dressed on a statement about something else are unsupported, not contradicted.
    Check(SUBJECT_MENTIONED, check_subject, on_fail=VerdictLabel.unsupported),
    Check(NUMBERS_AGREE, check_numbers, CONTRADICTS, number_parts),
    Check(DATES_AGREE, check_dates, CONTRADICTS, date_parts),
    Check(AGE_AGREES, check_age, CONTRADICTS, age_parts),
    Check(ARITHMETIC_AGREES, check_arithmetic, CONTRADICTS, expression_parts, DIRECTION_TERMS),
    # Their failure contradicts nothing: it leaves the words or counts they answer for open.
    Check(EXTREMES_AGREE, check_extremes, words=EXTREME_TERMS),
    Check(COUNTS_AGREE, check_counts, accounts=count_parts),
    Check(LATERALITY_AGREES, check_laterality, CONTRADICTS, side_parts),
    Check(STATUS_AGREES, check_status, CONTRADICTS, status_parts),
    Check(STAGING_AGREES, check_staging, CONTRADICTS, staging_parts),
    Check(SEX_AGREES, check_sex, CONTRADICTS),
    Check(FAMILY_AGREES, check_family_history, CONTRADICTS, family_parts),
    # Last: what the cited evidence says must also be what the whole record says of the patient.
    Check(RECORD_AGREES, check_record, CONTRADICTS),
)
