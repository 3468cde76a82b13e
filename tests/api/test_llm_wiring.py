"""The pipeline wired into the app: test-prompt over the real SDKs against the fake provider, the SQL ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import LLMRequest
from services.ledger import SqlLedgerSink
from services.llm import ConfigError, LedgerRecord, PriceTable
from services.llm.types import Usage
from tests.clock import FIXED_NOW

CAPTION_VARS = {"product_name": "Sparkling Water 500ml", "platform": "instagram", "style": "casual", "max_chars": 150}


@pytest.fixture
def app(make_llm_app: Callable[..., Flask]) -> Flask:
    """The app wired to the fake provider (`provider`), with the real prompts/ synced into its database."""
    return make_llm_app()


def post_test_prompt(client: Any, user: dict[str, Any], **body: Any) -> Any:
    return client.post("/api/planogram/test-prompt", json=body, headers=user["headers"])


def expected_cost(model: str, usage: dict[str, int]) -> float:
    return PriceTable().cost(model, Usage(usage["prompt"], usage["completion"], usage["cached"]))


def ledger(client: Any, user: dict[str, Any], request_id: str) -> Any:
    return client.get(f"/api/llm/requests/{request_id}", headers=user["headers"])


def test_run_reports_server_usage_then_is_cached_and_both_are_on_the_ledger(
    client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(
        text='{"caption": "Cold, crisp, right here.", "character_count": 24, "style": "casual", '
        '"alt_text": "A bottle of sparkling water.", "confidence": 0.9}'
    )
    first = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True)
    assert first.status_code == 200, first.json
    body = first.json
    served = fake.calls[-1]
    assert body["prompt_name"] == "caption" and body["variant"] in {"A", "B"}
    assert "Sparkling Water 500ml" in body["rendered_text"] and "instagram" in body["rendered_text"]
    assert body["token_estimate"] > 0 and body["cost_estimate_usd"] > 0
    result = body["result"]
    assert (result["status"], result["cached"], result["fallback_used"], result["provider"]) == (
        "ok",
        False,
        False,
        "anthropic",
    )
    assert result["model"] == served.model == body["model"] == "claude-haiku-5-5"
    assert (result["tokens_in"], result["tokens_out"], result["tokens_cached"]) == (
        served.usage["prompt"],
        served.usage["completion"],
        served.usage["cached"],
    )
    assert result["cost_usd"] == pytest.approx(expected_cost(served.model, served.usage))
    assert 0 < result["cost_usd"] <= body["cost_estimate_usd"]
    assert result["text"] == served.text

    second = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json["result"]
    assert len(fake.calls) == 1
    assert (second["status"], second["cached"], second["cost_usd"], second["text"]) == (
        "cached",
        True,
        0.0,
        result["text"],
    )
    assert second["variant"] == result["variant"]  # sticky per user

    row = ledger(client, admin, result["request_id"]).json
    assert {k: row[k] for k in ("status", "model", "provider", "tokens_in", "tokens_out", "cached", "attempts")} == {
        "status": "ok",
        "model": "claude-haiku-5-5",
        "provider": "anthropic",
        "tokens_in": result["tokens_in"],
        "tokens_out": result["tokens_out"],
        "cached": False,
        "attempts": 1,
    }
    assert row["cost_usd"] == pytest.approx(result["cost_usd"])
    assert (row["prompt_name"], row["prompt_version"], row["variant"]) == (
        "caption",
        result["prompt_version"],
        result["variant"],
    )
    cached_row = ledger(client, admin, second["request_id"]).json
    assert (cached_row["status"], cached_row["cached"], cached_row["cost_usd"]) == ("cached", True, 0.0)
    # The hit sent nothing: provider tokens 0, the original call's tokens and cost recorded as saved.
    assert (cached_row["tokens_in"], cached_row["tokens_out"]) == (0, 0)
    saved = (cached_row["saved_tokens_in"], cached_row["saved_tokens_out"])
    assert saved == (result["tokens_in"], result["tokens_out"])
    assert cached_row["saved_usd"] == pytest.approx(result["cost_usd"])
    totals = client.get("/api/planogram/ai-usage", headers=admin["headers"]).json["totals"]
    assert (totals["input_tokens"], totals["output_tokens"]) == (served.usage["prompt"], served.usage["completion"])
    assert (totals["saved_input_tokens"], totals["saved_output_tokens"]) == (
        served.usage["prompt"],
        served.usage["completion"],
    )
    assert totals["saved_usd"] == pytest.approx(result["cost_usd"])


def test_preview_only_does_not_call_the_provider_or_write_the_ledger(
    app: Flask, client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    body = post_test_prompt(
        client,
        admin,
        prompt_name="hashtags",
        run=False,
        variables={"product_name": "Oat Bar", "platform": "tiktok", "max_hashtags": 10},
    ).json
    assert body["result"] is None and fake.calls == []
    assert body["tier"] == "fast" and body["max_output_tokens"] > 0
    with app.app_context():
        assert db.session.scalars(select(LLMRequest)).all() == []


def test_user_text_is_data_never_template_syntax(client: Any, admin: dict[str, Any]) -> None:
    variables = {**CAPTION_VARS, "product_name": "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}"}
    body = post_test_prompt(client, admin, prompt_name="caption", variables=variables).json
    assert "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}" in body["rendered_text"]
    assert "49" not in body["rendered_text"]


@pytest.mark.parametrize("provider", ["openai"])
def test_openai_provider_reports_server_usage(client: Any, admin: dict[str, Any], fake: FakeLLMServer) -> None:
    result = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json["result"]
    served = fake.calls[-1]
    assert served.api == "openai"
    assert (result["status"], result["provider"], result["model"]) == ("ok", "openai", served.model)
    assert served.model == "gpt-5.6-luna"
    assert (result["tokens_in"], result["tokens_out"]) == (served.usage["prompt"], served.usage["completion"])
    assert result["cost_usd"] == pytest.approx(expected_cost(served.model, served.usage))
    again = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json["result"]
    assert (again["cached"], again["cost_usd"], len(fake.calls)) == (True, 0.0, 1)


@pytest.mark.parametrize("provider", [None])
def test_without_a_provider_the_result_is_a_flagged_fallback(
    client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    body = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json
    assert body["model"] is None and body["cost_estimate_usd"] == 0
    result = body["result"]
    assert (result["fallback_used"], result["status"], result["error_kind"], result["cost_usd"]) == (
        True,
        "fallback",
        "no_provider",
        0.0,
    )
    assert fake.calls == []
    row = ledger(client, admin, result["request_id"]).json
    assert (row["status"], row["error_kind"], row["fallback_used"]) == ("fallback", "no_provider", True)


def test_provider_failure_falls_back_and_the_ledger_says_why(
    client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(error="500", times=None)
    result = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json["result"]
    assert (result["fallback_used"], result["error_kind"]) == (True, "server_error")
    row = ledger(client, admin, result["request_id"]).json
    assert (row["status"], row["error_kind"]) == ("fallback", "server_error") and row["attempts"] >= 2


def test_unknown_prompt_and_missing_variables_are_422s_naming_them(client: Any, admin: dict[str, Any]) -> None:
    unknown = post_test_prompt(client, admin, prompt_name="no_such_prompt", variables={})
    assert unknown.status_code == 422
    assert unknown.json["error"]["details"] == [
        {"field": "prompt_name", "reason": "no active version of prompt 'no_such_prompt'"}
    ]
    missing = post_test_prompt(client, admin, prompt_name="caption", variables={"product_name": "Cola"})
    assert missing.status_code == 422
    detail = missing.json["error"]["details"][0]
    assert detail["field"] == "variables"
    assert "platform" in detail["reason"] and "style" in detail["reason"] and "max_chars" in detail["reason"]
    malformed = post_test_prompt(client, admin, variables={})
    assert malformed.status_code == 422 and malformed.json["error"]["details"][0]["field"] == "prompt_name"


def test_roles_and_ledger_ownership(
    client: Any, admin: dict[str, Any], viewer: dict[str, Any], make_user: Callable[..., dict[str, Any]]
) -> None:
    denied = post_test_prompt(client, viewer, prompt_name="caption", variables=CAPTION_VARS, run=True)
    assert denied.status_code == 403
    other_admin = make_user("admin")
    request_id = post_test_prompt(client, admin, prompt_name="caption", variables=CAPTION_VARS, run=True).json[
        "result"
    ]["request_id"]
    assert ledger(client, viewer, request_id).status_code == 404  # not theirs: not found, not probed
    assert ledger(client, other_admin, request_id).status_code == 200
    assert ledger(client, admin, "nope").status_code == 404
    assert client.get(f"/api/llm/requests/{request_id}").status_code == 401


def test_owner_reads_their_own_ledger_row(app: Flask, client: Any, viewer: dict[str, Any]) -> None:
    from services.ai import pipeline
    from services.auth import user_for_token

    with app.test_request_context():
        owner = user_for_token(viewer["token"])
        assert owner is not None
        owner_id = owner.id  # the call releases the session's connection: its objects reload on next access
        result = pipeline().run("caption", "caption", CAPTION_VARS, user_id=str(owner_id))
    row = ledger(client, viewer, result.request_id)
    assert row.status_code == 200 and row.json["user_id"] == owner_id


def test_ledger_row_survives_a_rollback_of_the_request_session(app: Flask) -> None:
    from services.ai import pipeline

    with app.app_context():
        result = pipeline().run("caption", "caption", CAPTION_VARS, user_id="job-7")
        db.session.rollback()
        row = db.session.get(LLMRequest, result.request_id)
        assert row is not None and row.user_id is None and row.feature == "caption"


def test_sql_ledger_sink_works_from_a_thread_without_app_context(app: Flask) -> None:
    import threading

    now = FIXED_NOW
    record = LedgerRecord(
        "r" * 32,
        "thread_feature",
        None,
        None,
        None,
        "p",
        1,
        "A",
        1,
        2,
        0,
        0.5,
        3.0,
        "fallback",
        "no_provider",
        False,
        True,
        "999999",
        now,
        now,
        0,
    )
    sink = SqlLedgerSink(app)
    thread = threading.Thread(target=sink.record, args=(record,))
    thread.start()
    thread.join()
    with app.app_context():
        row = db.session.get(LLMRequest, "r" * 32)
        assert row is not None and row.feature == "thread_feature" and row.cost_usd == 0.5
        assert row.user_id in (None, 999999)  # kept, linked only where the database enforces the key


def test_bad_llm_configuration_fails_create_app(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY=None, ANTHROPIC_BASE_URL=None)
    with pytest.raises(ConfigError, match="no-such-model"):
        make_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="k", LLM_MODEL_FAST="no-such-model")
    with pytest.raises(ConfigError, match="unknown LLM provider"):
        make_app(LLM_PROVIDER="gemini")


def test_create_app_wires_redis_when_configured(app: Flask) -> None:
    from services.ai import pipeline
    from services.runtime import EXTENSION_KEY

    with app.app_context():
        backend = pipeline().cache.backend
        mode = app.extensions[EXTENSION_KEY].mode
    if mode == "redis":  # Redis behind the failover wrapper (misses while Redis is down)
        assert type(backend).__name__ == "FailoverCache"
        assert type(getattr(backend, "primary", None)).__name__ == "RedisCacheBackend"
    else:
        assert type(backend).__name__ == "MemoryCacheBackend"


def test_fake_llm_cli_is_registered(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["fake-llm", "--help"])
    assert result.exit_code == 0 and "--port" in result.output
