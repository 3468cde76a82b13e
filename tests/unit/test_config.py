"""TestConfig is built from explicit values only: settings exported in the shell never reach a test app."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from config import Config, TestConfig

HOSTILE = {
    "RATELIMIT_DEFAULT": "2 per minute",
    "RATELIMIT_ENABLED": "false",
    "LLM_PROVIDER": "openai",
    "ANTHROPIC_API_KEY": "shell-anthropic-key",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic",
    "OPENAI_API_KEY": "shell-openai-key",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/openai",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    "OPTIMIZATION_STEP_DELAY_MS": "5000",
    "SECRET_KEY": "from-the-shell",
}


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Export settings that would break the suite if any of them leaked into a test app."""
    for name, value in HOSTILE.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("hostile_env")
def test_config_reads_the_environment() -> None:
    config = Config()
    assert (config.RATELIMIT_DEFAULT, config.LLM_PROVIDER, config.REDIS_URL) == (
        "2 per minute",
        "openai",
        "redis://127.0.0.1:9/0",
    )


@pytest.mark.usefixtures("hostile_env")
def test_test_config_ignores_the_environment() -> None:
    config = TestConfig()
    assert vars(config) == vars(_clean_test_config())
    assert config.RATELIMIT_DEFAULT == "600 per minute" and config.RATELIMIT_ENABLED is True
    assert config.LLM_PROVIDER is None and config.REDIS_URL is None
    assert config.ANTHROPIC_API_KEY is None and config.OPENAI_API_KEY is None
    assert config.ANTHROPIC_BASE_URL is None and config.OPENAI_BASE_URL is None
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SECRET_KEY == "test-secret-key" and config.OPTIMIZATION_STEP_DELAY_MS == 0


@pytest.mark.usefixtures("hostile_env")
def test_test_config_takes_explicit_overrides() -> None:
    assert TestConfig(RATELIMIT_DEFAULT="5 per hour").RATELIMIT_DEFAULT == "5 per hour"


def test_an_app_built_under_a_hostile_shell_is_untouched(hostile_env: None, app: Flask, viewer: dict[str, Any]) -> None:
    assert app.config["LLM_PROVIDER"] is None and app.config["REDIS_URL"] in (None, app.config["RATELIMIT_STORAGE_URI"])
    client = app.test_client()
    statuses = [client.get("/api/devices", headers=viewer["headers"]).status_code for _ in range(4)]
    assert statuses == [200] * 4  # "2 per minute" from the shell would answer 429 on the third


def _clean_test_config() -> TestConfig:
    """A TestConfig built while the environment is empty of every hostile name."""
    with pytest.MonkeyPatch.context() as patch:
        for name in HOSTILE:
            patch.delenv(name, raising=False)
        return TestConfig()


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("JOB_WORKERS", "two", "JOB_WORKERS must be an integer, got 'two'"),
        ("SSE_HEARTBEAT_SECONDS", "soon", "SSE_HEARTBEAT_SECONDS must be a number, got 'soon'"),
        ("OPTIMIZER_MAX_NEW_SKUS", "-1", "OPTIMIZER_MAX_NEW_SKUS must be at least 0"),
        ("OPTIMIZER_MAX_NEW_SKUS", "few", "OPTIMIZER_MAX_NEW_SKUS must be an integer or 'none', got 'few'"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_it(name: str, value: str, reason: str) -> None:
    with pytest.raises(RuntimeError, match=reason):
        Config(environ={name: value})


def test_config_reads_an_explicit_mapping() -> None:
    config = Config(environ={"JOB_WORKERS": " 5 ", "OPTIMIZER_MAX_NEW_SKUS": "none", "LOG_JSON": "no"})
    assert (config.JOB_WORKERS, config.OPTIMIZER_MAX_NEW_SKUS, config.LOG_JSON) == (5, None, False)
