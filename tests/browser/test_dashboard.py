"""An admin opens the monitoring dashboards and sees figures from a ledger filled by real calls.

The ledger is seeded the way production fills it: marketers ask the content API for captions and hashtags
(the real SDK against the fake provider over HTTP), an admin approves or rejects the drafts, and a few
pipeline calls use other prompts, including one whose output fails validation (a fallback) and, once the
tight daily budget is nearly spent, calls the budget refuses (fallbacks too). Screenshots at 1280 px and
phone width land in tests/artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import LLMRequest
from tests.browser.conftest import ARTIFACTS, serve
from tests.clock import DEMO_END

pytestmark = pytest.mark.slow

CAPTION_JSON = json.dumps(
    {
        "caption": "Cold, crisp and right here by the lifts.",
        "character_count": 40,
        "style": "casual",
        "alt_text": "A chilled drink in a vending machine.",
        "confidence": 0.9,
    }
)
HASHTAGS_JSON = json.dumps(
    {"hashtags": ["#AfternoonSnack", "#OfficeLife", "#GrabAndGo"], "reasoning": "moment + venue", "confidence": 0.8}
)


def _client_calls(app: Any, fake: FakeLLMServer) -> dict[str, Any]:
    """Real API traffic: captions and hashtags by four marketers, reviews by an admin."""
    from services import auth

    with app.app_context():
        marketers = [auth.create_user(f"marketer{n}@example.com", "browser-pass-1", "marketer") for n in range(6)]
        reviewer = auth.create_user("reviewer@example.com", "browser-pass-1", "admin")
        tokens = [auth.issue_token(m, 1) for m in marketers]
        review_token = auth.issue_token(reviewer, 1)
        db.session.commit()
    client = app.test_client()
    skus = [
        p["sku"]
        for p in client.get("/api/products?per_page=12", headers={"Authorization": f"Bearer {review_token}"}).json[
            "items"
        ]
    ]
    fake.add(text=CAPTION_JSON, contains="caption", times=None)
    fake.add(text=HASHTAGS_JSON, contains="hashtag", times=None)
    drafts = []
    for n, sku in enumerate(skus):
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        made = client.post("/api/content/caption", json={"products": [sku], "style": "casual"}, headers=headers)
        assert made.status_code == 201, made.json
        drafts.append(made.json)
        if n % 3 == 0:  # the same request again: answered from the cache
            assert (
                client.post(
                    "/api/content/caption", json={"products": [sku], "style": "casual"}, headers=headers
                ).status_code
                == 201
            )
        if n % 2 == 0:
            tags = client.post("/api/content/hashtags", json={"products": [sku]}, headers=headers)
            assert tags.status_code == 201, tags.json
    admin = {"Authorization": f"Bearer {review_token}"}
    for n, draft in enumerate(drafts):
        draft_id, variant = draft["draft_id"], draft["variant"]
        accept = (n % 4 != 0) if variant == "A" else (n % 3 == 0)
        action = "approve" if accept else "reject"
        assert client.post(f"/api/drafts/{draft_id}/{action}", json={}, headers=admin).status_code == 200
    return {"drafts": len(drafts)}


def _pipeline_calls(app: Any, fake: FakeLLMServer) -> None:
    """Direct pipeline calls: other prompts and tiers, a validation fallback, then the budget runs out."""
    from pydantic import BaseModel

    from services.ai import pipeline

    class Feedback(BaseModel):
        summary: str

    with app.app_context():
        llm = pipeline()
        email = {
            "customer_email": "Hi, do you take contactless at the gym machine? Sam (sam.doe@example.com)",
            "company_name": "Demo Vending",
            "tone": "friendly",
        }
        llm.run("email_reply", "email_response_inquiry", email, user_id="1", pii=True)
        fake.add(text="Sorry, no JSON today.", times=2)  # the answer and its repair turn: a bad_output fallback
        llm.run(
            "placement_feedback",
            "placement_feedback",
            {
                "product_name": "Cola 330ml",
                "sku": "DEMO-COLA",
                "slot": "B3",
                "score": 72,
                "reasons": ["eye-level row"],
                "violations": [],
            },
            schema=Feedback,
            user_id="1",
        )
        # The admin tightens today's budget to a quarter above what was spent so far; calls go on until it refuses.
        llm.costs.daily_budget_usd = llm.costs.snapshot()["spent_usd"] * 1.25
        for n in range(60):
            result = llm.run(
                "email_reply",
                "email_response_inquiry",
                {**email, "customer_email": f"Question {n}: is the machine on floor {n} fixed?"},
            )
            if result.error_kind == "budget_exceeded":
                break


@pytest.fixture
def monitored_server(make_llm_app: Any, fake: FakeLLMServer) -> Iterator[dict[str, Any]]:
    """The demo fleet, an admin and a ledger filled by real calls, served on a free port."""
    from services import auth
    from services.demo import seed_demo

    fake.script.latency_s = 0.02
    app = make_llm_app(AB_MIN_REVIEWS=3, RATELIMIT_ENABLED=False)
    with app.app_context():
        seed_demo(seed=5, days=14, end=DEMO_END)
        auth.create_user("admin@example.com", "browser-pass-1", "admin")
        auth.create_user("viewer@example.com", "browser-pass-1", "viewer")
        db.session.commit()
    seeded = _client_calls(app, fake)
    _pipeline_calls(app, fake)
    with serve(app) as url:
        yield {"url": url, "app": app, **seeded}


def _sign_in(page: Any, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "browser-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def _ledger_totals(app: Any) -> dict[str, Any]:
    with app.app_context():
        requests, cost, fallbacks = db.session.execute(
            select(
                func.count(), func.sum(LLMRequest.cost_usd), func.sum(func.cast(LLMRequest.fallback_used, db.Integer))
            )
        ).one()
        kinds = dict(
            db.session.execute(select(LLMRequest.error_kind, func.count()).group_by(LLMRequest.error_kind)).all()
        )
    return {"requests": requests, "cost": float(cost), "fallbacks": int(fallbacks), "kinds": kinds}


def _charts_drawn(page: Any, ids: list[str]) -> dict[str, int]:
    return page.evaluate(
        """ids => Object.fromEntries(ids.map(id => {
        const chart = window.Chart.getChart(document.getElementById(id));
        return [id, chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter(v => v != null).length, 0) : -1];
    }))""",
        ids,
    )


def test_admin_sees_usage_cost_cache_and_ab_dashboards(monitored_server: dict[str, Any], page: Any) -> None:
    url, app = monitored_server["url"], monitored_server["app"]
    totals = _ledger_totals(app)
    assert totals["kinds"].get("budget_exceeded") and totals["kinds"].get("bad_output"), totals
    _sign_in(page, url, "admin@example.com")
    page.click("nav[aria-label=Main] >> text=Monitoring")
    page.wait_for_selector("#mon-root[data-loaded=true]")
    assert page.locator("#kpi-requests").inner_text() == f"{totals['requests']:,}"
    assert page.locator("#gauge-pct").inner_text().endswith("%")
    drawn = _charts_drawn(
        page,
        ["chart-gauge", "chart-spend", "chart-feature", "chart-model", "chart-latency", "chart-rates", "chart-cache"],
    )
    assert all(n > 0 for n in drawn.values()), drawn
    alerts = page.locator("#mon-alerts .alert").all_inner_texts()
    assert any("daily budget" in a for a in alerts), alerts  # the tight budget is (nearly) spent
    assert "Entries" in page.locator("#cache-facts").inner_text()
    page.screenshot(path=str(ARTIFACTS / "monitoring-overview.png"), full_page=True)

    page.select_option("#clear-scope", "expired_only")
    page.click("#clear-cache button[type=submit]")
    page.wait_for_function("document.getElementById('clear-result').textContent.startsWith('Removed')")

    page.click("text=Prompts & providers")
    page.wait_for_selector("#mon-root[data-loaded=true]")
    rows = page.locator("#ab-table tbody tr")
    assert rows.count() >= 3
    table = page.locator("#ab-table").inner_text()
    assert "caption" in table and "control" in table and "%" in table
    assert (
        page.locator("#ab-table .pill.better, #ab-table .pill.worse, #ab-table .pill:has-text('difference')").count()
        + page.locator("#ab-table .pill:has-text('more reviews')").count()
        >= 1
    )
    assert "closed" in page.locator("#provider-table").inner_text()
    assert "Daily budget spent" in page.locator("#error-table").inner_text()
    assert _charts_drawn(page, ["chart-acceptance"])["chart-acceptance"] > 0
    page.screenshot(path=str(ARTIFACTS / "monitoring-prompts.png"), full_page=True)


WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 8)
    .map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""


def test_dashboard_fits_a_phone(monitored_server: dict[str, Any], page: Any) -> None:
    url = monitored_server["url"]
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, url, "admin@example.com")
    page.goto(url + "/monitoring/")
    page.wait_for_selector("#mon-root[data-loaded=true]")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate(WIDER_THAN_VIEWPORT)
    page.screenshot(path=str(ARTIFACTS / "monitoring-phone.png"), full_page=True)
    assert overflow <= 1, f"page scrolls sideways by {overflow}px on a phone: {wide}"
    page.goto(url + "/monitoring/prompts")
    page.wait_for_selector("#mon-root[data-loaded=true]")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"prompts page scrolls sideways by {overflow}px on a phone"
    page.screenshot(path=str(ARTIFACTS / "monitoring-prompts-phone.png"), full_page=True)


def test_viewer_gets_no_monitoring(monitored_server: dict[str, Any], page: Any) -> None:
    url = monitored_server["url"]
    _sign_in(page, url, "viewer@example.com")
    assert page.locator("nav[aria-label=Main] >> text=Monitoring").count() == 0
    response = page.goto(url + "/monitoring/")
    assert response.status == 403
