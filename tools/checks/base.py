"""What a verifier check declares about itself, so the pipeline needs no list of its own.

A statement is `supported` only when every part of it is accounted for: by a check that passed,
or by words of the cited evidence. Before this module the pipeline kept three lists in step by
hand — the checks to run, the ones whose failure contradicts, and which spans each accounts for —
and a check missing from the third silently left its statements `unverifiable`. A `Check` now
carries all three, and `medboard.tools.checks.registry.DEFAULT_CHECKS` lists them:

- `name`: the `CheckResult.name` its function returns (the pipeline insists they match);
- `on_fail`: what its failure makes the statement (`contradicted`, `unsupported`, or None: the
  failure only leaves its parts unaccounted for);
- `accounts`: the parts of a statement it answers for, as `Part`s (a span of the text, or a
  label such as "status/negation"), computed from the statement, its claims and its evidence;
- `words`: concept tokens (`medboard.tools.checks.text.concept_tokens`) it answers for wherever
  they stand, when it passed ("rising" after the arithmetic check recomputed the change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from medboard.models import CheckResult, VerdictLabel
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.extract import Claims, Span
from medboard.tools.fhir.record import PatientRecord


class CheckFn(Protocol):
    """`check_x(statement_text, cited, record, *, case_date, claims) -> CheckResult`."""

    def __call__(
        self,
        statement_text: str,
        cited: Sequence[CitedEvidence],
        record: PatientRecord,
        *,
        case_date: date | None = None,
        claims: Claims | None = None,
    ) -> CheckResult: ...


@dataclass(frozen=True)
class Part:
    """A piece of a statement that some check must answer for.

    `shown` is how it is listed when left open ("rules cannot decide: 5 years, ..."). `span`
    (start, end) in the checked text is cut out before the remaining words are compared with the
    evidence, passed or not: a number's digits are never "content words". `by` names the checks
    any of whose pass accounts for it; None means the check that declared it, and an empty set
    means none can (a duration the number check leaves to the model).
    """

    shown: str
    span: Span | None = None
    by: frozenset[str] | None = None


#: `(statement_text, claims, usable_cited) -> parts`: what a check answers for in one statement.
Accounts = Callable[[str, Claims, Sequence[CitedEvidence]], Iterable[Part]]


def accounts_for_nothing(text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """For checks that gate (subject, sex) rather than account for words."""
    del text, claims, cited
    return []


@dataclass(frozen=True)
class Check:
    """One verifier check and what it means for the verdict (see the module docstring)."""

    name: str
    run: CheckFn
    on_fail: VerdictLabel | None = None
    accounts: Accounts = accounts_for_nothing
    words: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.on_fail not in (None, VerdictLabel.contradicted, VerdictLabel.unsupported):
            raise ValueError(f"check {self.name}: a failure can contradict or unsupport, not {self.on_fail}")

    @property
    def contradicts(self) -> bool:
        """Whether its failure means the statement disagrees with its evidence."""
        return self.on_fail == VerdictLabel.contradicted


def contradicting(checks: Iterable[Check]) -> tuple[str, ...]:
    """Names of the checks whose failure contradicts, in registry order."""
    return tuple(c.name for c in checks if c.contradicts)
