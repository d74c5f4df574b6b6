"""Credentials for a FHIR server: a static bearer token, or SMART Backend Services.

Both are `httpx.Auth` subclasses, so the FHIR client stays ignorant of how a token is made and
every request (search pages, retries, `$everything`) is authorized the same way.

**SMART Backend Services** (the client-credentials grant with a signed JWT assertion, as in the
SMART App Launch "Backend Services" spec): the assertion is a JWT signed with the client's
private key (RS384 or ES384, the two algorithms the spec allows), header ``kid`` (which key of
the client's registered JWKS) and ``alg``, claims ``iss`` = ``sub`` = the client id, ``aud`` =
the token endpoint, a random ``jti`` and ``exp`` at most five minutes ahead. It is posted as
``client_assertion`` with ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
jwt-bearer``, ``grant_type=client_credentials`` and the ``scope`` (default ``system/*.read``).

The access token is cached until shortly before it expires (``expires_in``; a refresh margin of
10 % of its life, at most 60 s) and shared by concurrent requests (one token request at a time).
A 401 on a FHIR call made with a cached token makes the client call `invalidate` and retry once
with a fresh token (the server may have revoked it early). Without a `token_url` the endpoint is
discovered once from ``{base}/.well-known/smart-configuration`` (``token_endpoint``).

Why token requests do not go through httpx's auth-flow ``yield``: httpx reads every response the
flow has seen whole (``Response.aread``) once the flow moves on, which would defeat the size cap
on a FHIR answer the client streams, and a body the flow had already read bounded cannot be
handed back. So the flow only sets the header; the token and discovery requests go through a
small client of the auth's own, on the FHIR client's transport and timeouts (`bind`), read with
a cap. The flow is for `httpx.AsyncClient` (medboard's client is async); the sync flow refuses.

The private key is loaded once with `cryptography` and checked against the algorithm (RS384
needs an RSA key of at least 2048 bits, ES384 an EC key on P-384), so a wrong key is a clear
error before any request. Keys and tokens are never logged or put in messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Literal

import httpx

from medboard.errors import MedboardInputError
from medboard.textsafety import redact_url
from medboard.tools.fhir_server.errors import FhirAuthError, FhirServerUnavailable
from medboard.tools.fhir_server.responses import describe_request, read_capped

log = logging.getLogger(__name__)

Algorithm = Literal["RS384", "ES384"]
ALGORITHMS: tuple[str, ...] = ("RS384", "ES384")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE = "system/*.read"
#: The spec's bound on the assertion's ``exp`` (seconds ahead of now).
MAX_ASSERTION_LIFETIME_S = 300
#: Token endpoint and discovery answers are small; anything larger is not one.
MAX_TOKEN_RESPONSE_BYTES = 256 * 1024
#: A token's life when the endpoint omits ``expires_in`` (the spec recommends 300 s).
DEFAULT_TOKEN_LIFETIME_S = 300


class BearerToken(httpx.Auth):
    """A static bearer token (``Authorization: Bearer …``), e.g. from ``MEDBOARD_FHIR_TOKEN``."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        if not token or any(c.isspace() for c in token):
            raise MedboardInputError("a bearer token must be one word (no spaces)", source="FHIR token")
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:  # never the token
        return "BearerToken(***)"


