"""ModelEndpoint settings: CLI > environment > config file > defaults, and errors that name the source."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medboard.errors import MedboardInputError
from medboard.llm.endpoint import DEFAULT_MODEL, ModelEndpoint
from medboard.llm.settings import ENV_VARS, default_config_paths


def write_toml(tmp_path: Path) -> Path:
    path = tmp_path / "medboard.toml"
    path.write_text(
        '[model]\nurl = "http://file-host:9000"\nname = "file-model"\ntimeout = 30\n'
        'max_concurrency = 3\nimages_per_prompt = 4\napi_key = "file-secret"\n'
    )
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    endpoint = ModelEndpoint.from_sources({}, env={}, config_file=None)
    # No MEDBOARD_CONFIG and the test's cwd/home may hold no config: compare with the plain defaults
    # only when no default config file exists on this machine.
    if not any(p.is_file() for p in default_config_paths({})):
        assert endpoint == ModelEndpoint()
    assert ModelEndpoint().model == DEFAULT_MODEL
    assert ModelEndpoint().api_key.get_secret_value() == "EMPTY"


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    config = write_toml(tmp_path)
    from_file = ModelEndpoint.from_sources({}, env={}, config_file=config)
    assert from_file.base_url == "http://file-host:9000/v1"
    assert (from_file.model, from_file.timeout_s, from_file.images_per_prompt) == ("file-model", 30, 4)

    env = {"MEDBOARD_MODEL": "env-model", "MEDBOARD_MODEL_CONCURRENCY": "8", "MEDBOARD_MODEL_TIMEOUT": ""}
    from_env = ModelEndpoint.from_sources({}, env=env, config_file=config)
    assert (from_env.model, from_env.max_concurrency, from_env.timeout_s) == ("env-model", 8, 30)

    cli = {"model": "cli-model", "base_url": None, "max_concurrency": 2}
    from_cli = ModelEndpoint.from_sources(cli, env=env, config_file=config)
    assert (from_cli.model, from_cli.max_concurrency) == ("cli-model", 2)
    assert from_cli.base_url == "http://file-host:9000/v1"  # None = flag not given
    assert from_cli.api_key.get_secret_value() == "file-secret"


def test_config_file_found_through_env_and_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  base_url: https://models.example.org/openai/v1/\n  vision: false\n")
    endpoint = ModelEndpoint.from_sources({}, env={"MEDBOARD_CONFIG": str(path)})
    assert endpoint.base_url == "https://models.example.org/openai/v1"
    assert endpoint.vision is False


def test_bad_values_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(MedboardInputError, match="environment variable MEDBOARD_MODEL_CONCURRENCY"):
        ModelEndpoint.from_sources({}, env={"MEDBOARD_MODEL_CONCURRENCY": "many"}, config_file=None)
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\ntemprature = 0.2\n")
    with pytest.raises(MedboardInputError, match=r"bad.toml: unknown model setting 'temprature'"):
        ModelEndpoint.from_sources({}, env={}, config_file=bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\n")
    with pytest.raises(MedboardInputError, match=r"broken\.toml: not valid toml"):
        ModelEndpoint.from_sources({}, env={}, config_file=broken)
    with pytest.raises(MedboardInputError, match="command-line option base_url"):
        ModelEndpoint.from_sources({"base_url": "localhost:8000"}, env={}, config_file=None)


def test_api_key_never_shown() -> None:
    endpoint = ModelEndpoint.from_sources({}, env={"MEDBOARD_API_KEY": "s3cr3t-token"}, config_file=None)
    assert endpoint.api_key.get_secret_value() == "s3cr3t-token"
    assert "s3cr3t" not in repr(endpoint) and "s3cr3t" not in endpoint.describe()
    assert "s3cr3t" not in endpoint.model_dump_json()


#: field -> (environment variable, config-file key, its value at each level: cli, env, toml, default).
PRECEDENCE: dict[str, tuple[str, str, dict[str, object]]] = {
    "model": (
        "MEDBOARD_MODEL",
        "name",
        {"cli": "cli-m", "env": "env-m", "toml": "toml-m", "default": DEFAULT_MODEL},
    ),
    "timeout_s": (
        "MEDBOARD_MODEL_TIMEOUT",
        "timeout",
        {"cli": 11.0, "env": 22.0, "toml": 33.0, "default": 120.0},
    ),
    "max_concurrency": (
        "MEDBOARD_MODEL_CONCURRENCY",
        "concurrency",
        {"cli": 5, "env": 6, "toml": 7, "default": 4},
    ),
}
LEVELS = ["cli", "env", "toml", "default"]


@pytest.mark.parametrize("top", LEVELS)
@pytest.mark.parametrize("field", sorted(PRECEDENCE))
def test_precedence_table(field: str, top: str, tmp_path: Path) -> None:
    """With the setting given at `top` and every level below it, the `top` value wins."""
    var, key, values = PRECEDENCE[field]
    present = LEVELS[LEVELS.index(top) :]
    cli = {field: values["cli"]} if "cli" in present else {}
    env = {var: str(values["env"])} if "env" in present else {}
    config = tmp_path / "medboard.toml"
    config.write_text(f"[model]\n{key} = {values['toml']!r}\n" if "toml" in present else "[model]\n")
    endpoint = ModelEndpoint.from_sources(cli, env=env, config_file=config)
    assert getattr(endpoint, field) == values[top]


def test_plain_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ModelEndpoint(...)` is the values given over the defaults; only from_sources reads the environment."""
    monkeypatch.setenv("MEDBOARD_MODEL", "env-model")
    monkeypatch.setenv("MEDBOARD_RUN_BUDGET_S", "1")
    endpoint = ModelEndpoint(timeout_s=5)
    assert (endpoint.model, endpoint.run_budget_s, endpoint.timeout_s) == (DEFAULT_MODEL, 240.0, 5)
    assert ModelEndpoint.from_sources({}, config_file=None).model == "env-model"


