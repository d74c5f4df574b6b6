"""Errors the user can act on.

Every bad input raises a `MedboardInputError` (or a subclass) whose message names the file, the
entry or resource, and the problem; the CLI prints that one line and exits 2. Model endpoint
problems raise `ModelEndpointError` (exit 3); a distributed engine that runs a board's cases
(a Ray cluster) and cannot be reached or started raises `ExecutorError` (exit 3).

A pydantic `ValidationError` (a case YAML, a summary, a FHIR resource, a model setting) becomes
that one line through `validation_input_error` (or `first_problem`, for callers that word the
line themselves): the first problem only, pydantic's "Value error, " prefix dropped, a location
in the caller's own notation and, where asked, how many more problems there are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class MedboardError(Exception):
    """Base of every error medboard raises on purpose."""

    exit_code = 1


class MedboardInputError(MedboardError):
    """Bad input: names the source (file), the location (entry index / resource id) and the problem."""

    exit_code = 2

    def __init__(self, problem: str, *, source: str | None = None, location: str | None = None) -> None:
        self.problem = problem
        self.source = source
        self.location = location
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [p for p in (self.source, self.location) if p]
        where = ": ".join(parts)
        return f"{where}: {self.problem}" if where else self.problem


class FhirInputError(MedboardInputError):
    """A FHIR document that cannot be read as the record it claims to be."""


class ImageInputError(MedboardInputError):
    """An image, series or volume that cannot be read or used as asked."""


class CaseInputError(MedboardInputError):
    """A case folder / YAML that is malformed."""


class ModelEndpointError(MedboardError):
    """The model endpoint is unreachable, serves another model, or keeps failing."""

    exit_code = 3


class ExecutorError(MedboardError):
    """The engine that runs a board's cases (a Ray cluster) cannot be started or reached."""

    exit_code = 3


@dataclass(frozen=True)
class ValidationProblem:
    """The first problem of a pydantic `ValidationError`, in the parts a one-line message is made of."""

    #: Where in the input (pydantic's location: keys and list indexes).
    loc: tuple[int | str, ...]
    #: pydantic's text without its "Value error, " prefix (a validator's own words read better bare).
    message: str
    #: pydantic's error type (``extra_forbidden``, ``json_invalid``, ``base64_decode``, …).
    kind: str
    #: The offending value: to match against, never to print (it may be an identifier).
    input: Any
    #: How many further problems the error holds.
    others: int

    def and_more(self, noun: str = "") -> str:
        """`` (and 2 more)``; with a noun `` (and 1 more problem)``, `` (and 2 more problems)``; or ""."""
        if self.others <= 0:
            return ""
        word = f" {noun}{'s' if self.others > 1 else ''}" if noun else ""
        return f" (and {self.others} more{word})"


def first_problem(error: ValidationError) -> ValidationProblem:
    """The first of `error`'s problems (without pydantic's documentation URL)."""
    first = error.errors(include_url=False)[0]
    return ValidationProblem(
        loc=tuple(first.get("loc", ())),
        message=str(first.get("msg", "invalid")).removeprefix("Value error, "),
        kind=str(first.get("type", "")),
        input=first.get("input"),
        others=error.error_count() - 1,
    )


def validation_input_error(
    error: ValidationError,
    *,
    source: str | None,
    location: Callable[[tuple[int | str, ...]], str | None] | None = None,
    prefix: str = "",
    count_more: bool = False,
    error_type: type[MedboardInputError] = MedboardInputError,
) -> MedboardInputError:
    """The one-line user error for `error`: ``{prefix}{message}[ (and N more)]`` at `source` and `location`.

    `location` turns pydantic's location into the caller's notation (``images[0].date``,
    ``sections[2].statements``); it is also where a caller hides keys that may be identifiers.
    """
    problem = first_problem(error)
    return error_type(
        f"{prefix}{problem.message}{problem.and_more() if count_more else ''}",
        source=source,
        location=location(problem.loc) if location is not None else None,
    )
