"""Application configuration: the environment is read once, here, with typed helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

BASE_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


class EnvReader:
    """Typed reads from one mapping of settings (the process environment, or explicit values in tests)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return a stripped value, or the default when unset or blank."""
        value = self.environ.get(name)
        if value is None or not value.strip():
            return default
        return value.strip()

    def integer(self, name: str, default: int) -> int:
        """Return an integer value; a malformed value fails loudly at start-up."""
        return self._parsed(name, default, int, "an integer")

    def limit(self, name: str, default: int | None) -> int | None:
        """Return a non-negative integer limit, or None for "none"/"unlimited"; malformed values fail loudly."""
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("none", "unlimited"):
            return None
        value = self._parsed(name, 0, int, "an integer or 'none'")
        if value < 0:
            raise RuntimeError(f"{name} must be at least 0 (or 'none'), got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        """Return a float value; a malformed value fails loudly at start-up."""
        return self._parsed(name, default, float, "a number")

    def _parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        """The value turned into a number by ``parse``, or the default when unset; RuntimeError when malformed."""
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise RuntimeError(f"{name} must be {what}, got {raw!r}") from exc

    def flag(self, name: str, default: bool) -> bool:
        """Return a boolean value (1/true/yes/on)."""
        raw = self.text(name)
        if raw is None:
            return default
        return raw.lower() in {"1", "true", "yes", "on"}


def engine_options(url: str, size: int, overflow: int, timeout: float) -> dict[str, Any]:
    """SQLAlchemy engine options: pool limits for every pooled database (in-memory SQLite has no pool)."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.rstrip("/") == "sqlite:" or ":memory:" in url or "mode=memory" in url:
        return options
    options.update(pool_size=size, max_overflow=overflow, pool_timeout=timeout)
    return options