@pytest.mark.parametrize("where", ["cli", "env", "toml"])
def test_api_key_never_in_repr_messages_or_logs(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """From any source, the key is masked everywhere, even in pydantic-settings' own debug log."""
    monkeypatch.setenv("PYDANTIC_SETTINGS_DEBUG", "1")
    caplog.set_level(logging.DEBUG)
    secret = "sk-s3cr3t-from-" + where
    config = tmp_path / "medboard.toml"
    config.write_text(f'[model]\napi_key = "{secret}"\n' if where == "toml" else "[model]\n")
    cli = {"api_key": secret} if where == "cli" else {}
    env = {"MEDBOARD_API_KEY": secret} if where == "env" else {}
    endpoint = ModelEndpoint.from_sources(cli, env=env, config_file=config)
    assert endpoint.api_key.get_secret_value() == secret
    assert "pydantic_settings" in {r.name for r in caplog.records}  # the debug log did run
    shown = [repr(endpoint), str(endpoint), endpoint.describe(), endpoint.model_dump_json()]
    for text in [*shown, str(endpoint.model_dump()), caplog.text]:
        assert "s3cr3t" not in text
    # A bad value elsewhere, with the key set: the one-line error does not carry the key either.
    with pytest.raises(MedboardInputError) as info:
        ModelEndpoint.from_sources({**cli, "timeout_s": -1}, env=env, config_file=config)
    assert "s3cr3t" not in str(info.value) and "timeout_s=-1" in str(info.value)
    with pytest.raises(MedboardInputError, match=r"invalid model setting api_key=\*\*\*: ") as bad:
        ModelEndpoint.from_sources({"api_key": ["s3cr3t"]}, env={}, config_file=config)
    assert "s3cr3t" not in str(bad.value)


def test_every_documented_model_variable_is_read_and_every_variable_documented() -> None:
    """The names users were told about keep working; the table in docs/serving.md lists them all."""
    root = Path(__file__).resolve().parents[1]
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    text = " ".join(p.read_text() for p in docs)
    # `MEDBOARD_FHIR_*`, `MEDBOARD_FHIR_SMART_*`: families, not names.
    named = set(re.findall(r"MEDBOARD_[A-Z_]*[A-Z]", text)) - set(
        re.findall(r"(MEDBOARD_[A-Z_]*[A-Z])_\*", text)
    )
    not_model = {"MEDBOARD_CONFIG", "MEDBOARD_LOCAL_MODEL", "MEDBOARD_LOCAL_VENV", "MEDBOARD_CACHE_DIR"}
    # Other owners of MEDBOARD_* names: the FHIR client (MEDBOARD_FHIR_<field>), the HTTP service
    # (its own table), the caps (limits.py); each documented name must be read by its owner.
    from medboard.service.settings import ENV_VARS as SERVICE_VARS
    from medboard.tools.fhir_server.settings import ENV_PREFIX, FhirServerSettings

    fhir_fields = {f"{ENV_PREFIX}{name.upper()}" for name in FhirServerSettings.model_fields}
    fhir_named = {n for n in named if n.startswith(ENV_PREFIX)}
    assert fhir_named <= fhir_fields, fhir_named - fhir_fields
    service_named = {n for n in named if n in SERVICE_VARS and n not in ENV_VARS}
    model_vars = {
        n
        for n in named - not_model - fhir_named - service_named
        if not n.startswith("MEDBOARD_MAX")  # caps: limits.py
    }
    assert model_vars == set(ENV_VARS)
    table = (root / "docs" / "serving.md").read_text()
    for var, field in ENV_VARS.items():
        assert f"`{field}`" in table and f"`{var}`" in table, var


def test_importing_the_model_layer_is_light() -> None:
    code = (
        "import sys, medboard.llm as llm\n"
        "llm.ModelEndpoint\n"
        "heavy = [m for m in ('autogen_core', 'autogen_ext', 'openai') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "llm.ModelCaller\n"
        "assert 'openai' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
