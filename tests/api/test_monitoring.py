"""Monitoring API: usage figures equal the ledger's own sums, cache stats and invalidation, prompts A/B, providers,
alerts and readiness. The ledger is filled by real pipeline calls against the fake provider over HTTP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from pydantic import BaseModel
from scipy.stats import fisher_exact
from sqlalchemy import func, select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import GeneratedContent, LLMRequest, User
from services.ledger import SqlLedgerSink
from services.llm import LedgerRecord
from tests.clock import FIXED_TODAY, days_ago
from tests.conftest import POSTGRES_MODE

CAPTION = {"platform": "instagram", "style": "casual", "max_chars": 150}
HASHTAGS = {"platform": "tiktok", "max_hashtags": 8}


class Caption(BaseModel):
    caption: str


@pytest.fixture
def app(make_llm_app: Callable[..., Flask]) -> Flask:
    return make_llm_app()


def user_id(app: Flask, user: dict[str, Any]) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.email == user["email"])).one()


def make_calls(app: Flask, fake: FakeLLMServer, users: list[int]) -> dict[str, Any]:
    """Real pipeline calls: AI answers, cache hits, a bad-output fallback; plus one ledger row 10 days old."""
    from services.ai import pipeline

    results = []
    with app.app_context():
        llm = pipeline()
        # The second Cola is a cache hit (same user: the A/B variant is sticky per user and part of the key).
        for product, who in (("Cola", 0), ("Oat Bar", -1), ("Water", -1), ("Cola", 0)):
            uid = str(users[who])
            results.append(llm.run("content_caption", "caption", {**CAPTION, "product_name": product}, user_id=uid))
        for product in ("Crisps", "Crisps"):
            results.append(
                llm.run(
                    "content_hashtags",
                    "hashtags",
                    {**HASHTAGS, "product_name": product},
                    user_id=str(users[0]),
                    tags=["device:D1"],
                )
            )
        fake.add(text="this is not JSON at all", times=2)  # the answer and its one repair turn
        results.append(
            llm.run(
                "content_caption", "caption", {**CAPTION, "product_name": "Gum"}, schema=Caption, user_id=str(users[-1])
            )
        )
    old = days_ago(10)
    SqlLedgerSink(app).record(
        LedgerRecord(
            "old" + "0" * 29,
            "content_caption",
            "anthropic",
            "claude-haiku-5-5",
            "fast",
            "caption",
            1,
            "A",
            100,
            20,
            0,
            0.25,
            900.0,
            "ok",
            None,
            False,
            False,
            None,
            old,
            old,
            1,
        )
    )
    statuses = [r.status for r in results]
    assert statuses.count("cached") == 2 and statuses.count("fallback") == 1, statuses
    assert results[-1].error_kind == "bad_output"
    return {"results": results}


def window_rows(app: Flask, start: datetime, end: datetime) -> list[LLMRequest]:
    with app.app_context():
        rows = db.session.scalars(
            select(LLMRequest).where(LLMRequest.created_at >= start, LLMRequest.created_at < end)
        ).all()
        db.session.expunge_all()
        return list(rows)


def sql_sums(app: Flask, column: Any, start: datetime, end: datetime) -> dict[Any, dict[str, Any]]:
    """The ledger's own GROUP BY sums for one grouping column."""
    with app.app_context():
        rows = db.session.execute(
            select(
                column,
                func.count(),
                func.sum(LLMRequest.input_tokens),
                func.sum(LLMRequest.output_tokens),
                func.sum(LLMRequest.cached_tokens),
                func.sum(LLMRequest.cost_usd),
            )
            .where(LLMRequest.created_at >= start, LLMRequest.created_at < end)
            .group_by(column)
        ).all()
    return {
        key: {"requests": n, "input_tokens": i, "output_tokens": o, "cached_tokens": c, "cost_usd": cost}
        for key, n, i, o, c, cost in rows
    }


