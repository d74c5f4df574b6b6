"""Errors the user can act on.

Every bad input raises a `MedboardInputError` (or a subclass) whose message names the file, the
entry or resource, and the problem; the CLI prints that one line and exits 2. Model endpoint
problems raise `ModelEndpointError` (exit 3).
"""

from __future__ import annotations


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
