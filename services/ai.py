"""LLM wiring: the app's config becomes one LLMIntegrationPipeline (SQL prompts and ledger, shared Redis)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app

from extensions import db
from models import LLMBatch
from models._types import utcnow
from services.db_session import install as track_writes
from services.db_session import release_connection
from services.errors import NotFound, ValidationFailed
from services.ledger import ObservingLedgerSink, SqlLedgerSink
from services.llm import (
    BatchRunner,
    BatchTicket,
    ConfigError,
    LLMError,
    LLMIntegrationPipeline,
    LLMResult,
    LLMSettings,
    PromptError,
    build_pipeline,
)
from services.llm.cache import CACHE_MODES, CacheMode
from services.llm.preparation import CallSpec
from services.llm.types import Tier
from services.prompts import SqlPromptSource
from services.runtime import EXTENSION_KEY as BACKENDS_KEY
from services.runtime import backends

log = logging.getLogger(__name__)

EXTENSION_KEY = "planogram.llm"
PROMPTS_KEY = "planogram.prompt_source"
TEST_PROMPT_FEATURE = "test_prompt"


# Near hits where a reworded request deserves the same answer; email replies only on the exact (redacted)
# text, per customer; everything else exact. LLM_CACHE_MODES overrides per feature.
DEFAULT_CACHE_MODES: dict[str, CacheMode] = {
    "caption": "semantic",
    "hashtags": "semantic",
    "post_suggestion": "semantic",
    "performance_analysis": "semantic",
    "optimization_explanation": "semantic",
    "email_reply": "exact",
}


def cache_modes(raw: str | None) -> tuple[dict[str, CacheMode], CacheMode]:
    """DEFAULT_CACHE_MODES overridden by "feature=mode,..." (`default=mode` sets unlisted features)."""
    modes = dict(DEFAULT_CACHE_MODES)
    default: CacheMode = "exact"
    for item in filter(None, (part.strip() for part in (raw or "").split(","))):
        feature, _, mode = item.partition("=")
        if mode.strip() not in CACHE_MODES:
            raise ConfigError(f"LLM_CACHE_MODES: {item!r} is not feature=semantic|exact|off")
        if feature.strip() == "default":
            default = cast(CacheMode, mode.strip())
        else:
            modes[feature.strip()] = cast(CacheMode, mode.strip())
    return modes, default


def llm_settings(config: Mapping[str, Any]) -> LLMSettings:
    """LLMSettings from app.config; tier models only when set, so the price table's defaults apply."""
    tiers: dict[Tier, str | None] = {
        "fast": config.get("LLM_MODEL_FAST"),
        "balanced": config.get("LLM_MODEL_BALANCED"),
        "powerful": config.get("LLM_MODEL_POWERFUL"),
    }
    modes, default = cache_modes(config.get("LLM_CACHE_MODES"))
    threshold = config.get("LLM_SIMILARITY_THRESHOLD")
    return LLMSettings(
        provider=config.get("LLM_PROVIDER"),
        anthropic_api_key=config.get("ANTHROPIC_API_KEY"),
        anthropic_base_url=config.get("ANTHROPIC_BASE_URL"),
        openai_api_key=config.get("OPENAI_API_KEY"),
        openai_base_url=config.get("OPENAI_BASE_URL"),
        tier_models={tier: model for tier, model in tiers.items() if model},
        daily_budget_usd=float(config["LLM_DAILY_BUDGET_USD"]),
        max_tokens_per_request=int(config["LLM_MAX_TOKENS_PER_REQUEST"]),
        cache_ttl_hours=float(config["LLM_CACHE_TTL_HOURS"]),
        request_timeout_s=float(config["LLM_TIMEOUT_SECONDS"]),
        budget_outage_share=float(config.get("LLM_BUDGET_OUTAGE_SHARE", 0.05)),
        store_retry_s=float(config.get("REDIS_RETRY_SECONDS", 5.0)),
        cache_modes=modes,
        cache_default_mode=default,
        embeddings=config.get("LLM_EMBEDDINGS") or "local",
        similarity_threshold=float(threshold) if threshold else None,
    )


def init_llm(app: Flask) -> None:
    """Build the pipeline once (after init_runtime); a bad provider/model/key fails start-up with ConfigError."""
    from services.monitoring import ledger_observers  # here: monitoring reads this module's pipeline

    backends = app.extensions[BACKENDS_KEY]
    source = SqlPromptSource(app)
    ledger = ObservingLedgerSink(SqlLedgerSink(app), ledger_observers(app))
    track_writes()
    try:
        pipeline = build_pipeline(
            llm_settings(app.config), source, ledger, backends.redis, before_slow_call=release_connection
        )
    except ConfigError as exc:
        raise ConfigError(f"LLM configuration is invalid: {exc}") from exc
    app.extensions[EXTENSION_KEY] = pipeline
    app.extensions[PROMPTS_KEY] = source


def pipeline() -> LLMIntegrationPipeline:
    """The current app's pipeline."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def prompt_source() -> SqlPromptSource:
    """The current app's prompt source (to invalidate its cache after a sync)."""
    return current_app.extensions[PROMPTS_KEY]  # type: ignore[no-any-return]


