"""How to reach a FHIR server: credentials and client tuning from options and the environment.

`FhirServerSettings` is a pydantic-settings model: values given in code (the CLI's options) win
over ``MEDBOARD_FHIR_*`` environment variables, which win over the defaults. The variables are
the field names upper-cased with that prefix:

=====================================  =============================================================
``MEDBOARD_FHIR_TOKEN``                a static bearer token (``--fhir-token``)
``MEDBOARD_FHIR_SMART_CLIENT_ID``      SMART Backend Services client id (``--smart-client-id``)
``MEDBOARD_FHIR_SMART_KEY``            path of its PEM private key (``--smart-key``)
``MEDBOARD_FHIR_SMART_KID``            the key's id in the registered JWKS (``--smart-kid``)
``MEDBOARD_FHIR_SMART_ALG``            RS384 (default) or ES384 (``--smart-alg``)
``MEDBOARD_FHIR_SMART_TOKEN_URL``      token endpoint; default: discovered (``--smart-token-url``)
``MEDBOARD_FHIR_SMART_SCOPE``          default ``system/*.read`` (``--smart-scope``)
``MEDBOARD_FHIR_TIMEOUT``              seconds per read/connect step (30)
``MEDBOARD_FHIR_RETRIES``              retries after the first attempt (3)
``MEDBOARD_FHIR_PAGE_SIZE``            ``_count`` asked per page (200)
``MEDBOARD_FHIR_CONCURRENCY``          searches in flight at once (4)
``MEDBOARD_FHIR_MAX_RETRY_AFTER``      longest Retry-After honoured, seconds (60)
=====================================  =============================================================

The server URL itself is not read from the environment: ``medboard run`` without a case runs
the embedded example, and a variable left over in a shell must not turn that into a pull.

A bearer token and SMART settings together are refused (which one was meant is unknowable), as
are partial SMART settings; the token is a `SecretStr`, never shown. The key file is read bounded
(``max_case_file_bytes``) and checked against the algorithm before any request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from medboard.errors import MedboardInputError, first_problem
from medboard.tools.fhir_server.auth import DEFAULT_SCOPE, BearerToken, SmartBackendAuth
from medboard.tools.fhir_server.client import FhirClient

ENV_PREFIX = "MEDBOARD_FHIR_"

#: Field -> the command-line option that sets it (for messages).
OPTIONS: dict[str, str] = {
    "token": "--fhir-token",
    "smart_client_id": "--smart-client-id",
    "smart_key": "--smart-key",
    "smart_kid": "--smart-kid",
    "smart_alg": "--smart-alg",
    "smart_token_url": "--smart-token-url",
    "smart_scope": "--smart-scope",
}


class FhirServerSettings(BaseSettings):
    """Credentials and tuning for `FhirClient` (construct with `FhirServerSettings.load`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    token: SecretStr | None = None
    smart_client_id: str | None = None
    smart_key: Path | None = None
    smart_kid: str | None = None
    smart_alg: Literal["RS384", "ES384"] = "RS384"
    smart_token_url: str | None = None
    smart_scope: str = DEFAULT_SCOPE
    timeout: float = Field(30.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=10)
    page_size: int = Field(200, ge=1, le=10_000)
    concurrency: int = Field(4, ge=1, le=64)
    max_retry_after: float = Field(60.0, ge=0, le=3600)

    @classmethod
    def load(cls, **given: Any) -> FhirServerSettings:
        """Options given (None = not given) over ``MEDBOARD_FHIR_*`` over defaults; one clean
        error line naming the setting, its option and variable."""
        values = {k: v for k, v in given.items() if v is not None}
        try:
            return cls(**values)
        except ValidationError as error:
            problem = first_problem(error)
            name = str(problem.loc[0]) if problem.loc else "?"
            where = " / ".join(w for w in (OPTIONS.get(name), f"{ENV_PREFIX}{name.upper()}") if w)
            raise MedboardInputError(
                f"invalid FHIR setting {name} ({where}): {problem.message}", source="FHIR server settings"
            ) from None

    @property
    def uses_smart(self) -> bool:
        return any(
            v is not None
            for v in (self.smart_client_id, self.smart_key, self.smart_kid, self.smart_token_url)
        )

    def auth(self) -> httpx.Auth | None:
        """The credentials these settings describe: a bearer token, SMART, or none."""
        if self.token is not None and self.uses_smart:
            raise MedboardInputError(
                "give a bearer token (--fhir-token / MEDBOARD_FHIR_TOKEN) or SMART settings, not both",
                source="FHIR server settings",
            )
        if self.token is not None:
            return BearerToken(self.token.get_secret_value())
        if not self.uses_smart:
            return None
        missing = [
            OPTIONS[name]
            for name in ("smart_client_id", "smart_key", "smart_kid")
            if getattr(self, name) in (None, "")
        ]
        if missing:
            raise MedboardInputError(
                f"SMART backend auth needs {', '.join(missing)} too (or MEDBOARD_FHIR_SMART_* variables)",
                source="FHIR server settings",
            )
        assert self.smart_key is not None and self.smart_client_id and self.smart_kid
        from medboard.safeio import read_bounded

        pem = read_bounded(self.smart_key, cap="max_case_file_bytes", label=f"--smart-key {self.smart_key}")
        from medboard.tools.fhir_server.auth import load_private_key

        load_private_key(pem, self.smart_alg, source=f"--smart-key {self.smart_key}")  # named errors
        return SmartBackendAuth(
            client_id=self.smart_client_id,
            private_key=pem,
            kid=self.smart_kid,
            alg=self.smart_alg,
            token_url=self.smart_token_url,
            scope=self.smart_scope,
        )

    def client(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> FhirClient:
        """A `FhirClient` for `base_url` with these credentials and tuning."""
        return FhirClient(
            base_url,
            self.auth(),
            timeout_s=self.timeout,
            max_retries=self.retries,
            page_size=self.page_size,
            max_concurrency=self.concurrency,
            max_retry_after_s=self.max_retry_after,
            transport=transport,
        )
