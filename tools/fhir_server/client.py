"""`FhirClient`: FHIR R4 over HTTP, async, with the policies a hospital server needs.

What it does for every request, so callers (the pull, write-back, the HTTP service) never do:

- ``Accept: application/fhir+json``; bodies streamed and capped (`responses.read_capped`), parsed
  by medboard's bounded JSON parser; a body of the wrong kind is a `FhirResponseError`.
- Timeouts: connect and per-read (httpx), plus a whole-request deadline, so a server that
  trickles one byte a second cannot hold a pull forever.
- Retries with exponential backoff and full jitter (tenacity's `wait_random_exponential`, as the
  model layer uses) on refused or dropped connections, timeouts, 500/502/503/504 and 429; a
  429 or 503 with ``Retry-After`` (seconds or an HTTP date) waits exactly that long, and one
  asking for more than `max_retry_after_s` fails at once instead of hanging the run. A POST
  (a transaction) is retried only when the server cannot have processed it: the connection was
  never made, or 429/503.
- 401 with a refreshable auth (SMART): the token is dropped and the request sent once more with a
  fresh one. 401/403 otherwise: `FhirAuthError`.
- Searches follow ``next`` links, only to the same server (scheme, host, port, under the base
  path): a link elsewhere would carry the access token to a stranger. A link that repeats, or a
  search that passes `max_entries` resources or `max_file_bytes` bytes, stops with an error.
- Redirects are not followed (a redirect usually means a wrong base URL or a login page).

Errors are the typed hierarchy of `medboard.tools.fhir_server.errors`, one line each. Nothing at
INFO names a patient; request paths (which hold the patient id) are logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from medboard.errors import MedboardInputError
from medboard.limits import env_var, limits
from medboard.textsafety import redact_url
from medboard.tools.fhir_server.errors import (
    FhirAuthError,
    FhirNotFound,
    FhirRateLimited,
    FhirRequestRejected,
    FhirResponseError,
    FhirServerError,
    FhirServerUnavailable,
)
from medboard.tools.fhir_server.responses import (
    describe_request,
    parse_fhir_json,
    read_capped,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

#: A FHIR resource type name and a FHIR logical id (R4 `id` datatype): checked before they are
#: put in a URL path (an id like ``../metadata`` would address another endpoint).
RESOURCE_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
FHIR_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses that say the server did not process the request at all (safe to re-send a POST).
UNPROCESSED_STATUSES = frozenset({429, 503})
#: Bytes of an error body read for its OperationOutcome code (DEBUG hint and the issue code).
ERROR_BODY_BYTES = 64 * 1024

FHIR_JSON = "application/fhir+json"


def check_resource_type(resource_type: str) -> str:
    if not isinstance(resource_type, str) or not RESOURCE_TYPE_RE.match(resource_type):
        raise MedboardInputError(f"{str(resource_type)[:70]!r} is not a FHIR resource type")
    return resource_type


def check_id(value: str, *, what: str = "id") -> str:
    """A FHIR logical id (``Patient/abc`` is accepted and reduced to ``abc`` for patients)."""
    if not isinstance(value, str) or not FHIR_ID_RE.match(value):
        shown = str(value)[:70]
        raise MedboardInputError(f"{what} {shown!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
    return value


def check_base_url(url: str) -> str:
    """The server's base URL: http(s), a host, no query or fragment; without a trailing slash."""
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise MedboardInputError(
            f"{redact_url(str(url))[:120]!r} is not an http(s) URL of a FHIR server",
            source="--fhir-server",
        )
    if parts.query or parts.fragment:
        raise MedboardInputError(
            "the FHIR server URL is its base (e.g. https://host/fhir/R4), without ?query or #fragment",
            source="--fhir-server",
        )
    return url.strip().rstrip("/")


class _Transient(Exception):
    """A failure worth another attempt (wraps the error to raise when the attempts run out)."""

    def __init__(self, error: FhirServerError, retry_after: float | None = None) -> None:
        super().__init__(error.problem)
        self.error = error
        self.retry_after = retry_after