class SmartBackendAuth(httpx.Auth):
    """SMART Backend Services: a JWT-assertion client-credentials token, cached and refreshed."""

    def __init__(
        self,
        *,
        client_id: str,
        private_key: str | bytes,
        kid: str,
        alg: Algorithm | str = "RS384",
        token_url: str | None = None,
        scope: str = DEFAULT_SCOPE,
        fhir_base_url: str | None = None,
        assertion_lifetime_s: int = MAX_ASSERTION_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if alg not in ALGORITHMS:
            raise MedboardInputError(f"SMART alg {alg!r} is not one of {', '.join(ALGORITHMS)}")
        if not client_id.strip():
            raise MedboardInputError("SMART client id is empty")
        if not kid.strip():
            raise MedboardInputError("SMART key id (kid) is empty")
        if not 0 < assertion_lifetime_s <= MAX_ASSERTION_LIFETIME_S:
            raise MedboardInputError(
                f"the assertion lifetime must be 1..{MAX_ASSERTION_LIFETIME_S} s "
                "(SMART: exp at most 5 minutes ahead)"
            )
        self.client_id = client_id
        self.kid = kid
        self.alg: str = alg
        self.token_url = token_url
        self.scope = scope
        self.fhir_base_url = fhir_base_url.rstrip("/") if fhir_base_url else None
        self.assertion_lifetime_s = assertion_lifetime_s
        self._key = load_private_key(private_key, alg)
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._http: httpx.AsyncClient | None = None
        self._transport: httpx.AsyncBaseTransport | None = None
        self._timeout = httpx.Timeout(30.0, connect=10.0)
        #: Token requests made (tests and benchmarks read it; caching is visible here).
        self.token_requests = 0

    def __repr__(self) -> str:  # never the key or the token
        return f"SmartBackendAuth(client_id={self.client_id!r}, kid={self.kid!r}, alg={self.alg!r})"

    # --- the assertion ----------------------------------------------------------------------

    def assertion(self, token_url: str) -> str:
        """A fresh signed client assertion for `token_url` (new ``jti`` every time)."""
        import jwt

        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_url,
            "jti": secrets.token_urlsafe(24),
            "iat": now,
            "exp": now + self.assertion_lifetime_s,
        }
        return jwt.encode(claims, self._key, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"})

    # --- the flow ---------------------------------------------------------------------------

    def bind(
        self, *, fhir_base_url: str, transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout
    ) -> None:
        """What the FHIR client tells its auth: the base URL (for discovery) and how to reach the
        network (its transport and timeouts, so tests' mock transports see token requests too)."""
        if self.fhir_base_url is None:
            self.fhir_base_url = fhir_base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout

    async def aclose(self) -> None:
        """Close the token endpoint's connection pool (the cached token is kept)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("SmartBackendAuth works with httpx.AsyncClient (medboard's FHIR client)")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.access_token()}"
        yield request

    def invalidate(self, request: httpx.Request) -> bool:
        """Forget the token `request` carried (the server refused it with 401: revoked or expired
        early); True if a fresh one can be fetched. Tokens already replaced are left alone."""
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if sent and sent == self._token:
            self._token = None
        return True

    async def access_token(self) -> str:
        """The cached token, or a new one when there is none or it is about to expire. Concurrent
        callers share one token request."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # one auth may outlive an event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        lock = self._lock
        async with lock:
            if self._token is None or self._clock() >= self._refresh_at:
                if self.token_url is None:
                    self.token_url = await self._discover()
                await self._fetch_token(self.token_url)
            assert self._token is not None
            return self._token

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout, follow_redirects=False
            )
        return self._http

    async def _send(self, request: httpx.Request, server: str, described: str) -> httpx.Response:
        try:
            return await self._client().send(request, stream=True)
        except httpx.TimeoutException:
            problem = "timed out"
        except httpx.TransportError as error:
            problem = f"cannot connect ({type(error).__name__})"
        failure = FhirServerUnavailable(problem, server=server, request=described)
        failure.retryable = True  # type: ignore[attr-defined]
        raise failure

    async def _discover(self) -> str:
        if self.fhir_base_url is None:
            raise MedboardInputError(
                "SMART auth needs a token URL or the FHIR base URL to discover it from",
                source="SMART settings",
            )
        request = httpx.Request(
            "GET",
            f"{self.fhir_base_url}/.well-known/smart-configuration",
            headers={"Accept": "application/json"},
        )
        server = redact_url(self.fhir_base_url)
        described = describe_request("GET", request.url, self.fhir_base_url)
        response = await self._send(request, server, described)
        if response.status_code != 200:
            await response.aclose()
            raise FhirAuthError(
                f"no SMART configuration (HTTP {response.status_code}); give the token URL "
                "(--smart-token-url / MEDBOARD_FHIR_SMART_TOKEN_URL)",
                server=server,
                request=described,
            )
        body = await self._json(response, server, described)
        endpoint = body.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise FhirAuthError(
                "the SMART configuration names no token_endpoint URL", server=server, request=described
            )
        log.info("SMART token endpoint discovered: %s", redact_url(endpoint))
        return endpoint

    async def _fetch_token(self, token_url: str) -> None:
        self.token_requests += 1
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(token_url),
        }
        request = httpx.Request("POST", token_url, data=form, headers={"Accept": "application/json"})
        server = redact_url(token_url)
        described = describe_request("POST", request.url, self.fhir_base_url or token_url)
        response = await self._send(request, server, described)
        status = response.status_code
        if status != 200:
            oauth_error = ""
            if status in (400, 401, 403):
                with contextlib.suppress(FhirAuthError):
                    code = (await self._json(response, server, described)).get("error")
                    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 40:
                        oauth_error = f" ({code})"
            await response.aclose()
            if status in (400, 401, 403):
                raise FhirAuthError(
                    f"the token endpoint refused the client: HTTP {status}{oauth_error}",
                    server=server,
                    request=described,
                )
            failure = FhirServerUnavailable(
                f"the token endpoint answered HTTP {status}", server=server, request=described
            )
            failure.retryable = status in (429, 500, 502, 503, 504)  # type: ignore[attr-defined]
            raise failure
        body = await self._json(response, server, described)
        token, kind = body.get("access_token"), body.get("token_type")
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise FhirAuthError(
                "the token endpoint returned no access_token", server=server, request=described
            )
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise FhirAuthError(
                "the token endpoint returned a token that is not a bearer token",
                server=server,
                request=described,
            )
        lifetime = body.get("expires_in", DEFAULT_TOKEN_LIFETIME_S)
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        now = self._clock()
        self._token = token
        self._expires_at = now + float(lifetime)
        self._refresh_at = self._expires_at - min(60.0, 0.1 * float(lifetime))

    async def _json(self, response: httpx.Response, server: str, described: str) -> dict[str, Any]:
        try:
            data = await read_capped(response, server=server, request=described, cap=MAX_TOKEN_RESPONSE_BYTES)
        except MedboardInputError as error:
            raise FhirAuthError(error.problem, server=server, request=described) from None
        finally:
            await response.aclose()
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            raise FhirAuthError("the answer is not JSON", server=server, request=described) from None
        if not isinstance(body, dict):
            raise FhirAuthError("the answer is not a JSON object", server=server, request=described)
        return body


