"""What the HTTP service is configured with: command-line options > environment > defaults.

`ServiceSettings` is a pydantic-settings model, loaded the way `medboard.llm.settings` loads the
model endpoint: through `ServiceSettings.resolve(cli, env)`, from sources of our own, so that

- the environment variable names are documented and irregular (`MEDBOARD_API_TOKEN` for the list
  of API tokens, `MEDBOARD_CDS_ISSUERS` for the CDS clients' JWKS, …; `ENV_VARS` lists them), and
  the model comes only from `--model` / `MEDBOARD_MODEL_URL` (`medboard.api.resolve_model_spec`):
  `MEDBOARD_MODEL` already names the *served model* for the model layer;
- a bad value is one line naming where it came from (``environment variable
  MEDBOARD_SERVICE_CONCURRENCY``, ``option --port``), never echoing a token.

Secure by default: the service refuses to start without an API token unless
`insecure_no_auth` is set *and* it binds a loopback address; the FHIR servers it may pull from are
an explicit allowlist (empty: none — an authenticated caller must not make the service fetch any
URL it likes); the CDS clients it trusts are an explicit issuer → JWKS map (empty: every CDS call
is refused with 401).
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from medboard.errors import MedboardInputError, first_problem

#: Environment variable -> field.
ENV_VARS: dict[str, str] = {
    "MEDBOARD_API_TOKEN": "api_tokens",
    "MEDBOARD_PUBLIC_URL": "public_url",
    "MEDBOARD_SERVICE_CONCURRENCY": "concurrency",
    "MEDBOARD_SERVICE_QUEUE": "queue_size",
    "MEDBOARD_SERVICE_MAX_CASES": "max_cases",
    "MEDBOARD_SERVICE_MAX_BODY_BYTES": "max_body_bytes",
    "MEDBOARD_SERVICE_FHIR_SERVERS": "fhir_servers",
    "MEDBOARD_RUN_BUDGET_S": "run_budget_s",
    "MEDBOARD_CDS_BUDGET_S": "cds_budget_s",
    "MEDBOARD_CDS_ISSUERS": "cds_issuers",
    "MEDBOARD_CDS_ALGORITHMS": "cds_algorithms",
    "MEDBOARD_CDS_JWT_MAX_LIFETIME_S": "jwt_max_lifetime_s",
}
#: Field -> the command-line option that sets it (for messages).
CLI_OPTIONS: dict[str, str] = {
    "host": "--host",
    "port": "--port",
    "model": "--model",
    "replay": "--replay",
    "concurrency": "--concurrency",
    "max_body_bytes": "--max-body-bytes",
    "public_url": "--public-url",
    "insecure_no_auth": "--insecure-no-auth",
}
#: Fields whose values are credentials: never shown in a message.
SECRET_FIELDS = frozenset({"api_tokens"})

#: JWS algorithms a CDS client may sign with: asymmetric only (the spec forbids `none` and HMAC).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
#: The spec recommends ES384 and RS384; ES256/RS256 are what many EHRs still sign with.
DEFAULT_CDS_ALGORITHMS = ("ES384", "RS384", "ES256", "RS256")
#: An API token shorter than this is refused: a guessable token is no token.
MIN_TOKEN_CHARS = 16
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
MiB = 1024 * 1024


class ServiceSettings(BaseSettings):
    """The service's settings (construct directly in code and tests, or through `resolve`)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(
        default=None,
        description="The URL clients reach the service at (behind a proxy: the proxy's); default "
        "http://{host}:{port}. Card links and the CDS JWT audience are built from it.",
    )
    api_tokens: list[SecretStr] = Field(default_factory=list, description="Accepted API bearer tokens.")
    insecure_no_auth: bool = Field(
        default=False, description="Serve without API tokens (loopback hosts only; local development)."
    )
    model: str | None = Field(
        default=None, description="'none', 'local' or a URL (default MEDBOARD_MODEL_URL)."
    )
    replay: Path | None = Field(default=None, description="Answer model calls from this cassette.")
    run_budget_s: float | None = Field(default=None, gt=0, description="Model time per case (default 240 s).")
    concurrency: int = Field(default=2, ge=1, le=64, description="Cases running at once.")
    queue_size: int = Field(default=16, ge=1, le=10_000, description="Cases queued or running; more: 503.")
    max_cases: int = Field(default=200, ge=1, le=100_000, description="Cases kept in memory (oldest go).")
    max_body_bytes: int = Field(default=64 * MiB, ge=1024, description="Request body cap; larger: 413.")
    fhir_servers: list[str] = Field(
        default_factory=list, description="FHIR base URLs the service may pull records from."
    )
    cds_budget_s: float = Field(default=5.0, gt=0, le=120, description="Seconds to answer a CDS call.")
    cds_issuers: dict[str, str] = Field(
        default_factory=dict,
        description="Trusted CDS clients: JWT `iss` -> its JWKS (an https URL or a JSON file path).",
    )
    cds_algorithms: list[str] = Field(default_factory=lambda: list(DEFAULT_CDS_ALGORITHMS))
    jwt_max_lifetime_s: float = Field(
        default=600.0, gt=0, le=3600, description="A CDS client JWT may not expire later than this from now."
    )
    jwt_leeway_s: float = Field(default=10.0, ge=0, le=120, description="Clock skew allowed on exp/iat.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: `resolve` reads the environment itself (documented names)."""
        return (init_settings,)

    # -- value parsing (environment strings) -------------------------------------------------
    @field_validator("api_tokens", "fhir_servers", "cds_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cds_issuers", mode="before")
    @classmethod
    def _issuer_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError('must be a JSON object {"issuer": "JWKS URL or file"}') from None
        return value

    @field_validator("api_tokens")
    @classmethod
    def _strong_tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        for token in value:
            secret = token.get_secret_value()
            if len(secret) < MIN_TOKEN_CHARS:
                raise ValueError(f"every token must have at least {MIN_TOKEN_CHARS} characters")
            if not secret.isascii() or not secret.isprintable() or " " in secret:
                raise ValueError("a token must be printable ASCII without spaces")
        return value

    @field_validator("fhir_servers")
    @classmethod
    def _fhir_base_urls(cls, value: list[str]) -> list[str]:
        return [_http_url(url, "a FHIR server").rstrip("/") for url in value]

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "the public URL").rstrip("/")

    @field_validator("cds_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"{name[:20]!r} is not allowed: only asymmetric JWS algorithms "
                    f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}); `none` and HMAC never"
                )
        if not value:
            raise ValueError("at least one algorithm is needed")
        return value

    @field_validator("cds_issuers")
    @classmethod
    def _jwks_sources(cls, value: dict[str, str]) -> dict[str, str]:
        for issuer, source in value.items():
            if not issuer.strip():
                raise ValueError("an issuer must not be empty")
            if source.startswith(("http://", "https://")):
                _http_url(source, "a JWKS URL")
            elif not Path(source).expanduser().is_file():
                raise ValueError(f"the JWKS of issuer {issuer[:80]!r} is neither a URL nor an existing file")
        return value

    @model_validator(mode="after")
    def _never_open_by_accident(self) -> ServiceSettings:
        if self.insecure_no_auth:
            if self.api_tokens:
                raise ValueError("--insecure-no-auth and MEDBOARD_API_TOKEN exclude each other: choose one")
            if not is_loopback(self.host):
                raise ValueError(
                    f"--insecure-no-auth is allowed only on a loopback host (127.0.0.1, ::1), "
                    f"not {self.host!r}"
                )
        return self

    # -- derived ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Where clients reach the service (`public_url`, else built from host and port)."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def require_auth(self) -> None:
        """Refuse to serve with no way to authenticate (called before the server starts)."""
        if not self.api_tokens and not self.insecure_no_auth:
            raise MedboardInputError(
                "no API token configured: set MEDBOARD_API_TOKEN (one token, or several separated by "
                f"commas, each at least {MIN_TOKEN_CHARS} characters), or pass --insecure-no-auth to serve "
                "without authentication on a loopback address for local development",
                source="medboard serve",
            )

    @classmethod
    def resolve(
        cls, cli: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None
    ) -> ServiceSettings:
        """The settings from command-line values > the `ENV_VARS` > defaults; one clear line on error."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for var, field in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw.strip():
                values[field] = raw.strip()
                origins[field] = f"environment variable {var}"
        for field, value in (cli or {}).items():
            if value is not None:
                values[field] = value
                origins[field] = f"option {CLI_OPTIONS.get(field, field)}"
        try:
            return cls(**values)
        except ValidationError as error:
            problem = first_problem(error)
            field = str(problem.loc[0]) if problem.loc else ""
            where = origins.get(field) or "service settings"
            shown = "" if field in SECRET_FIELDS or not field else f" {field}"
            raise MedboardInputError(
                f"invalid service setting{shown}: {problem.message}", source=where
            ) from None


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL")
    if parts.username or parts.password:
        raise ValueError(f"{what} must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must have no query or fragment")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
