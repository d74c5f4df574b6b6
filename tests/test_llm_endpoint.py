"""ModelEndpoint settings: CLI > environment > config file > defaults, and errors that name the source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medboard.errors import MedboardInputError
from medboard.llm.endpoint import DEFAULT_MODEL, ModelEndpoint, default_config_paths


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
