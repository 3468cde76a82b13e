"""Logs never carry a password, an API token or key, the metrics token, or unredacted customer PII.

A whole flow runs with every logger at DEBUG (the SDKs and HTTP clients included): a browser sign-in with
a wrong and then the right password, a password-for-token exchange, bearer calls, AI calls over the real
SDK to the fake provider (with a key), a provider error with retries, an email with PII through the email
API and a pii=True pipeline call (plain and streaming), a /metrics scrape, a token revocation. Every
captured line must be JSON and must contain none of the secret values.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from devtools.fake_llm import FakeLLMServer
from extensions import db
from logs import configure_logging

PASSWORD = "Corr3ct-Horse-Battery-LEAK1"
WRONG_PASSWORD = "Wr0ng-Guess-LEAK2"
# Built at run time so no key-shaped literal is tracked in the repository.
API_KEY = "-".join(["sk", "ant", "api03", "LEAK3", "abcdefghijklmnopqrstuvwxyz0123456789"])
METRICS_TOKEN = "metrics-LEAK4-0123456789abcdef"
SESSION_SECRET = "session-secret-LEAK5-0123456789"
PII = {
    "email": "jane.customer@example.org",
    "phone": "+44 7700 900123",
    "card": "4111 1111 1111 1111",
    "street": "221 Baker Street",
}
CUSTOMER_TEXT = (
    f"Hello, the machine at the gym took my money twice. My card {PII['card']} was charged. "
    f"Call me on {PII['phone']} or write to {PII['email']}; post goes to {PII['street']}. Thanks, Jane"
)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    configure_logging("WARNING", True)  # back to stderr for the tests that follow


@pytest.fixture
def app(make_llm_app: Callable[..., Flask], captured: io.StringIO) -> Flask:
    app = make_llm_app(
        ANTHROPIC_API_KEY=API_KEY,
        METRICS_TOKEN=METRICS_TOKEN,
        SECRET_KEY=SESSION_SECRET,
        LOG_LEVEL="DEBUG",
        RATELIMIT_ENABLED=False,
        ALERT_CHECK_SECONDS=0.0,
    )
    configure_logging("DEBUG", True, stream=captured)
    return app


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def run_flow(app: Flask, fake: FakeLLMServer) -> dict[str, str]:
    from services import auth
    from services.ai import pipeline

    with app.app_context():
        auth.create_user("owner@example.com", PASSWORD, "admin")
        db.session.commit()
    browser = app.test_client()
    token = _csrf(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": "owner@example.com", "password": WRONG_PASSWORD, "csrf_token": token})
    signed_in = browser.post("/login", data={"email": "owner@example.com", "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302

    api = app.test_client()
    assert (
        api.post("/api/auth/token", json={"email": "owner@example.com", "password": WRONG_PASSWORD}).status_code == 401
    )
    issued = api.post("/api/auth/token", json={"email": "owner@example.com", "password": PASSWORD})
    assert issued.status_code in (200, 201), issued.json
    bearer = issued.json["token"]
    headers = {"Authorization": f"Bearer {bearer}"}
    assert api.get("/api/auth/me", headers=headers).status_code == 200

    caption = {"product_name": "Sparkling Water", "platform": "instagram", "style": "casual", "max_chars": 150}
    ran = api.post(
        "/api/planogram/test-prompt",
        json={"prompt_name": "caption", "variables": caption, "run": True},
        headers=headers,
    )
    assert ran.json["result"]["status"] == "ok"
    fake.add(error="429", retry_after=0.0, times=1)
    assert (
        api.post(
            "/api/planogram/test-prompt",
            headers=headers,
            json={
                "prompt_name": "hashtags",
                "run": True,
                "variables": {"product_name": "Oat Bar", "platform": "x", "max_hashtags": 5},
            },
        ).status_code
        == 200
    )

    drafted = api.post(
        "/api/email/draft",
        headers=headers,
        json={"subject": "Charged twice", "body": CUSTOMER_TEXT, "response_type": "complaint", "tone": "apologetic"},
    )
    assert drafted.status_code in (200, 201), drafted.json
    email_vars = {"customer_email": CUSTOMER_TEXT, "company_name": "Demo Vending", "tone": "friendly"}
    with app.app_context():
        llm = pipeline()
        plain = llm.run("email_reply", "email_response_inquiry", email_vars, pii=True, user_id="1")
        streamed = list(
            llm.stream(
                "email_reply", "email_response_inquiry", {**email_vars, "tone": "professional"}, pii=True, user_id="1"
            )
        )
    assert plain.status == "ok" and streamed
    for served in fake.calls:  # the provider only ever saw placeholders
        assert not any(value in served.prompt for value in PII.values())

    assert api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    assert api.delete("/api/auth/token", headers=headers).status_code in (200, 204)
    return {"bearer": bearer}


def test_no_secret_or_pii_in_any_log_line(app: Flask, fake: FakeLLMServer, captured: io.StringIO) -> None:
    secrets = run_flow(app, fake)
    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON event
    assert any(r["level"] == "DEBUG" for r in records), "DEBUG logging was not captured"
    assert any(r["logger"].startswith(("anthropic", "httpx", "httpcore")) for r in records), "no SDK debug lines"
    forbidden = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "API key": API_KEY,
        "API token": secrets["bearer"],
        "metrics token": METRICS_TOKEN,
        "session secret": SESSION_SECRET,
        **{f"PII {kind}": value for kind, value in PII.items()},
    }
    # Also the parts a formatter might split or mask partially.
    forbidden["API key body"] = API_KEY[len("sk-ant-api03-") :]
    forbidden["API token body"] = secrets["bearer"][len("pgw_") :]
    forbidden["card digits"] = PII["card"].replace(" ", "")
    leaks = [(what, line[:300]) for line in lines for what, value in forbidden.items() if value in line]
    assert leaks == []


def test_every_llm_call_is_one_structured_log_line(app: Flask, fake: FakeLLMServer, captured: io.StringIO) -> None:
    run_flow(app, fake)
    events = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    calls = [e for e in events if e.get("message") == "llm call"]
    assert len(calls) == len({e["llm_request_id"] for e in calls}) >= 5
    from models import LLMRequest

    with app.app_context():
        ledger = {r.id: r for r in db.session.query(LLMRequest)}
    assert {e["llm_request_id"] for e in calls} == set(ledger)  # one line per ledger row
    for event in calls:
        row = ledger[event["llm_request_id"]]
        assert (event["feature"], event["model"], event["status"], event["tokens_in"], event["tokens_out"]) == (
            row.feature,
            row.model,
            row.status,
            row.input_tokens,
            row.output_tokens,
        )
        assert event["cost_usd"] == pytest.approx(row.cost_usd, abs=1e-8)
        assert event["latency_ms"] == pytest.approx(row.latency_ms, abs=1e-3)
        assert event["level"] == "INFO" and event["logger"] == "planogram.llm"
    served = next(e for e in calls if e["prompt"] == "hashtags")
    assert served["attempts"] == 2  # the 429 was retried
