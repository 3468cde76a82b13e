"""LLM wiring: the app's config becomes one LLMIntegrationPipeline (SQL prompts and ledger, shared Redis)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flask import Flask, current_app

from services.db_session import install as track_writes
from services.db_session import release_connection
from services.errors import ValidationFailed
from services.ledger import ObservingLedgerSink, SqlLedgerSink
from services.llm import ConfigError, LLMIntegrationPipeline, LLMSettings, PromptError, build_pipeline
from services.llm.cache import CACHE_MODES, CacheMode
from services.llm.types import Tier
from services.prompts import SqlPromptSource
from services.runtime import EXTENSION_KEY as BACKENDS_KEY

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
        pipeline = build_pipeline(llm_settings(app.config), source, ledger, backends.redis,
                                  before_slow_call=release_connection)
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
