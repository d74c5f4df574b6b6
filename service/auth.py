"""API token auth: ``Authorization: Bearer <token>``, compared in constant time.

Every route but discovery, health and the OpenAPI document depends on `require_api_token`.
The comparison runs `hmac.compare_digest` against *every* configured token (no early exit), so
the response time says nothing about how much of a guess was right or which token it was near.
A missing, malformed or wrong token is the same 401 with ``WWW-Authenticate: Bearer``: the answer
never tells an attacker which of those it was. `fastapi.security.HTTPBearer` is used for what it
is good at — the OpenAPI security scheme and header parsing — with its own refusal turned off.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medboard.service.settings import ServiceSettings

log = logging.getLogger(__name__)

bearer_scheme = HTTPBearer(auto_error=False, description="An API token from MEDBOARD_API_TOKEN.")

UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="missing or invalid API token",
    headers={"WWW-Authenticate": "Bearer"},
)


def token_matches(given: str, tokens: list[bytes]) -> bool:
    """Whether `given` equals one of `tokens`, in time independent of where it differs."""
    candidate = given.encode("utf-8", "surrogateescape")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(candidate, token)
    return matched


class ApiTokenAuth:
    """The FastAPI dependency that admits a request carrying one of the configured tokens."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.open = settings.insecure_no_auth
        self.tokens = [t.get_secret_value().encode() for t in settings.api_tokens]

    async def __call__(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
    ) -> None:
        if self.open:
            return
        if credentials is None or not token_matches(credentials.credentials, self.tokens):
            log.info("refused a request to %s: missing or invalid API token", request.url.path)
            raise UNAUTHORIZED