def expected_rates(rows: list[LLMRequest]) -> dict[str, Any]:
    n = len(rows)
    errors = sum(1 for r in rows if r.error_kind and r.error_kind not in ("no_provider", "budget_exceeded"))
    latencies = [r.latency_ms for r in rows]
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {
        "cached": sum(r.cached for r in rows),
        "fallbacks": sum(r.fallback_used for r in rows),
        "errors": errors,
        "cache_hit_rate": pytest.approx(sum(r.cached for r in rows) / n, abs=1e-6),
        "fallback_rate": pytest.approx(sum(r.fallback_used for r in rows) / n, abs=1e-6),
        "error_rate": pytest.approx(errors / n, abs=1e-6),
        "latency_ms": {
            "p50": pytest.approx(p50, abs=1e-3),
            "p95": pytest.approx(p95, abs=1e-3),
            "p99": pytest.approx(p99, abs=1e-3),
        },
    }


def assert_matches(group: dict[str, Any], sums: dict[str, Any], rows: list[LLMRequest]) -> None:
    assert {k: group[k] for k in ("requests", "input_tokens", "output_tokens", "cached_tokens")} == {
        k: sums[k] for k in ("requests", "input_tokens", "output_tokens", "cached_tokens")
    }
    assert group["cost_usd"] == pytest.approx(sums["cost_usd"], abs=1e-8)
    assert {k: group[k] for k in expected_rates(rows)} == expected_rates(rows)


