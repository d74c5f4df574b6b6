"""The CDS client's JWT (CDS Hooks 2.0, "Trusting CDS Clients"), verified with pyjwt.

Every call to the patient-view service carries ``Authorization: Bearer <JWT>`` signed by the CDS
client (the EHR). It is admitted only if all of these hold:

- the header's ``alg`` is one of the configured asymmetric algorithms (ES384/RS384 by the spec,
  ES256/RS256 by default too). ``none`` and every HMAC algorithm are refused before any key is
  looked at: a shared-secret signature proves nothing about *which* client signed, and an HMAC
  "verified" with a public key as the secret is the classic key-confusion forgery;
- ``iss`` is on the allowlist, and the key is the one with the header's ``kid`` in *that
  issuer's* configured JWKS — a JWKS file (`jwt.PyJWKSet`) or URL (`jwt.PyJWKClient`, cached). The
  token's own ``jku`` is ignored: a key location chosen by the token would let anyone sign;
- the signature verifies with that key, under the key's algorithm (a JWK without ``alg`` takes
  the header's, which must still be on the list and fit the key type);
- ``aud`` is exactly the URL of the endpoint called (a string, or a list holding it);
- ``exp``, ``iat`` and ``jti`` are present; ``exp`` is not past (a small leeway for clock skew)
  and not further ahead than `jwt_max_lifetime_s` (a token that never expires could never leave
  the replay cache);
- ``jti`` has not been seen from that issuer before its expiry (an in-memory set, entries
  dropped once their token has expired).

Any failure is the same 401 ``invalid token``: the reason goes to the log (at INFO, without the
token or its claims), never to the caller, who could use it to tune a forgery.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt

log = logging.getLogger(__name__)

#: Replay-cache size beyond which new tokens are refused (after dropping expired entries).
MAX_SEEN_JTI = 100_000
#: Seconds a fetched JWKS is reused before it is fetched again.
JWKS_CACHE_S = 300


class InvalidClientToken(Exception):
    """The CDS client's JWT was refused; `reason` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerKeys:
    """One trusted issuer's public keys: a JWKS file (read once) or URL (fetched, cached)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._client: jwt.PyJWKClient | None = None
        self._set: jwt.PyJWKSet | None = None
        if source.startswith(("http://", "https://")):
            self._client = jwt.PyJWKClient(source, cache_jwk_set=True, lifespan=JWKS_CACHE_S, timeout=5)
        else:
            data = json.loads(Path(source).expanduser().read_text(encoding="utf-8"))
            self._set = jwt.PyJWKSet.from_dict(data)

    def key(self, kid: str) -> jwt.PyJWK:
        """The key with this `kid` (a URL's JWKS is fetched again once if the kid is unknown)."""
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as error:
                raise InvalidClientToken(
                    f"no key {kid[:40]!r} in the issuer's JWKS ({type(error).__name__})"
                ) from None
        assert self._set is not None
        for candidate in self._set.keys:
            if candidate.key_id == kid:
                return candidate
        raise InvalidClientToken("no key with this kid in the issuer's JWKS file")


class ClientJwtVerifier:
    def __init__(
        self,
        issuers: Mapping[str, str],
        *,
        algorithms: Iterable[str],
        max_lifetime_s: float = 600.0,
        leeway_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithms = [a for a in algorithms if not a.upper().startswith(("HS", "NONE"))]
        self.max_lifetime_s = max_lifetime_s
        self.leeway_s = leeway_s
        self.clock = clock
        self._issuers = dict(issuers)
        self._keys: dict[str, IssuerKeys] = {}
        self._seen: dict[tuple[str, str], float] = {}

    async def verify(self, authorization: str | None, audience: list[str]) -> dict[str, Any]:
        """The token's claims, or `InvalidClientToken`. `audience`: the URL(s) this call may name."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidClientToken("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidClientToken("not a JWT") from None
        alg, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidClientToken(f"algorithm {str(alg)[:12]!r} not allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidClientToken("no kid in the header")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise InvalidClientToken("issuer not on the allowlist")
        key = await asyncio.to_thread(self._key, issuer, kid, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=self.algorithms,
                audience=audience,
                issuer=issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "jti", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidClientToken(type(error).__name__) from None
        now = self.clock()
        expires = float(claims["exp"])
        if expires > now + self.max_lifetime_s + self.leeway_s:
            raise InvalidClientToken("expires too far ahead")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise InvalidClientToken("jti is not a string")
        self._remember(issuer, jti, expires + self.leeway_s, now)
        return claims

    def _key(self, issuer: str, kid: str, alg: str) -> jwt.PyJWK:
        keys = self._keys.get(issuer)
        if keys is None:
            try:
                keys = IssuerKeys(self._issuers[issuer])
            except (OSError, ValueError, jwt.PyJWTError) as error:
                raise InvalidClientToken(f"the issuer's JWKS is unusable ({type(error).__name__})") from None
            self._keys[issuer] = keys
        key = keys.key(kid)
        data = getattr(key, "_jwk_data", None)
        if isinstance(data, dict) and "alg" not in data and key.algorithm_name != alg:
            # A JWK that names no algorithm: pyjwt guesses one from its type (RSA -> RS256); take
            # the header's instead, already checked against the list (prepare_key checks the type).
            try:
                key = jwt.PyJWK(data, algorithm=alg)
            except jwt.PyJWTError:
                raise InvalidClientToken("the key does not fit the algorithm") from None
        return key

    def _remember(self, issuer: str, jti: str, until: float, now: float) -> None:
        seen = self._seen
        if (issuer, jti) in seen and seen[(issuer, jti)] >= now:
            raise InvalidClientToken("jti replayed")
        if len(seen) >= MAX_SEEN_JTI:
            for entry in [k for k, expiry in seen.items() if expiry < now]:
                del seen[entry]
            if len(seen) >= MAX_SEEN_JTI:
                raise InvalidClientToken("replay cache full")
        seen[(issuer, jti)] = until


def log_refusal(error: InvalidClientToken, path: str) -> None:
    log.info("refused a CDS call to %s: invalid client token (%s)", path, error.reason)