class FhirClient:
    """An async FHIR R4 client for one server (``async with FhirClient(url, auth) as client``)."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None = None,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        request_deadline_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        max_retry_after_s: float = 60.0,
        page_size: int = 200,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        #: The base URL as messages show it (no credentials, no query values).
        self.server = redact_url(self.base_url)
        if max_retries < 0 or page_size < 1 or max_concurrency < 1:
            raise MedboardInputError("max_retries >= 0, page_size >= 1 and max_concurrency >= 1 are required")
        self.auth = auth
        self.max_retries = max_retries
        self.max_retry_after_s = max_retry_after_s
        self.request_deadline_s = request_deadline_s
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._transport = transport
        self._sleep = sleep or asyncio.sleep
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)
        self._http: httpx.AsyncClient | None = None
        self._capabilities: dict[str, Any] | None = None
        self._capabilities_lock = asyncio.Lock()
        #: HTTP requests sent to the FHIR server (every attempt and page; token requests not included).
        self.requests = 0
        #: Decoded body bytes received from the FHIR server.
        self.bytes_received = 0
        host = urlsplit(self.base_url).hostname
        if (
            auth is not None
            and self.base_url.startswith("http://")
            and host not in ("127.0.0.1", "localhost", "::1")
        ):
            log.warning("credentials for %s travel over plain http (no TLS)", self.server)
        bind = getattr(auth, "bind", None)
        if callable(bind):
            bind(fhir_base_url=self.base_url, transport=transport, timeout=self._timeout)

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> FhirClient:
        self._open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _open(self) -> httpx.AsyncClient:
        if self._http is None:
            from medboard import __version__

            self._http = httpx.AsyncClient(
                auth=self.auth,
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
                headers={"Accept": FHIR_JSON, "User-Agent": f"medboard/{__version__}"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        closer = getattr(self.auth, "aclose", None)
        if callable(closer):
            await closer()

    # --- FHIR interactions ----------------------------------------------------------------------

    async def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (``GET /metadata``), read once and cached."""
        async with self._capabilities_lock:
            if self._capabilities is None:
                url = f"{self.base_url}/metadata"
                statement = await self._request("GET", url)
                if statement.get("resourceType") != "CapabilityStatement":
                    raise self._shape_error(url, "metadata", statement, "a CapabilityStatement")
                self._capabilities = statement
            return self._capabilities

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """``GET {type}/{id}``; `FhirNotFound` when the server has no such resource."""
        check_resource_type(resource_type)
        check_id(resource_id, what=f"{resource_type} id")
        url = f"{self.base_url}/{resource_type}/{resource_id}"
        resource = await self._request("GET", url)
        if resource.get("resourceType") != resource_type:
            raise self._shape_error(url, "read", resource, f"a {resource_type}")
        return resource

    async def search(self, resource_type: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET {type}?params``, following ``next`` links; the matched (and included) resources."""
        check_resource_type(resource_type)
        return await self.collect(f"{self.base_url}/{resource_type}", dict(params))

    async def everything(
        self, patient_id: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """``GET Patient/{id}/$everything`` (paged like a search)."""
        check_id(patient_id, what="patient id")
        return await self.collect(f"{self.base_url}/Patient/{patient_id}/$everything", dict(params or {}))

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction (or batch) Bundle to the base; the response Bundle."""
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise MedboardInputError("a transaction must be a Bundle")
        kind = bundle.get("type")
        if kind not in ("transaction", "batch"):
            raise MedboardInputError(f"a transaction Bundle has type transaction or batch, not {kind!r}")
        body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
        response = await self._request("POST", self.base_url, content=body)
        if response.get("resourceType") != "Bundle" or response.get("type") != f"{kind}-response":
            raise self._shape_error(self.base_url, "POST", response, f"a {kind}-response Bundle")
        return response

    # --- paging ---------------------------------------------------------------------------------

    async def collect(self, url: str, params: dict[str, str] | None) -> list[dict[str, Any]]:
        """Every resource of a searchset, page after page along ``next`` links (same server only)."""
        caps = limits()
        resources: list[dict[str, Any]] = []
        seen: set[str] = set()
        start_bytes = self.bytes_received
        query: dict[str, str] | None = params
        next_url: str | None = url
        while next_url is not None:
            page_url = next_url
            bundle = await self._request("GET", page_url, params=query)
            described = describe_request("GET", httpx.URL(page_url, params=query), self.base_url)
            resources.extend(self._searchset_resources(bundle, described))
            if len(resources) > caps.max_entries:
                raise FhirResponseError(
                    f"more than {caps.max_entries} resources: over the max_entries cap "
                    f"(set {env_var('max_entries')} to allow more)",
                    server=self.server,
                    request=described,
                )
            if self.bytes_received - start_bytes > caps.max_file_bytes:
                raise FhirResponseError(
                    f"more than {caps.max_file_bytes} bytes: over the max_file_bytes cap "
                    f"(set {env_var('max_file_bytes')} to allow more)",
                    server=self.server,
                    request=described,
                )
            seen.add(str(httpx.URL(page_url, params=query)))
            next_url = self._next_link(bundle, described)
            query = None
            if next_url is not None and next_url in seen:
                raise FhirResponseError(
                    "paging loops: a next link repeats", server=self.server, request=described
                )
        return resources

    def _searchset_resources(self, bundle: dict[str, Any], described: str) -> list[dict[str, Any]]:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "searchset":
            kind = bundle.get("resourceType")
            shown = (
                f"a Bundle of type {str(bundle.get('type'))[:40]!r}"
                if kind == "Bundle"
                else f"a {str(kind)[:40]!r}"
                if isinstance(kind, str)
                else "JSON without a resourceType"
            )
            raise FhirResponseError(
                f"answered {shown}, not a searchset Bundle", server=self.server, request=described
            )
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise FhirResponseError("searchset entry is not a list", server=self.server, request=described)
        out: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise FhirResponseError(
                    f"entry[{index}] is not an object", server=self.server, request=described
                )
            search = entry.get("search")
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue  # an OperationOutcome about the search (warnings), not a result
            resource = entry.get("resource")
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise FhirResponseError(
                    f"entry[{index}] holds no resource with a resourceType",
                    server=self.server,
                    request=described,
                )
            out.append(resource)
        return out

    def _next_link(self, bundle: dict[str, Any], described: str) -> str | None:
        links = bundle.get("link")
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("relation") == "next":
                target = link.get("url")
                if not isinstance(target, str) or not target.strip():
                    raise FhirResponseError("a next link has no url", server=self.server, request=described)
                absolute = urljoin(self.base_url + "/", target.strip())
                if not self.on_this_server(absolute):
                    raise FhirResponseError(
                        f"a next link points outside the server ({redact_url(absolute)[:120]}); "
                        "not followed (it would carry the credentials there)",
                        server=self.server,
                        request=described,
                    )
                return absolute
        return None

    def on_this_server(self, url: str) -> bool:
        base, other = urlsplit(self.base_url), urlsplit(url)
        return (
            other.scheme == base.scheme
            and other.hostname == base.hostname
            and other.port == base.port
            and (other.path == base.path or other.path.startswith(base.path.rstrip("/") + "/"))
        )

    # --- one request, with the retry policy -----------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> dict[str, Any]:
        """Send with retries; the parsed JSON body of a 2xx answer, or a typed error."""
        described = describe_request(method, httpx.URL(url, params=params), self.base_url)
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_retries + 1),
                wait=self._wait,
                retry=retry_if_exception_type(_Transient),
                sleep=self._sleep,
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    return await self._attempt(method, url, params, content, described)
        except _Transient as final:
            error = final.error
            suffix = f" after {attempts} attempts" if attempts > 1 else ""
            raise type(error)(error.problem + suffix, server=error.server, request=error.request) from None
        raise AssertionError("unreachable: tenacity either returns, raises or retries")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if isinstance(failure, _Transient) and failure.retry_after is not None:
            return failure.retry_after  # the server said how long; already checked against the cap
        return float(self._backoff(state))

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        described: str,
    ) -> dict[str, Any]:
        http = self._open()
        is_post = method != "GET"
        reauthorized = False
        while True:
            headers = {"Content-Type": FHIR_JSON} if content is not None else None
            request = http.build_request(method, url, params=params, content=content, headers=headers)
            self.requests += 1
            log.debug("FHIR %s", described)
            try:
                async with asyncio.timeout(self.request_deadline_s):
                    response = await http.send(request, stream=True)
                    try:
                        if (
                            response.status_code == 401
                            and not reauthorized
                            and self._can_reauthorize(request)
                        ):
                            reauthorized = True
                            continue
                        return await self._answer(response, described, is_post)
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise _Transient(
                    FhirServerUnavailable(
                        f"no complete answer within {self.request_deadline_s:g} s",
                        server=self.server,
                        request=described,
                    )
                ) from None
            except httpx.TimeoutException as error:
                self._transport_failure(error, "timed out", described, is_post)
            except httpx.TransportError as error:
                self._transport_failure(error, f"cannot connect ({_kind(error)})", described, is_post)
            except FhirServerUnavailable as error:  # from the auth (token endpoint down or failing)
                if getattr(error, "retryable", False):
                    raise _Transient(error) from None
                raise

    def _can_reauthorize(self, request: httpx.Request) -> bool:
        invalidate = getattr(self.auth, "invalidate", None)
        return bool(callable(invalidate) and invalidate(request))

    def _transport_failure(
        self, error: httpx.HTTPError, problem: str, described: str, is_post: bool
    ) -> NoReturn:
        unavailable = FhirServerUnavailable(problem, server=self.server, request=described)
        # A POST that may have reached the server is not re-sent: only a refused connection is safe.
        if not is_post or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            raise _Transient(unavailable) from None
        raise unavailable from None

    async def _answer(self, response: httpx.Response, described: str, is_post: bool) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            data = await read_capped(response, server=self.server, request=described)
            self.bytes_received += len(data)
            return parse_fhir_json(
                data, response.headers.get("content-type"), server=self.server, request=described
            )
        issue = await self._issue_code(response, described)
        what = f"HTTP {status} {response.reason_phrase}".rstrip() + (f" ({issue})" if issue else "")
        if status in RETRY_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
            kind = FhirRateLimited if status == 429 else FhirServerUnavailable
            error = kind(what, server=self.server, request=described)
            if retry_after is not None and retry_after > self.max_retry_after_s:
                raise kind(
                    f"{what}: the server asks to retry after {retry_after:.0f} s, longer than the "
                    f"{self.max_retry_after_s:g} s this client waits",
                    server=self.server,
                    request=described,
                )
            if not is_post or status in UNPROCESSED_STATUSES:
                raise _Transient(error, retry_after if status in UNPROCESSED_STATUSES else None)
            raise error
        if status == 401:
            raise FhirAuthError(
                f"{what}: the server refused the credentials", server=self.server, request=described
            )
        if status == 403:
            raise FhirAuthError(
                f"{what}: the credentials lack access (scope or policy)",
                server=self.server,
                request=described,
            )
        if status in (404, 410):
            raise FhirNotFound(f"{what}: no such resource", server=self.server, request=described)
        if 300 <= status < 400:
            raise FhirRequestRejected(
                f"{what}: redirected; give the server's own base URL", server=self.server, request=described
            )
        if status >= 500:
            raise FhirServerUnavailable(what, server=self.server, request=described)
        raise FhirRequestRejected(what, server=self.server, request=described)

    async def _issue_code(self, response: httpx.Response, described: str) -> str | None:
        """The first OperationOutcome issue code of an error body (its diagnostics: DEBUG only)."""
        try:
            data = await read_capped(response, server=self.server, request=described, cap=ERROR_BODY_BYTES)
            outcome = json.loads(data) if data.strip() else None
        except (FhirServerError, ValueError, RecursionError, httpx.HTTPError):
            return None
        if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
            return None
        issues = outcome.get("issue")
        first = issues[0] if isinstance(issues, list) and issues and isinstance(issues[0], dict) else {}
        diagnostics = first.get("diagnostics")
        if isinstance(diagnostics, str):
            log.debug("FHIR %s: %s", described, redact_url(diagnostics[:300]))
        code = first.get("code")
        return code if isinstance(code, str) and re.fullmatch(r"[a-z][a-z-]{0,39}", code) else None

    def _shape_error(self, url: str, what: str, body: dict[str, Any], expected: str) -> FhirResponseError:
        kind = body.get("resourceType")
        shown = f"a {kind[:40]!r}" if isinstance(kind, str) else "JSON without a resourceType"
        return FhirResponseError(
            f"answered {shown}, not {expected}",
            server=self.server,
            request=describe_request("POST" if what == "POST" else "GET", url, self.base_url),
        )


def _kind(error: httpx.HTTPError) -> str:
    """``connection refused`` etc., from the OS error under httpx's (its text may quote the
    host and port, so it is not shown)."""
    import socket

    cause: BaseException | None = error
    for _ in range(8):  # httpx.ConnectError <- httpcore.ConnectError <- OSError <- the OS's own
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "connection reset"
        if isinstance(cause, ssl_errors()):
            return "TLS handshake failed"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection mid-answer"
    return type(error).__name__


def ssl_errors() -> tuple[type[BaseException], ...]:
    import ssl

    return (ssl.SSLError, ssl.CertificateError)
