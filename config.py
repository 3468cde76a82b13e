"""Application configuration: the environment is read once, here, with typed helpers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str | None = None) -> str | None:
    """Return a stripped environment value, or the default when unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip()


def env_int(name: str, default: int) -> int:
    """Return an integer environment value; a malformed value fails loudly at start-up."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def env_limit(name: str, default: int | None) -> int | None:
    """Return a non-negative integer limit, or None for "none"/"unlimited"; malformed values fail loudly."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("none", "unlimited"):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer or 'none', got {raw!r}") from exc
    if value < 0:
        raise RuntimeError(f"{name} must be at least 0 (or 'none'), got {value}")
    return value


def env_float(name: str, default: float) -> float:
    """Return a float environment value; a malformed value fails loudly at start-up."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean environment value (1/true/yes/on)."""
    raw = env_str(name)
    if raw is None:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


class Config:
    """Runtime configuration; every value comes from the environment or an embedded default."""

    def __init__(self) -> None:
        instance = Path(env_str("INSTANCE_PATH", str(BASE_DIR / "instance")) or "instance")
        self.INSTANCE_PATH = str(instance)
        self.SECRET_KEY = env_str("SECRET_KEY")  # None: create_app keeps one in instance/
        self.SQLALCHEMY_DATABASE_URI = env_str("DATABASE_URL", f"sqlite:///{instance / 'planogram.db'}")
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
        self.REDIS_URL = env_str("REDIS_URL")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_DEFAULT = env_str("RATELIMIT_DEFAULT", "600 per minute")
        self.RATELIMIT_LOGIN = env_str("RATELIMIT_LOGIN", "10 per minute")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.WTF_CSRF_CHECK_DEFAULT = False  # checked in auth for cookie sessions only
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_MB", 512) * 1024 * 1024
        self.API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30)
        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
        self.LOG_JSON = env_bool("LOG_JSON", True)
        self.JOB_WORKERS = env_int("JOB_WORKERS", 2)
        # Worker jobs one fleet batch is split into (run `flask rq-worker` this many times with Redis).
        self.BATCH_PARALLELISM = env_int("BATCH_PARALLELISM", 2)
        self.EVENT_STREAM_TTL_SECONDS = env_int("EVENT_STREAM_TTL_SECONDS", 3600)
        # SSE: a `: ping` comment when nothing was sent for this long (keeps proxies open, detects hang-ups).
        self.SSE_HEARTBEAT_SECONDS = env_float("SSE_HEARTBEAT_SECONDS", 15.0)
        # A streaming optimisation nobody has listened to for this long cancels itself.
        self.STREAM_ABANDON_SECONDS = env_int("STREAM_ABANDON_SECONDS", 30)
        # Pause between published optimisation steps so the editor can animate them (0 = as fast as computed).
        self.OPTIMIZATION_STEP_DELAY_MS = env_int("OPTIMIZATION_STEP_DELAY_MS", 150)
        # Solver time limit of one streaming optimisation (interactive, so a little longer than batch runs).
        self.OPTIMIZATION_TIME_LIMIT_SECONDS = env_float("OPTIMIZATION_TIME_LIMIT_SECONDS", 2.0)
        # Skus absent from a device's current planogram that one optimisation may introduce ("none" = no
        # limit); a request's `max_new_skus` overrides it. See docs/ENGINE.md (new products a few at a time).
        self.OPTIMIZER_MAX_NEW_SKUS = env_limit("OPTIMIZER_MAX_NEW_SKUS", None)
        # Change budget: slots one optimisation may change ("none" = no limit), what a route driver can redo on
        # one visit; a request's `max_changed_slots` overrides it. The editor's budget control starts here.
        self.OPTIMIZER_MAX_CHANGED_SLOTS = env_limit("OPTIMIZER_MAX_CHANGED_SLOTS", 10)
        # Embedded mode: run the optimiser in child processes (up to JOB_WORKERS) instead of the job thread,
        # so its CPU work does not hold the web process's GIL. (With Redis, RQ workers are processes anyway.)
        self.OPTIMIZATION_CHILD_PROCESSES = env_bool("OPTIMIZATION_CHILD_PROCESSES", True)
        # LLM pipeline (read by services.llm wiring; unset provider = rule-based fallbacks only)
        self.LLM_PROVIDER = env_str("LLM_PROVIDER")
        self.ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
        self.ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL")
        self.OPENAI_API_KEY = env_str("OPENAI_API_KEY")
        self.OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
        self.LLM_MODEL_FAST = env_str("LLM_MODEL_FAST")
        self.LLM_MODEL_BALANCED = env_str("LLM_MODEL_BALANCED")
        self.LLM_MODEL_POWERFUL = env_str("LLM_MODEL_POWERFUL")
        self.LLM_DAILY_BUDGET_USD = env_float("LLM_DAILY_BUDGET_USD", 10.0)
        self.LLM_MAX_TOKENS_PER_REQUEST = env_int("LLM_MAX_TOKENS_PER_REQUEST", 4000)
        self.LLM_CACHE_TTL_HOURS = env_float("LLM_CACHE_TTL_HOURS", 24.0)
        self.LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 30.0)
        self.PROMPTS_DIR = env_str("PROMPTS_DIR", str(BASE_DIR / "prompts"))  # read by `flask prompts sync`
        # ISO 4217 code the pages format money in (prices in the data are plain numbers in this currency).
        self.CURRENCY = env_str("CURRENCY", "USD")
        # Monitoring (docs/MONITORING.md). /metrics: admins, or `Authorization: Bearer $METRICS_TOKEN`.
        self.METRICS_TOKEN = env_str("METRICS_TOKEN")
        self.ALERT_WINDOW_MINUTES = env_int("ALERT_WINDOW_MINUTES", 15)
        self.ALERT_ERROR_RATE = env_float("ALERT_ERROR_RATE", 0.2)  # share of calls in the window
        self.ALERT_FALLBACK_RATE = env_float("ALERT_FALLBACK_RATE", 0.3)
        self.ALERT_MIN_CALLS = env_int("ALERT_MIN_CALLS", 10)  # fewer calls in the window: no rate alert
        self.ALERT_CHECK_SECONDS = env_float("ALERT_CHECK_SECONDS", 30.0)  # per process, after LLM calls
        self.AB_MIN_REVIEWS = env_int("AB_MIN_REVIEWS", 20)  # reviewed drafts per arm before a verdict
        self.MONITORING_MAX_DAYS = env_int("MONITORING_MAX_DAYS", 93)
        self.MONITORING_LATENCY_SAMPLES = env_int("MONITORING_LATENCY_SAMPLES", 100_000)
        # Content and email assistants (services/content.py, services/email_drafts.py)
        self.COMPANY_NAME = env_str("COMPANY_NAME", "The Vending Team")
        self.CONTENT_BRAND_VOICE = env_str("CONTENT_BRAND_VOICE", "friendly, upbeat, never pushy")
        # Support policy: what a reply draft may promise; anything beyond it is flagged for review.
        self.SUPPORT_REFUNDS_ALLOWED = env_bool("SUPPORT_REFUNDS_ALLOWED", True)
        self.SUPPORT_REFUND_WINDOW_DAYS = env_int("SUPPORT_REFUND_WINDOW_DAYS", 30)
        self.SUPPORT_REFUND_DAYS_TO_PROCESS = env_int("SUPPORT_REFUND_DAYS_TO_PROCESS", 5)
        self.SUPPORT_MAX_DISCOUNT_PCT = env_float("SUPPORT_MAX_DISCOUNT_PCT", 0.0)  # 0: no discounts offered
        self.SUPPORT_POLICY_NOTES = env_str("SUPPORT_POLICY_NOTES", "")
        # Chat continuation: token budget of the history sent with each turn (oldest turns summarised first).
        self.CONVERSATION_HISTORY_TOKENS = env_int("CONVERSATION_HISTORY_TOKENS", 1200)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a flat mapping for ``app.config.update``."""
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Configuration for tests: throwaway database, no CSRF friction for API helpers."""

    def __init__(self, **overrides: Any) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key"  # noqa: S105 (tests only)
        self.LOG_JSON = True
        self.OPTIMIZATION_STEP_DELAY_MS = 0  # tests that want pacing set it
        for key, value in overrides.items():
            setattr(self, key, value)


def instance_secret(instance: Path) -> str:
    """Return a per-install secret kept in instance/ so sessions survive restarts without config."""
    import secrets

    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
