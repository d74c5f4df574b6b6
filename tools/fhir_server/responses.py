"""Reading one HTTP answer safely, and naming requests without patient data.

A FHIR server's body is read as a stream and stopped at `limits().max_response_bytes` (a
Content-Length over the cap is refused before a byte is read): a hostile or broken server cannot
make medboard hold a gigabyte. Bodies are decompressed as they stream, so the cap counts decoded
bytes and a gzip bomb stops at the cap too. The JSON is then parsed by medboard's bounded parser
(`medboard.tools.fhir.jsonparse`: depth, number and string caps, duplicate keys), exactly as a
bundle file would be.

`describe_request` is how every error and log line names a request: method and path relative to
the server's base, query values replaced by ``***`` except those that are not patient data
beyond the patient's own id (the ``patient`` reference, ``_count``, ``_type``).
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from medboard.errors import MedboardInputError
from medboard.limits import env_var, limits
from medboard.tools.fhir_server.errors import FhirResponseError

#: Query parameters whose values are shown in messages: the patient reference (the id the user
#: typed), page sizes and resource types. Everything else (paging tokens, codes, dates) is ``***``.
SHOWN_PARAMS = frozenset({"patient", "subject", "_count", "_type", "_offset"})

#: JSON media types a FHIR server may answer with (``application/fhir+json; fhirVersion=4.0``…).
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def describe_request(method: str, url: httpx.URL | str, base_url: str) -> str:
    """``GET Observation?patient=Patient/123&_count=50&_getpages=***`` (relative to the base)."""
    parts = urlsplit(str(url))
    base = urlsplit(base_url)
    path = parts.path
    if parts.netloc == base.netloc and path.startswith(base.path.rstrip("/") + "/"):
        path = path[len(base.path.rstrip("/")) + 1 :]
    elif parts.netloc != base.netloc:  # the token endpoint or a discovery document elsewhere
        path = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{path}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if query:
        shown = [(k, v if k in SHOWN_PARAMS else "***") for k, v in query]
        path += "?" + urlencode(shown, safe="*/$,")
    return f"{method} {path or '/'}"


async def read_capped(
    response: httpx.Response, *, server: str, request: str, cap: int | None = None
) -> bytes:
    """The whole body, or `FhirResponseError` once it passes the cap (never read further)."""
    cap = limits().max_response_bytes if cap is None else cap
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise _too_large(f"declares {int(declared)} bytes", cap, server, request)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise _too_large(f"passed {cap} bytes", cap, server, request)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, cap: int, server: str, request: str) -> FhirResponseError:
    return FhirResponseError(
        f"response body {what}: over the max_response_bytes={cap} cap "
        f"(set {env_var('max_response_bytes')} to allow more)",
        server=server,
        request=request,
    )


def parse_fhir_json(data: bytes, content_type: str | None, *, server: str, request: str) -> dict[str, Any]:
    """The body as a JSON object, parsed within medboard's caps; `FhirResponseError` otherwise."""
    from medboard.tools.fhir.jsonparse import parse_json

    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise FhirResponseError(f"answered {media}, not FHIR JSON", server=server, request=request)
    if not data.strip():
        raise FhirResponseError("answered an empty body, not FHIR JSON", server=server, request=request)
    try:
        parsed = parse_json(data.removeprefix(b"\xef\xbb\xbf"), source=server, drop_nulls=True)
    except UnicodeDecodeError:
        raise FhirResponseError("body is not UTF-8 text", server=server, request=request) from None
    except json.JSONDecodeError as error:
        raise FhirResponseError(
            f"body is not JSON (line {error.lineno}, column {error.colno}: {error.msg})",
            server=server,
            request=request,
        ) from None
    except MedboardInputError as error:  # a cap or a value JSON cannot hold (NaN, a lone surrogate)
        raise FhirResponseError(error.problem, server=server, request=request) from None
    if parsed.duplicates:
        raise FhirResponseError(
            f"body repeats the JSON key {parsed.duplicates[0]!r} (which value is meant is unknowable)",
            server=server,
            request=request,
        )
    if not isinstance(parsed.value, dict):
        raise FhirResponseError(
            f"body is a JSON {type(parsed.value).__name__}, not a FHIR resource",
            server=server,
            request=request,
        )
    return parsed.value


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A Retry-After header as seconds from now: delta-seconds or an HTTP date; None if absent
    or unreadable (the caller then backs off as for any transient failure)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