class Config:
    """Runtime configuration; every value comes from the environment (or ``environ``) or an embedded default."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = EnvReader(os.environ if environ is None else environ)
        instance = Path(env.text("INSTANCE_PATH", str(BASE_DIR / "instance")) or "instance")
        self.INSTANCE_PATH = str(instance)
        self.SECRET_KEY = env.text("SECRET_KEY")  # None: create_app keeps one in instance/
        self.SQLALCHEMY_DATABASE_URI = env.text("DATABASE_URL", f"sqlite:///{instance / 'planogram.db'}")
        # Connection pool per worker process (docs/ARCHITECTURE.md, "Pool sizes and workers"). A request holds a
        # connection only while it queries: it is released before AI calls and streams, so a small pool serves
        # hundreds of concurrent gevent requests. A request that finds the pool empty waits DB_POOL_TIMEOUT s.
        self.DB_POOL_SIZE = env.integer("DB_POOL_SIZE", 10)
        self.DB_MAX_OVERFLOW = env.integer("DB_MAX_OVERFLOW", 10)
        self.DB_POOL_TIMEOUT = env.number("DB_POOL_TIMEOUT", 10.0)
        # SQLALCHEMY_ENGINE_OPTIONS is derived from these in create_app (config.engine_options).
        self.REDIS_URL = env.text("REDIS_URL")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # After a Redis error the LLM cache/budget/breakers use their stand-ins for this long before retrying it.
        self.REDIS_RETRY_SECONDS = env.number("REDIS_RETRY_SECONDS", 5.0)
        self.RATELIMIT_DEFAULT = env.text("RATELIMIT_DEFAULT", "600 per minute")
        # Sign-in attempts per client address (any accounts). Per account: a growing delay, never a lock-out.
        self.RATELIMIT_LOGIN = env.text("RATELIMIT_LOGIN", "20 per minute;200 per hour")
        self.LOGIN_FREE_FAILURES = env.integer("LOGIN_FREE_FAILURES", 3)  # failures before attempts are slowed
        self.LOGIN_DELAY_BASE_SECONDS = env.number("LOGIN_DELAY_BASE_SECONDS", 1.0)  # doubles per further failure
        self.LOGIN_DELAY_MAX_SECONDS = env.number("LOGIN_DELAY_MAX_SECONDS", 20.0)
        self.LOGIN_FAILURE_WINDOW_SECONDS = env.integer("LOGIN_FAILURE_WINDOW_SECONDS", 900)
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_ENABLED = env.flag("RATELIMIT_ENABLED", True)
        # Redis down: count limits in process memory until it answers again (Flask-Limiter re-probes it), and
        # never fail a request because the limit store failed.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
        self.WTF_CSRF_CHECK_DEFAULT = False  # checked in auth for cookie sessions only
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env.flag("SESSION_COOKIE_SECURE", False)  # HTTPS answers: Secure anyway
        # Strict-Transport-Security max-age sent on HTTPS responses (blueprints/_security.py).
        self.HSTS_SECONDS = env.integer("HSTS_SECONDS", 31_536_000)
        self.MAX_CONTENT_LENGTH = env.integer("MAX_UPLOAD_MB", 512) * 1024 * 1024
        # Largest JSON request body (CSV uploads are multipart and bounded by MAX_UPLOAD_MB instead).
        self.JSON_MAX_BYTES = env.integer("JSON_MAX_KB", 1024) * 1024
        self.API_TOKEN_TTL_DAYS = env.integer("API_TOKEN_TTL_DAYS", 30)
        self.LOG_LEVEL = env.text("LOG_LEVEL", "INFO")
        self.LOG_JSON = env.flag("LOG_JSON", True)
        self.JOB_WORKERS = env.integer("JOB_WORKERS", 2)
        # Worker jobs one fleet batch is split into (run `flask rq-worker` this many times with Redis).
        self.BATCH_PARALLELISM = env.integer("BATCH_PARALLELISM", 2)
        self.EVENT_STREAM_TTL_SECONDS = env.integer("EVENT_STREAM_TTL_SECONDS", 3600)
        # Background jobs (services/jobs.JobPolicy): an RQ work horse running longer is killed (embedded threads
        # cannot be, the limit applies with Redis only); a failed job runs again up to JOB_RETRIES times, after
        # JOB_RETRY_INTERVAL_SECONDS with RQ (at once in embedded mode); an ended job's status, and a fleet
        # batch's per-device results, are kept JOB_RESULT_TTL_SECONDS. A user's streamed optimisation is never
        # retried (the editor shows its error; Optimise again starts a new one).
        self.JOB_TIMEOUT_SECONDS = env.integer("JOB_TIMEOUT_SECONDS", 1800)
        self.JOB_RETRIES = env.integer("JOB_RETRIES", 2)
        self.JOB_RETRY_INTERVAL_SECONDS = env.integer("JOB_RETRY_INTERVAL_SECONDS", 10)
        self.JOB_RESULT_TTL_SECONDS = env.integer("JOB_RESULT_TTL_SECONDS", 86_400)
        # SSE: a `: ping` comment when nothing was sent for this long (keeps proxies open, detects hang-ups).
        self.SSE_HEARTBEAT_SECONDS = env.number("SSE_HEARTBEAT_SECONDS", 15.0)
        # A streaming optimisation nobody has listened to for this long cancels itself.
        self.STREAM_ABANDON_SECONDS = env.integer("STREAM_ABANDON_SECONDS", 30)
        # Pause between published optimisation steps so the editor can animate them (0 = as fast as computed).
        self.OPTIMIZATION_STEP_DELAY_MS = env.integer("OPTIMIZATION_STEP_DELAY_MS", 150)
        # Safety net only: the optimiser proves its answer in about a second of CPU; when this wall-clock limit
        # stops the solver first, the answer is the repaired current planogram, labelled status "floor".
        self.OPTIMIZATION_TIME_LIMIT_SECONDS = env.number("OPTIMIZATION_TIME_LIMIT_SECONDS", 60.0)
        # Skus absent from a device's current planogram that one optimisation may introduce ("none" = no
        # limit); a request's `max_new_skus` overrides it. See docs/ENGINE.md (new products a few at a time).
        self.OPTIMIZER_MAX_NEW_SKUS = env.limit("OPTIMIZER_MAX_NEW_SKUS", None)
        # Change budget: slots one optimisation may change ("none" = no limit), e.g. what a route driver can redo
        # on one visit; a request's `max_changed_slots` overrides it. The editor's budget control starts here.
        self.OPTIMIZER_MAX_CHANGED_SLOTS = env.limit("OPTIMIZER_MAX_CHANGED_SLOTS", None)
        # Embedded mode: run the optimiser in child processes (up to JOB_WORKERS) instead of the job thread,
        # so its CPU work does not hold the web process's GIL. (With Redis, RQ workers are processes anyway.)
        self.OPTIMIZATION_CHILD_PROCESSES = env.flag("OPTIMIZATION_CHILD_PROCESSES", True)
        # Fit every device's demand model in the background when the server (or an RQ worker) starts and after
        # each import or saved planogram, so the first Optimise does not wait for a fit (services/merchandising/warmup).
        self.MODEL_WARMUP = env.flag("MODEL_WARMUP", True)
        # LLM pipeline (read by services.llm wiring; unset provider = rule-based fallbacks only)
        self.LLM_PROVIDER = env.text("LLM_PROVIDER")
        self.ANTHROPIC_API_KEY = env.text("ANTHROPIC_API_KEY")
        self.ANTHROPIC_BASE_URL = env.text("ANTHROPIC_BASE_URL")
        self.OPENAI_API_KEY = env.text("OPENAI_API_KEY")
        self.OPENAI_BASE_URL = env.text("OPENAI_BASE_URL")
        self.LLM_MODEL_FAST = env.text("LLM_MODEL_FAST")
        self.LLM_MODEL_BALANCED = env.text("LLM_MODEL_BALANCED")
        self.LLM_MODEL_POWERFUL = env.text("LLM_MODEL_POWERFUL")
        self.LLM_DAILY_BUDGET_USD = env.number("LLM_DAILY_BUDGET_USD", 10.0)
        self.LLM_MAX_TOKENS_PER_REQUEST = env.integer("LLM_MAX_TOKENS_PER_REQUEST", 4000)
        self.LLM_CACHE_TTL_HOURS = env.number("LLM_CACHE_TTL_HOURS", 24.0)
        self.LLM_TIMEOUT_SECONDS = env.number("LLM_TIMEOUT_SECONDS", 30.0)
        # While Redis is unreachable each process may spend at most this share of the budget headroom it last
        # saw; <= 1 / (processes sharing the budget) guarantees the daily budget is never overshot.
        self.LLM_BUDGET_OUTAGE_SHARE = env.number("LLM_BUDGET_OUTAGE_SHARE", 0.05)
        # Cache per feature, e.g. "caption=semantic,email_reply=exact,placement_feedback=off" (over the
        # defaults in services/ai.py); embeddings for near hits: local | provider | none (exact only).
        self.LLM_CACHE_MODES = env.text("LLM_CACHE_MODES")
        self.LLM_EMBEDDINGS = env.text("LLM_EMBEDDINGS", "local")
        self.LLM_SIMILARITY_THRESHOLD = env.text("LLM_SIMILARITY_THRESHOLD")
        # Batch jobs (half-price provider batch APIs): how often a job asks whether its batch has ended, and
        # how long one job run waits before it hands over to a fresh run (batches may take up to 24 h).
        self.LLM_BATCH_POLL_SECONDS = env.number("LLM_BATCH_POLL_SECONDS", 30.0)
        self.LLM_BATCH_MAX_WAIT_SECONDS = env.number("LLM_BATCH_MAX_WAIT_SECONDS", 600.0)
        self.PROMPTS_DIR = env.text("PROMPTS_DIR", str(BASE_DIR / "prompts"))  # read by `flask prompts sync`
        # ISO 4217 code the pages format money in (prices in the data are plain numbers in this currency).
        self.CURRENCY = env.text("CURRENCY", "USD")
        # Monitoring (docs/MONITORING.md). /metrics: admins, or `Authorization: Bearer $METRICS_TOKEN`.
        self.METRICS_TOKEN = env.text("METRICS_TOKEN")
        self.ALERT_WINDOW_MINUTES = env.integer("ALERT_WINDOW_MINUTES", 15)
        self.ALERT_ERROR_RATE = env.number("ALERT_ERROR_RATE", 0.2)  # share of calls in the window
        self.ALERT_FALLBACK_RATE = env.number("ALERT_FALLBACK_RATE", 0.3)
        self.ALERT_MIN_CALLS = env.integer("ALERT_MIN_CALLS", 10)  # fewer calls in the window: no rate alert
        self.ALERT_CHECK_SECONDS = env.number("ALERT_CHECK_SECONDS", 30.0)  # per process, after LLM calls
        self.AB_MIN_REVIEWS = env.integer("AB_MIN_REVIEWS", 20)  # reviewed drafts per arm before a verdict
        self.MONITORING_MAX_DAYS = env.integer("MONITORING_MAX_DAYS", 93)
        self.MONITORING_LATENCY_SAMPLES = env.integer("MONITORING_LATENCY_SAMPLES", 100_000)
        # Content and email assistants (services/content/assistant.py, services/email/drafts.py)
        self.COMPANY_NAME = env.text("COMPANY_NAME", "The Vending Team")
        self.CONTENT_BRAND_VOICE = env.text("CONTENT_BRAND_VOICE", "friendly, upbeat, never pushy")
        # Support policy: what a reply draft may promise; anything beyond it is flagged for review.
        self.SUPPORT_REFUNDS_ALLOWED = env.flag("SUPPORT_REFUNDS_ALLOWED", True)
        self.SUPPORT_REFUND_WINDOW_DAYS = env.integer("SUPPORT_REFUND_WINDOW_DAYS", 30)
        self.SUPPORT_REFUND_DAYS_TO_PROCESS = env.integer("SUPPORT_REFUND_DAYS_TO_PROCESS", 5)
        self.SUPPORT_MAX_DISCOUNT_PCT = env.number("SUPPORT_MAX_DISCOUNT_PCT", 0.0)  # 0: no discounts offered
        self.SUPPORT_POLICY_NOTES = env.text("SUPPORT_POLICY_NOTES", "")
        # Chat continuation: token budget of the history sent with each turn (oldest turns summarised first).
        self.CONVERSATION_HISTORY_TOKENS = env.integer("CONVERSATION_HISTORY_TOKENS", 1200)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a flat mapping for ``app.config.update``."""
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Configuration for tests: built from the defaults and explicit overrides only, never from the shell."""

    __test__ = False  # not a pytest test class

    def __init__(self, **overrides: Any) -> None:
        super().__init__(environ={})
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key"  # noqa: S105 (tests only)
        self.LOG_JSON = True
        self.OPTIMIZATION_STEP_DELAY_MS = 0  # tests that want pacing set it
        self.MODEL_WARMUP = False  # tests of the warm-up turn it on
        self.LOGIN_DELAY_BASE_SECONDS = 0.0  # tests of the sign-in delay set it (and observe the sleep)
        self.LLM_BATCH_POLL_SECONDS = 0.01  # the fake provider's batches end after one poll
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