def get(client: Any, user: dict[str, Any], path: str) -> Any:
    response = client.get(path, headers=user["headers"])
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize(
    "group_by, column",
    [
        ("feature", LLMRequest.feature),
        ("model", LLMRequest.model),
        ("tier", LLMRequest.tier),
        ("user", LLMRequest.user_id),
    ],
)
def test_usage_groups_equal_the_ledgers_own_sums(
    app: Flask,
    client: Any,
    admin: dict[str, Any],
    make_user: Callable[..., dict[str, Any]],
    fake: FakeLLMServer,
    group_by: str,
    column: Any,
) -> None:
    marketer = make_user("marketer")
    make_calls(app, fake, [user_id(app, admin), user_id(app, marketer)])
    body = get(client, admin, f"/api/planogram/ai-usage?group_by={group_by}")
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    rows = window_rows(app, start, end)
    sums = sql_sums(app, column, start, end)
    assert len(rows) == 7 and body["totals"]["requests"] == 7  # the 10-day-old row is outside the window
    assert {g["key"] for g in body["groups"]} == set(sums)
    attr = "user_id" if group_by == "user" else group_by
    for group in body["groups"]:
        assert_matches(group, sums[group["key"]], [r for r in rows if getattr(r, attr) == group["key"]])
    total = {
        k: sum(s[k] for s in sums.values())
        for k in ("requests", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")
    }
    assert_matches(body["totals"], total, rows)
    assert body["totals"]["cached"] == 2 and body["totals"]["fallbacks"] == 1 and body["totals"]["errors"] == 1
    if group_by == "user":
        assert {g["label"] for g in body["groups"]} == {admin["email"], marketer["email"]}


def test_usage_by_day_covers_every_day_with_spend_against_the_budget(
    app: Flask, client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    make_calls(app, fake, [user_id(app, admin)])
    today = FIXED_TODAY
    start = today - timedelta(days=12)
    body = get(client, admin, f"/api/planogram/ai-usage?group_by=day&from={start}&to={today}")
    assert [g["key"] for g in body["groups"]] == [str(start + timedelta(days=n)) for n in range(13)]
    rows = window_rows(app, datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"]))
    assert len(rows) == 8  # the old row is in this window
    by_day: dict[str, list[LLMRequest]] = defaultdict(list)
    for row in rows:
        by_day[row.created_at.astimezone(UTC).date().isoformat()].append(row)
    budget = app.config["LLM_DAILY_BUDGET_USD"]
    for group in body["groups"]:
        day_rows = by_day.get(group["key"], [])
        assert group["requests"] == len(day_rows)
        assert group["cost_usd"] == pytest.approx(sum(r.cost_usd for r in day_rows), abs=1e-8)
        assert group["budget_usd"] == budget
        assert group["budget_used_pct"] == pytest.approx(100 * group["cost_usd"] / budget, abs=0.01)
        if day_rows:
            assert_matches(
                group,
                {
                    "requests": len(day_rows),
                    **{
                        k: sum(getattr(r, k) for r in day_rows)
                        for k in ("input_tokens", "output_tokens", "cached_tokens", "cost_usd")
                    },
                },
                day_rows,
            )
    ledger_today = sum(r.cost_usd for r in by_day[today.isoformat()])
    assert body["budget"]["ledger_spent_usd"] == pytest.approx(ledger_today, abs=1e-8)
    assert body["budget"]["budget_usd"] == budget and body["budget"]["day"] == today.isoformat()


def test_usage_rejects_bad_windows_and_non_admins(client: Any, admin: dict[str, Any], viewer: dict[str, Any]) -> None:
    assert client.get("/api/planogram/ai-usage", headers=viewer["headers"]).status_code == 403
    assert client.get("/api/planogram/ai-usage").status_code == 401
    for query in ("group_by=weekday", "from=yesterday", "from=2025-02-01&to=2025-01-01", "from=2020-01-01"):
        response = client.get(f"/api/planogram/ai-usage?{query}", headers=admin["headers"])
        assert response.status_code == 422, query


def test_cache_stats_and_clear_by_feature_tag_and_expired(
    app: Flask, client: Any, admin: dict[str, Any], viewer: dict[str, Any], fake: FakeLLMServer
) -> None:
    calls = make_calls(app, fake, [user_id(app, admin)])["results"]
    stats = get(client, admin, "/api/planogram/cache-stats")
    caption, hashtags = stats["by_feature"]["content_caption"], stats["by_feature"]["content_hashtags"]
    assert (caption["hits"], caption["misses"], hashtags["hits"], hashtags["misses"]) == (1, 4, 1, 1)
    first_cola = calls[0]
    assert caption["usd_saved"] == pytest.approx(first_cola.cost_usd, abs=1e-6)
    assert caption["tokens_saved"] == first_cola.tokens_in + first_cola.tokens_out
    assert stats["entries"] == 4 and stats["memory_bytes"] > 0  # 3 captions + 1 hashtag set
    assert stats["ledger"]["requests"] == 7 and stats["ledger"]["cached"] == 2
    by_feature = {g["key"]: g for g in stats["ledger"]["by_feature"]}
    assert by_feature["content_hashtags"]["cache_hit_rate"] == 0.5

    def clear(**body: Any) -> Any:
        return client.post("/api/planogram/clear-cache", json=body, headers=admin["headers"])

    assert client.post("/api/planogram/clear-cache", json={"all": True}, headers=viewer["headers"]).status_code == 403
    assert clear().status_code == 422 and clear(feature="x", tag="y").status_code == 422
    assert clear(expired_only=True).json == {"scope": "expired_only", "feature": None, "tag": None, "removed": 0}
    assert clear(tag="device:D1").json == {"scope": "tag", "feature": None, "tag": "device:D1", "removed": 1}
    assert clear(feature="content_caption").json["removed"] == 3
    assert get(client, admin, "/api/planogram/cache-stats")["entries"] == 0


def _drafts(app: Flask, variant: str, version: int, approved: int, rejected: int, pending: int = 0) -> None:
    with app.app_context():
        for status, count in (("approved", approved), ("rejected", rejected), ("draft", pending)):
            for _ in range(count):
                db.session.add(
                    GeneratedContent(
                        content_type="caption",
                        status=status,
                        ai_content="x",
                        content="x",
                        prompt_name="caption",
                        prompt_version=version,
                        prompt_variant=variant,
                        edit_distance=3 if status == "approved" else None,
                    )
                )
        db.session.commit()


def test_prompts_report_calls_cost_acceptance_and_ab_verdict(
    app: Flask, client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    make_calls(app, fake, [user_id(app, admin)])
    with app.app_context():
        versions = dict(
            db.session.execute(
                select(LLMRequest.prompt_variant, LLMRequest.prompt_version).where(LLMRequest.prompt_name == "caption")
            ).all()
        )
        from models import PromptTemplate

        templates = {
            t.variant: t.version
            for t in db.session.scalars(
                select(PromptTemplate).where(PromptTemplate.name == "caption", PromptTemplate.is_active.is_(True))
            )
        }
    a, b = templates["A"], templates["B"]
    _drafts(app, "A", a, approved=30, rejected=10, pending=4)
    _drafts(app, "B", b, approved=12, rejected=28)
    body = get(client, admin, "/api/monitoring/prompts")
    rows = {(r["prompt_name"], r["variant"]): r for r in body["prompts"]}
    row_a, row_b = rows[("caption", "A")], rows[("caption", "B")]
    assert (row_a["generated"], row_a["reviewed"], row_a["acceptance_pct"], row_a["pending"]) == (44, 40, 75.0, 4)
    assert row_b["acceptance_pct"] == 30.0 and row_a["mean_edit_distance"] == 3.0
    assert row_a["is_control"] and row_a["ab"] is None
    verdict = row_b["ab"]
    assert verdict["p_value"] == pytest.approx(fisher_exact([[12, 28], [30, 10]])[1], abs=1e-6)
    assert verdict["significant"] and verdict["verdict"] == "worse than control"
    assert verdict["acceptance_diff_pct"] == -45.0
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    rows_in = [r for r in window_rows(app, start, end) if r.prompt_name == "caption"]
    for variant in versions:
        mine = [r for r in rows_in if r.prompt_variant == variant]
        got = rows[("caption", variant)]
        assert got["calls"] == len(mine) and got["fallbacks"] == sum(r.fallback_used for r in mine)
        assert got["cost_usd"] == pytest.approx(sum(r.cost_usd for r in mine), abs=1e-8)
    assert rows[("hashtags", "A")]["ab"] is None  # one variant: nothing to compare


def test_ab_verdict_waits_for_enough_reviews(app: Flask, client: Any, admin: dict[str, Any]) -> None:
    _drafts(app, "A", 1, approved=5, rejected=0)
    _drafts(app, "B", 2, approved=0, rejected=5)
    rows = {r["variant"]: r for r in get(client, admin, "/api/monitoring/prompts")["prompts"]}
    verdict = rows["B"]["ab"]
    assert verdict["p_value"] is not None and not verdict["enough_reviews"]
    assert not verdict["significant"] and verdict["verdict"] == "not enough reviews"


def test_providers_report_breakers_and_recent_error_kinds(
    app: Flask, client: Any, admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    make_calls(app, fake, [user_id(app, admin)])
    body = get(client, admin, "/api/monitoring/providers?minutes=15")
    assert body["configured"] == "anthropic"
    assert body["providers"]["anthropic"]["state"] == "closed"
    assert [(e["error_kind"], e["count"], e["is_error"]) for e in body["error_kinds"]] == [("bad_output", 1, True)]
    counts = {(c["provider"], c["status"]): c["count"] for c in body["calls"]}
    # The unusable answer was billed by the provider that gave it: its fallback row names that provider.
    assert counts[("anthropic", "ok")] == 4 and counts[("anthropic", "fallback")] == 1
    assert sum(counts.values()) == 7
    assert client.get("/api/monitoring/providers?minutes=0", headers=admin["headers"]).status_code == 422


def test_alerts_endpoint_shows_budget_and_circuit_alerts(app: Flask, client: Any, admin: dict[str, Any]) -> None:
    from services.ai import pipeline

    with app.app_context():
        llm = pipeline()
        result = llm.run("content_caption", "caption", {**CAPTION, "product_name": "Cola"})
        assert result.status == "ok" and result.cost_usd > 0
        llm.costs.daily_budget_usd = result.cost_usd / 0.9  # today's spend is now 90 % of the budget
        for _ in range(llm.breaker.threshold):
            llm.breaker.record("anthropic", _server_error())
    alerts = {a["id"]: a for a in get(client, admin, "/api/monitoring/alerts")["alerts"]}
    assert alerts["circuit_open:anthropic"]["severity"] == "critical"
    assert alerts["budget_80"]["value"] == pytest.approx(90.0, abs=0.5) and "budget_100" not in alerts


def _server_error() -> Any:
    from services.llm.errors import ServerError

    return ServerError("boom")


def test_healthz_is_public_and_readyz_reports_each_check(client: Any, admin: dict[str, Any]) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    body = client.get("/readyz")
    assert body.status_code == 200 and body.json["status"] == "ready" and body.json["failing"] == []
    assert body.json["checks"] == {
        name: {"status": "ok"} for name in ("database", "migrations", "redis", "workers", "llm_provider", "llm_cache")
    }
    # no details for strangers
    for secret in (b"sqlite", b"postgresql", b"anthropic", b"head", b"current", b"local-ngram"):
        assert secret not in body.data
    detailed = client.get("/readyz", headers=admin["headers"]).json
    assert all(c["status"] == "ok" for c in detailed["checks"].values())
    assert detailed["checks"]["llm_provider"]["provider"] == "anthropic"
    assert detailed["checks"]["database"]["dialect"] == ("postgresql" if POSTGRES_MODE else "sqlite")
    cache = detailed["checks"]["llm_cache"]
    assert cache["mode"] == "exact + similarity" and cache["embedder"] == "local-ngram"
    assert "caption" in cache["semantic_features"] and cache["exact_only_features"] == ["email_reply"]


def test_without_embeddings_readyz_and_cache_stats_say_exact_only(make_app: Callable[..., Flask]) -> None:
    from services import auth

    app = make_app(LLM_EMBEDDINGS="none")
    with app.app_context():
        token = auth.issue_token(auth.create_user("exact-admin@example.com", "correct-horse-1", "admin"), 1)
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    ready = app.test_client().get("/readyz", headers=headers).json["checks"]["llm_cache"]
    assert ready == {
        "status": "ok",
        "mode": "exact only",
        "reason": "no embedder configured",
        "semantic_features": [],
        "ms": ready["ms"],
    }
    stats = app.test_client().get("/api/planogram/cache-stats", headers=headers).json
    assert stats["similarity"]["mode"] == "exact only"


def test_readyz_is_503_when_redis_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0", RATELIMIT_STORAGE_URI="memory://", METRICS_TOKEN="scrape-me")
    public = app.test_client().get("/readyz")
    assert public.status_code == 503 and public.json["failing"] == ["redis", "workers"]
    assert public.json["checks"]["redis"] == {"status": "fail"}
    response = app.test_client().get("/readyz", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 503 and response.json["status"] == "not_ready"
    checks = response.json["checks"]
    assert checks["redis"] == {"status": "fail", "error": "ConnectionError", "ms": checks["redis"]["ms"]}
    assert checks["database"]["status"] == "ok" and checks["migrations"]["status"] == "ok"
    assert app.test_client().get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_is_503_when_migrations_are_not_applied(make_app: Callable[..., Flask], tmp_path: Any) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}", METRICS_TOKEN="scrape-me")
    response = app.test_client().get("/readyz", headers={"Authorization": "Bearer scrape-me"})
    assert app.test_client().get("/readyz").json["failing"] == ["migrations"]
    assert response.status_code == 503
    assert response.json["checks"]["migrations"]["status"] == "fail"
    assert response.json["checks"]["migrations"]["current"] == []
