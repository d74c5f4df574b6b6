"""Where the model lives: one OpenAI-compatible chat endpoint, described by a `ModelEndpoint`.

A model is a URL and a name, never an import. The same settings come from CLI flags, the
environment or a config file, in that order of precedence, so a CI job can point every run at a
different server without touching code. This module stays light (pydantic and the standard
library only): the CLI builds an endpoint before deciding whether autogen is needed at all.

The API key is a `SecretStr`: it never appears in `repr`, logs or error messages. A URL may
carry credentials too (`http://user:pass@host/v1`, `?token=`): the real URL is used for requests,
but everything that records or prints the endpoint uses `safe_url` (user-info and query values
shown as ``***``).

Time budgets (why three): `timeout_s` bounds one HTTP request; `call_budget_s` bounds one logical
call (its retries, backoff and repair request together), so one hung call cannot eat the run;
`run_budget_s` bounds all model work of one case run, after which every model call fails at once
as "budget" and the deterministic summary is verified and published with the model sections
marked failed. With the defaults a run against an endpoint that accepts connections and never
answers publishes in about 4 minutes; `health_timeout_s` makes a silent health check fail (exit 3)
in seconds.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from medboard.errors import MedboardInputError
from medboard.textsafety import redact_url

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_MODEL = "google/medgemma-1.5-4b-it"

#: Environment variable -> field. `MEDBOARD_CONFIG` (a config file path) is read separately.
ENV_VARS: dict[str, str] = {
    "MEDBOARD_MODEL_URL": "base_url",
    "MEDBOARD_MODEL": "model",
    "MEDBOARD_API_KEY": "api_key",
    "MEDBOARD_MODEL_TIMEOUT": "timeout_s",
    "MEDBOARD_MODEL_RETRIES": "max_retries",
    "MEDBOARD_MODEL_BACKOFF": "backoff_s",
    "MEDBOARD_MODEL_CONCURRENCY": "max_concurrency",
    "MEDBOARD_CONTEXT_LENGTH": "context_length",
    "MEDBOARD_IMAGES_PER_PROMPT": "images_per_prompt",
    "MEDBOARD_MODEL_VISION": "vision",
    "MEDBOARD_MODEL_TEMPERATURE": "temperature",
    "MEDBOARD_MODEL_MAX_TOKENS": "max_tokens",
    "MEDBOARD_MODEL_CALL_BUDGET": "call_budget_s",
    "MEDBOARD_RUN_BUDGET_S": "run_budget_s",
    "MEDBOARD_HEALTH_TIMEOUT": "health_timeout_s",
}
CONFIG_ENV_VAR = "MEDBOARD_CONFIG"

#: Friendlier spellings accepted in config files and CLI dicts.
ALIASES: dict[str, str] = {
    "url": "base_url",
    "name": "model",
    "timeout": "timeout_s",
    "retries": "max_retries",
    "backoff": "backoff_s",
    "concurrency": "max_concurrency",
    "max_model_len": "context_length",
    "call_budget": "call_budget_s",
    "run_budget": "run_budget_s",
    "time_budget": "run_budget_s",
    "health_timeout": "health_timeout_s",
}


class ModelEndpoint(BaseModel):
    """Settings for one OpenAI-compatible chat endpoint (vLLM serving MedGemma, typically).

    `max_retries` counts retries after the first attempt, so a call makes at most
    `max_retries + 1` requests (plus one repair request for invalid JSON).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(default=DEFAULT_BASE_URL, description="OpenAI-compatible base URL, ending in /v1.")
    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="Served model name.")
    api_key: SecretStr = Field(default=SecretStr("EMPTY"), description="Bearer token (vLLM: --api-key).")
    timeout_s: float = Field(default=120.0, gt=0, le=3600, description="Per-request timeout.")
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Retry n waits a random time in [0, backoff_s * 2**(n-1)] (full jitter).",
    )
    call_budget_s: float = Field(
        default=180.0, gt=0, le=86_400, description="Wall clock for one call: all its attempts and repair."
    )
    run_budget_s: float = Field(
        default=240.0, gt=0, le=86_400, description="Wall clock for all model calls of one case run."
    )
    health_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Health check (GET /models).")
    max_concurrency: int = Field(default=4, ge=1, le=256, description="Requests in flight at once.")
    context_length: int = Field(default=8192, ge=256, le=1_048_576, description="Server --max-model-len.")
    images_per_prompt: int = Field(default=1, ge=0, le=256, description="Server --limit-mm-per-prompt image.")
    vision: bool = Field(default=True, description="Whether the served model accepts images.")
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=1, le=262_144, description="Completion budget per request.")

    @field_validator("base_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        """Accept `http://host:8000` as well as `http://host:8000/v1`; the OpenAI client needs the /v1."""
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {redact_url(value)!r}")
        if parts.path in ("", "/"):
            value = f"{value}/v1"
        return value

    @property
    def safe_url(self) -> str:
        """`base_url` as it may be recorded or printed: no user-info, query values as ``***``."""
        return redact_url(self.base_url)

    def describe(self) -> str:
        """A log-safe one-liner (no key, no credentials in the URL)."""
        return f"{self.model} @ {self.safe_url}"

    @classmethod
    def from_sources(
        cls,
        cli: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> ModelEndpoint:
        """Build the endpoint from CLI values > environment > config file > defaults.

        `cli` maps field names (or aliases) to values; `None` values mean "flag not given".
        `env` defaults to `os.environ`. Without `config_file`, the first existing file of
        `default_config_paths(env)` is read, if any. Bad values raise `MedboardInputError`
        naming where they came from.
        """
        env = os.environ if env is None else env
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}

        path = config_file if config_file is not None else _first_existing(default_config_paths(env))
        if path is not None:
            for key, value in load_config_section(path).items():
                merged[key] = value
                origin[key] = f"{path} [model] {key}"

        for var, field in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                merged[field] = raw.strip()
                origin[field] = f"environment variable {var}"

        for key, value in (cli or {}).items():
            if value is None:
                continue
            field = _field_name(key, source="command line")
            merged[field] = value
            origin[field] = f"command-line option {field}"

        try:
            return cls.model_validate(merged)
        except ValidationError as err:
            first = err.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            value = merged.get(field)
            if field == "api_key":
                shown = "***"
            elif field == "base_url" and isinstance(value, str):
                shown = repr(redact_url(value))
            else:
                shown = repr(value)
            raise MedboardInputError(
                f"invalid model setting {field}={shown}: {first['msg']}",
                source=origin.get(field, "model settings"),
            ) from None


def default_config_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Config files looked at, in order: $MEDBOARD_CONFIG, ./medboard.toml, the user's config dir."""
    env = os.environ if env is None else env
    paths: list[Path] = []
    if env.get(CONFIG_ENV_VAR):
        paths.append(Path(env[CONFIG_ENV_VAR]).expanduser())
    paths.append(Path("medboard.toml"))
    config_home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    paths.extend([config_home / "medboard" / "config.toml", config_home / "medboard" / "config.yaml"])
    return paths


def load_config_section(path: Path) -> dict[str, Any]:
    """The `[model]` section of a TOML or YAML config file, keys normalised to field names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise MedboardInputError(f"cannot read config file: {err.strerror}", source=str(path)) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as err:  # tomllib.TOMLDecodeError / yaml.YAMLError: both are "bad file"
        kind = path.suffix.lstrip(".") or "TOML"
        raise MedboardInputError(f"not valid {kind}: {err}", source=str(path)) from None
    if not isinstance(data, dict):
        raise MedboardInputError("expected a mapping at the top level", source=str(path))
    section = data.get("model", {})
    if not isinstance(section, dict):
        raise MedboardInputError("[model] must be a table/mapping", source=str(path), location="model")
    return {_field_name(k, source=str(path)): v for k, v in section.items()}


def _field_name(key: str, *, source: str) -> str:
    key = key.strip().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in ModelEndpoint.model_fields:
        known = ", ".join(sorted(ModelEndpoint.model_fields))
        raise MedboardInputError(f"unknown model setting {key!r} (known: {known})", source=source)
    return key


def _first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)
