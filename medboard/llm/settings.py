"""Where model settings come from: the command line, the environment, a config file (in that order).

`ModelSettings` is the pydantic-settings model of the settings: `ModelEndpoint`'s fields (defined
once, there), loaded from three sources, highest precedence first; pydantic-settings merges them
and validates the result, and a field no source sets keeps its default. `ModelSettings.resolve`
(what `ModelEndpoint.from_sources` calls) returns the plain `ModelEndpoint` the rest of the code
passes around. The sources are ours, not the library's stock ones, for two reasons:

- the environment variable names are documented and irregular (`MEDBOARD_MODEL_URL` for
  `base_url`, `MEDBOARD_RUN_BUDGET_S` for `run_budget_s`, …; `ENV_VARS` lists them all), and
- a bad value must be reported as the one line that names where it came from
  (``environment variable MEDBOARD_MODEL_CONCURRENCY``, ``medboard.toml [model] timeout``,
  ``command-line option base_url``), so every source can say where each of its values is from.

The config file is the first existing one of `default_config_paths` ($MEDBOARD_CONFIG,
./medboard.toml, the user's config folder), TOML or YAML, section `[model]`; its keys may use the
friendlier spellings of `ALIASES`. The API key leaves every source as a `SecretStr`, so even
pydantic-settings' own debug log of the sources (`PYDANTIC_SETTINGS_DEBUG`) shows it masked.

Light on purpose (pydantic, pydantic-settings and the standard library; YAML only when a YAML
file is read): the CLI builds an endpoint before deciding whether autogen is needed at all.
`ModelEndpoint(...)` itself stays a plain model: cheap, and blind to the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from medboard.errors import MedboardInputError, first_problem
from medboard.llm.endpoint import ModelEndpoint
from medboard.textsafety import redact_url

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

#: Fields whose values are credentials: masked in every source and every message.
SECRET_FIELDS = frozenset({"api_key"})


class ModelSettings(ModelEndpoint, BaseSettings):
    """`ModelEndpoint`'s fields as pydantic-settings loads them (construct through `resolve`)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: `resolve` passes the real sources; no stock env/.env/secrets source."""
        return (init_settings,)

    @classmethod
    def resolve(
        cls,
        cli: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> ModelEndpoint:
        """The endpoint from CLI values > environment > config file > defaults (as `from_sources`)."""
        env = os.environ if env is None else env
        path = config_file if config_file is not None else first_existing(default_config_paths(env))
        # Highest precedence first: pydantic-settings keeps the first source's value of each field.
        sources = (cli_source(cls, cli), env_source(cls, env), file_source(cls, path))
        try:
            # `_build_sources` is pydantic-settings' own per-instance option (mypy sees only the fields).
            settings = cls(_build_sources=(sources, {}))  # type: ignore[call-arg]
        except ValidationError as err:
            raise _setting_error(err, sources) from None
        return ModelEndpoint.model_validate({k: getattr(settings, k) for k in settings.model_fields_set})


def _setting_error(err: ValidationError, sources: tuple[NamedSource, ...]) -> MedboardInputError:
    """The first bad value as one line naming the setting, its (masked) value and where it came from."""
    first = first_problem(err)
    field = str(first.loc[0]) if first.loc else "?"
    source = next((s for s in sources if s.origin(field) is not None), None)
    value = source.values.get(field) if source is not None else None
    if field in SECRET_FIELDS:
        shown = "***"
    elif field == "base_url" and isinstance(value, str):
        shown = repr(redact_url(value))
    else:
        shown = repr(value)
    return MedboardInputError(
        f"invalid model setting {field}={shown}: {first.message}",
        source=(source.origin(field) if source is not None else None) or "model settings",
    )


class NamedSource(PydanticBaseSettingsSource):
    """Settings from one place, each value remembering where it came from (for error messages)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        name: str,
        values: Mapping[str, Any],
        origins: Mapping[str, str],
    ) -> None:
        super().__init__(settings_cls)
        self.__name__ = name  # what pydantic-settings' debug log calls this source
        self.values = {
            k: SecretStr(v) if k in SECRET_FIELDS and isinstance(v, str) else v for k, v in values.items()
        }
        self.origins = dict(origins)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)

    def origin(self, field: str) -> str | None:
        """Where this source's value of `field` came from, or None if it sets no such value."""
        return self.origins.get(field) if field in self.values else None


def cli_source(settings_cls: type[BaseSettings], cli: Mapping[str, Any] | None) -> NamedSource:
    """Values given in code or on the command line: field names or `ALIASES`; None = "not given"."""
    values: dict[str, Any] = {}
    for key, value in (cli or {}).items():
        if value is not None:
            values[field_name(key, settings_cls, source="command line")] = value
    return NamedSource(settings_cls, "command line", values, {f: f"command-line option {f}" for f in values})


def env_source(settings_cls: type[BaseSettings], env: Mapping[str, str]) -> NamedSource:
    """The documented `ENV_VARS`; an empty or blank variable counts as unset."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for var, field in ENV_VARS.items():
        raw = env.get(var)
        if raw is not None and raw.strip() != "":
            values[field] = raw.strip()
            origins[field] = f"environment variable {var}"
    return NamedSource(settings_cls, "environment", values, origins)


def file_source(settings_cls: type[BaseSettings], path: Path | None) -> NamedSource:
    """The `[model]` section of `path` (nothing when `path` is None)."""
    if path is None:
        return NamedSource(settings_cls, "config file", {}, {})
    values = load_config_section(path, settings_cls)
    return NamedSource(settings_cls, "config file", values, {k: f"{path} [model] {k}" for k in values})


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


def first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def load_config_section(path: Path, settings_cls: type[BaseSettings]) -> dict[str, Any]:
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
    return {field_name(k, settings_cls, source=str(path)): v for k, v in section.items()}


def field_name(key: str, settings_cls: type[BaseSettings], *, source: str) -> str:
    """`key` as a field of `settings_cls` (``-`` → ``_``, `ALIASES` applied); unknown keys are bad input."""
    key = key.strip().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in settings_cls.model_fields:
        known = ", ".join(sorted(settings_cls.model_fields))
        raise MedboardInputError(f"unknown model setting {key!r} (known: {known})", source=source)
    return key
