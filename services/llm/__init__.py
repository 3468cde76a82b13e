"""Generic LLM integration pipeline: features hand it a name, a prompt, variables, a schema and a fallback."""

from .budget import BudgetCounter, CostMonitor, MemoryBudgetCounter, RedisBudgetCounter
from .cache import SemanticCache
from .cache_backends import CacheBackend, MemoryCacheBackend, RedisCacheBackend
from .errors import BudgetExceeded, ConfigError, LLMError, PromptError
from .factory import build_pipeline
from .ledger import InMemoryLedger, LedgerRecord, LedgerSink
from .pipeline import LLMIntegrationPipeline
from .preparation import FallbackAnswer, FallbackFn
from .pricing import EFFECTIVE_DATE, Price, PriceTable
from .prompts import InMemoryPromptSource, PromptSource, PromptVersion, choose_variant
from .settings import LLMSettings
from .structurer import ContextBlock, DataStructurer
from .types import FallbackReason, LLMResult, StreamError, fallback_reason

__all__ = [
    "EFFECTIVE_DATE",
    "BudgetCounter",
    "BudgetExceeded",
    "CacheBackend",
    "ConfigError",
    "ContextBlock",
    "CostMonitor",
    "DataStructurer",
    "FallbackAnswer",
    "FallbackFn",
    "FallbackReason",
    "InMemoryLedger",
    "InMemoryPromptSource",
    "LLMError",
    "LLMIntegrationPipeline",
    "LLMResult",
    "LLMSettings",
    "LedgerRecord",
    "LedgerSink",
    "MemoryBudgetCounter",
    "MemoryCacheBackend",
    "Price",
    "PriceTable",
    "PromptError",
    "PromptSource",
    "PromptVersion",
    "RedisBudgetCounter",
    "RedisCacheBackend",
    "SemanticCache",
    "StreamError",
    "build_pipeline",
    "choose_variant",
    "fallback_reason",
]
