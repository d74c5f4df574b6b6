"""Errors the user can act on.

Every bad input raises a `MedboardInputError` (or a subclass) whose message names the file, the
entry or resource, and the problem; the CLI prints that one line and exits 2. Model endpoint
problems raise `ModelEndpointError` (exit 3).

`error_line` is how any of them reaches a user: exactly one line, whatever the message holds.
Messages carry untrusted text (file names, YAML keys, an endpoint's words, a URL the user typed
with its password): control and bidi characters become visible escapes, URL credentials and query
values become ``***``, newlines become ``\\n``, and a runaway message is cut.
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


#: Longest message `error_line` shows; the rest is counted, not printed.
MAX_ERROR_CHARS = 2000


def error_line(error: BaseException, *, prefix: str = "medboard: error: ") -> str:
    """The one line to print for `error`: neutralized, URLs redacted, bounded, never empty."""
    from medboard.textsafety import neutralize_line, redact_urls

    text = str(error).strip() or type(error).__name__
    # Redact before cutting (a cut URL could hide its "@"), on a bounded prefix (the URL pattern
    # is quadratic on a long run of letters).
    shown = neutralize_line(redact_urls(text[: 4 * MAX_ERROR_CHARS]))
    shown = shown.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if len(shown) > MAX_ERROR_CHARS or len(text) > 4 * MAX_ERROR_CHARS:
        shown = f"{shown[:MAX_ERROR_CHARS]}… (message cut at {MAX_ERROR_CHARS} characters)"
    return prefix + shown