def load_private_key(pem: str | bytes, alg: str, *, source: str = "SMART private key") -> Any:
    """The PEM private key, checked to fit `alg` (RS384: RSA ≥ 2048 bits; ES384: EC P-384)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise MedboardInputError(
            "not an unencrypted PEM private key (PKCS#8 or traditional)", source=source
        ) from None
    except Exception:  # cryptography's UnsupportedAlgorithm: a key type it cannot use
        raise MedboardInputError("unsupported private key type", source=source) from None
    if alg == "RS384":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise MedboardInputError("RS384 needs an RSA private key", source=source)
        if key.key_size < 2048:
            raise MedboardInputError(
                f"RSA key of {key.key_size} bits; RS384 needs at least 2048", source=source
            )
    elif alg == "ES384" and (
        not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1"
    ):
        raise MedboardInputError("ES384 needs an EC private key on the P-384 curve", source=source)
    return key


def public_jwks(private_key: str | bytes, *, kid: str, alg: Algorithm | str) -> dict[str, Any]:
    """The public JWKS to register with the EHR for this key (``{"keys": [{kty, kid, alg, …}]}``)."""
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    key = load_private_key(private_key, alg).public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(key) if alg == "RS384" else ECAlgorithm.to_jwk(key))
    jwk.update({"kid": kid, "alg": alg, "use": "sig", "key_ops": ["verify"]})
    return {"keys": [jwk]}
