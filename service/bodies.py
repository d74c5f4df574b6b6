"""Request bodies read as JSON, refused in one line when they cannot be.

The body is parsed with medboard's bounded parser (`medboard.tools.fhir.jsonparse.parse_json`:
depth, number and string lengths checked, NaN refused, duplicate keys found), not with FastAPI's
body handling, for two reasons: a hostile body must meet the same caps as a hostile file, and
FastAPI's default 422 lists every problem *with the input echoed back* — and the input may be a
patient's record. Here every refusal is ``{"detail": "<one line>"}`` that names where the problem
is and never quotes a value:

- 415: a Content-Type that is not JSON (``application/json``, ``application/fhir+json``);
- 400: not JSON at all (syntax with line and column, not UTF-8, nested too deep, NaN);
- 422: JSON, but not what the route takes (the caller words it: `load_record`'s
  `FhirInputError.describe()`, or the first problem of a pydantic model).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import HTTPException, Request

from medboard.errors import MedboardInputError, first_problem

#: How the service names the body in its messages (a FHIR error reads "request body: entry[3]: …").
BODY = "request body"
JSON_TYPES = ("application/json", "application/fhir+json")


def refuse(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


async def read_json(request: Request, *, drop_nulls: bool) -> Any:
    """The parsed body; `drop_nulls` removes ``"key": null`` members as FHIR readers do."""
    from medboard.tools.fhir.jsonparse import parse_json
    from medboard.tools.fhir.sources import duplicate_key_error

    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES and not media_type.endswith("+json"):
        raise refuse(415, "the body must be JSON (Content-Type application/json or application/fhir+json)")
    data = await request.body()
    if not data.strip():
        raise refuse(400, "empty request body: a JSON document was expected")
    try:  # in a worker thread: parsing 64 MB is seconds the server's loop must not stall for
        parsed = await asyncio.to_thread(
            parse_json, data.removeprefix(b"\xef\xbb\xbf"), source=BODY, drop_nulls=drop_nulls
        )
    except json.JSONDecodeError as error:
        raise refuse(400, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise refuse(400, f"the body is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except MedboardInputError as error:  # a cap (depth, number, string) or NaN/Infinity
        raise refuse(400, error.describe()) from None
    if parsed.duplicates:
        raise refuse(422, duplicate_key_error(BODY, parsed.duplicates).describe())
    return parsed.value


def one_line(error: Any, *, prefix: str = "") -> str:
    """A pydantic `ValidationError` as ``request body: <location>: <problem>`` (first problem only)."""
    problem = first_problem(error)
    where = ".".join(str(part) for part in problem.loc if _printable_key(part))
    more = problem.and_more("problem")
    return f"{BODY}: {prefix}{where + ': ' if where else ''}{problem.message}{more}"


def _printable_key(part: object) -> bool:
    """Location parts that are names or indexes (a key the client made up may be data: left out)."""
    text = str(part)
    return isinstance(part, int) or (len(text) <= 40 and text.replace("_", "").replace("-", "").isalnum())
