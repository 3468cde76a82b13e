"""The AI paths in the browser against the fake provider (real Anthropic SDK over HTTP, scripted replies in each
feature's schema, model "fake-<model>"): AI-on, and the labelled fallback when the output fails the checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from config import BASE_DIR
from devtools.fake_llm import FakeLLMServer
from extensions import db
from services.optimization_explain import LABEL
from services.prompts import PromptRegistry
from tests.browser.conftest import ARTIFACTS, serve
from tests.clock import DEMO_END
from tests.conftest import llm_settings

pytestmark = pytest.mark.slow
FAILED = "Rule-based draft (AI output failed the checks)"


@pytest.fixture
def ai_server(
    make_app: Callable[..., Flask], fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The seeded demo app wired to the fake provider as `make run-ai` wires it."""
    from services import auth
    from services.demo import seed_demo

    monkeypatch.setattr(fake, "model_prefix", "fake-")
    app = make_app(**llm_settings("anthropic", fake.url))
    with app.app_context():
        seed_demo(seed=5, days=21, end=DEMO_END)
        PromptRegistry(BASE_DIR / "prompts").sync()
        auth.create_user("admin@example.com", "browser-pass-1", "admin")
        db.session.commit()
    with serve(app) as url:
        yield {"url": url, "email": "admin@example.com", "password": "browser-pass-1", "app": app}


def _sign_in(page: Any, server: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server["url"] + "/login")
    page.fill("input[name=email]", server["email"])
    page.fill("input[name=password]", server["password"])
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/")
    return errors


def _result(page: Any, submit: Any) -> str:
    """Submit a form and return the text of the new result card."""
    page.evaluate("document.querySelector('#result')?.replaceChildren()")
    submit.click()
    card = page.locator("#result article.result")
    card.wait_for()
    return str(card.inner_text())


def test_caption_and_hashtags_ai_then_fallback_when_the_output_fails(
    ai_server: dict[str, Any], page: Any, fake: FakeLLMServer
) -> None:
    errors = _sign_in(page, ai_server)
    page.click("nav >> text=Content")
    caption = page.locator('form[data-tool="caption"]')
    caption.locator("input[name=products]").fill("DEMO-COLA-330")
    caption.locator("textarea[name=media_description]").fill("a can on a desk at 3pm")
    caption.locator("select[name=style]").select_option("funny")
    caption.locator("select[name=platform]").select_option("x")
    text = _result(page, caption.locator("button[type=submit]"))
    assert "AI draft" in text and "fake-claude-haiku-5-5 · fast" in text and "Cola Classic 330ml can" in text
    assert "Rule-based" not in text and "/ 280 characters" in text
    page.screenshot(path=str(ARTIFACTS / "ai-caption.png"), full_page=True)

    tags = page.locator('form[data-tool="hashtags"]')
    tags.locator("input[name=products]").fill("DEMO-COLA-330")
    tags.locator("input[name=max_hashtags]").fill("5")
    text = _result(page, tags.locator("button[type=submit]"))
    assert "AI draft" in text and "#VendingMachine" in text and "fake-claude-haiku-5-5" in text

    fake.add(invalid="schema", times=2)  # the answer and the repair turn both fail the schema
    caption.locator("select[name=style]").select_option("professional")  # another request (not a cache hit)
    text = _result(page, caption.locator("button[type=submit]"))
    assert FAILED in text and "the AI answer failed the output checks" in text
    assert "fake-claude-haiku-5-5 · answer rejected, rules used" in text and "0 in / 0 out" not in text
    page.screenshot(path=str(ARTIFACTS / "ai-caption-failed-checks.png"), full_page=True)
    assert errors == []


def test_email_draft_ai_then_fallback_when_the_output_fails(
    ai_server: dict[str, Any], page: Any, fake: FakeLLMServer
) -> None:
    errors = _sign_in(page, ai_server)
    page.click("nav >> text=Email")
    email = page.locator("#email-form")
    email.locator("input[name=subject]").fill("Machine kept my money")
    email.locator("textarea[name=body]").fill(
        "Hello, the machine at platform 2 took my card payment but nothing dropped (order DEMO-ORD-1002). "
        "Write to sam.okafor@example.com."
    )
    email.locator("select[name=response_type]").select_option("complaint")
    email.locator("select[name=tone]").select_option("apologetic")
    text = _result(page, email.locator("button[type=submit]"))
    assert "AI draft" in text and "fake-claude-sonnet-5-5 · balanced" in text
    assert "Hello Sam Okafor," in text and "[CUSTOMER_NAME]" not in text and "Needs review\nno" in text
    page.screenshot(path=str(ARTIFACTS / "ai-email-draft.png"), full_page=True)

    fake.add(invalid="prose", times=2)
    email.locator("select[name=tone]").select_option("empathetic")  # another request (not a cache hit)
    text = _result(page, email.locator("button[type=submit]"))
    assert FAILED in text and "Hello Sam Okafor," in text and "frustrating" in text
    assert "fake-claude-sonnet-5-5 · answer rejected" in text
    assert errors == []


def _optimise(page: Any) -> None:
    page.click("#opt-start")
    page.wait_for_function("document.querySelector('#opt-run').dataset.phase !== 'running'", timeout=60_000)
    assert page.locator("#opt-run").get_attribute("data-phase") == "review", page.locator("#opt-state").inner_text()


def test_optimisation_explanation_ai_then_fallback_when_the_output_fails(
    ai_server: dict[str, Any], page: Any, fake: FakeLLMServer
) -> None:
    errors = _sign_in(page, ai_server)
    page.goto(f"{ai_server['url']}/devices/DEMO-GYM-01")
    page.click("text=Open the planogram editor")
    page.wait_for_selector("body[data-editor-ready]")
    _optimise(page)
    assert page.locator("#opt-expl-label").inner_text() == "AI · fake-claude-haiku-5-5"
    explanation = page.locator("#opt-explanation").inner_text()
    changed = page.locator("#opt-state").inner_text().split("Done: ")[1].split(" slot")[0]
    assert explanation.startswith(f"The optimiser changes {changed} of 40 slots") and "Key changes:" in explanation
    assert LABEL not in explanation
    page.screenshot(path=str(ARTIFACTS / "ai-editor-explanation.png"), full_page=True)

    page.click("#opt-discard")
    page.wait_for_selector("#opt-start:visible")
    fake.add(invalid="prose", times=2, contains="Optimiser metrics")
    page.select_option("#opt-objective", "revenue")  # another result, so not the cached explanation
    _optimise(page)
    assert page.locator("#opt-expl-label").inner_text() == "rule-based · AI answer failed the checks"
    explanation = page.locator("#opt-explanation").inner_text()
    assert explanation.startswith(LABEL) and "Sure! Here is my answer" not in explanation  # rejected text gone
    page.screenshot(path=str(ARTIFACTS / "ai-editor-explanation-failed.png"), full_page=True)
    assert errors == []