def try_prompt(prompt_name: str, variables: Mapping[str, Any], run: bool, user_id: str) -> dict[str, Any]:
    """Admin "test prompt": render (text, token and cost estimate) and, when asked, run it for real."""
    if not prompt_source().active_versions(prompt_name):
        raise ValidationFailed(
            f"Unknown prompt '{prompt_name}'",
            details=[{"field": "prompt_name", "reason": f"no active version of prompt '{prompt_name}'"}],
        )
    llm = pipeline()
    try:
        preview = llm.preview(TEST_PROMPT_FEATURE, prompt_name, variables, user_id=user_id)
    except PromptError as exc:
        raise ValidationFailed(str(exc), details=[{"field": "variables", "reason": str(exc)}]) from None
    rendered = "\n\n".join([preview["system"], *preview["messages"]]).strip()
    out: dict[str, Any] = {
        "prompt_name": prompt_name,
        "prompt_version": preview["prompt_version"],
        "variant": preview["variant"],
        "tier": preview["tier"],
        "model": preview["model"],
        "rendered_text": rendered,
        "system": preview["system"],
        "messages": preview["messages"],
        "token_estimate": preview["input_tokens_estimate"],
        "max_output_tokens": preview["max_output_tokens"],
        "cost_estimate_usd": preview["worst_case_cost_usd"],
        "result": None,
    }
    if run:
        out["result"] = llm.run(TEST_PROMPT_FEATURE, prompt_name, variables, user_id=user_id).to_dict()
    return out


# ---- batch jobs: non-interactive work through the providers' batch APIs (half price) ----

# A provider batch ends within 24 hours; after this long the job collects whatever there is (the rest falls back).
BATCH_GIVE_UP = timedelta(hours=25)


@dataclass(frozen=True)
class BatchCall:
    """One call of a batch job, with whatever the feature needs to store its answer."""

    spec: CallSpec
    extra: Any = None


BatchBuild = Callable[[LLMBatch], dict[str, BatchCall]]
BatchStore = Callable[[LLMBatch, str, BatchCall, LLMResult], dict[str, Any]]


def start_batch(kind: str, params: Mapping[str, Any], user_id: int, job: str) -> LLMBatch:
    """Record a batch job and queue `job(batch_id)` in the background (never ahead of interactive work)."""
    row = LLMBatch(kind=kind, status="queued", params=dict(params), requested_by_id=user_id, cost_usd=0.0)
    db.session.add(row)
    db.session.commit()
    backends().jobs.submit(job, row.id, background=True)
    return row


def run_batch(batch_id: int, build: BatchBuild, store: BatchStore, job: str) -> None:
    """The job: submit once (cache hits and refusals are stored at once), wait for the provider, collect.

    The ticket is committed before any wait, so a job that dies (or hands over after
    LLM_BATCH_MAX_WAIT_SECONDS) is resumed by the next run without submitting twice.
    """
    row = db.session.get(LLMBatch, batch_id)
    if row is None or row.status in ("finished", "failed"):
        return
    try:
        _run_batch(row, build, store, job)
    except Exception as exc:  # the job failed for good (a bug, a product deleted meanwhile): say so on the row
        db.session.rollback()
        row.status, row.error, row.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:200], utcnow()
        db.session.commit()
        raise


def _run_batch(row: LLMBatch, build: BatchBuild, store: BatchStore, job: str) -> None:
    calls = build(row)
    specs = {custom_id: call.spec for custom_id, call in calls.items()}
    runner = pipeline().batches
    if row.ticket is None:
        submission = runner.submit(specs)
        row.results = {cid: store(row, cid, calls[cid], result) for cid, result in submission.done.items()}
        row.ticket, row.status = submission.ticket.to_json(), "submitted"
        db.session.commit()
    ticket = BatchTicket.from_json(row.ticket)
    if ticket.pending and not _wait(runner, ticket, row):
        backends().jobs.submit(job, row.id, background=True)  # hand over: a job run never waits for hours
        return
    results = dict(row.results or {})
    results.update({cid: store(row, cid, calls[cid], r) for cid, r in runner.collect(ticket, specs).items()})
    row.results, row.status, row.finished_at = results, "finished", utcnow()
    row.cost_usd = round(sum(float(item.get("cost_usd") or 0.0) for item in results.values()), 8)
    db.session.commit()


def _wait(runner: BatchRunner, ticket: BatchTicket, row: LLMBatch) -> bool:
    """Poll until every batch ended (True) or this run's wait is over (False); provider errors are retried."""
    poll_s = float(current_app.config.get("LLM_BATCH_POLL_SECONDS", 30.0))
    deadline = time.monotonic() + float(current_app.config.get("LLM_BATCH_MAX_WAIT_SECONDS", 600.0))
    created = row.created_at
    while True:
        try:
            if runner.poll(ticket):
                return True
        except LLMError as error:  # the provider is down for now: the batch itself goes on
            log.warning("batch %s: status unavailable (%s)", row.id, error.kind)
        if created is not None and utcnow() - created > BATCH_GIVE_UP:
            return True  # collect what there is: unanswered calls fall back
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)


def batch_dict(row: LLMBatch) -> dict[str, Any]:
    """JSON view of a batch job: status, items, per-item outcome (draft, AI or fallback and why), cost."""
    results = row.results or {}
    items = row.params.get("items", [])
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "items": len(items),
        "results": [results.get(f"item-{i}") for i in range(len(items))],
        "cost_usd": row.cost_usd,
        "error": row.error,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def get_batch(batch_id: int, kind: str) -> LLMBatch:
    """A batch job of this kind, or 404."""
    row = db.session.get(LLMBatch, batch_id)
    if row is None or row.kind != kind:
        raise NotFound(f"No {kind} batch {batch_id}")
    return row
