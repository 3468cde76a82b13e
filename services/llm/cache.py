"""SemanticCache: an exact layer keyed by the canonical form of a request, plus an optional similarity one."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from .cache_backends import CacheBackend
from .canonical import VOLATILE_PLACEHOLDER, canonical_variables
from .providers.base import Embedder
from .types import ChatMessage

__all__ = ["VOLATILE_PLACEHOLDER", "CachedAnswer", "SemanticCache", "cache_key", "canonical_variables"]

_WS = re.compile(r"\s+")
log = logging.getLogger(__name__)
CacheMode = Literal["semantic", "exact", "off"]
CACHE_MODES: tuple[CacheMode, ...] = ("semantic", "exact", "off")


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedAnswer:
    """What is stored per entry: the answer and what it cost to produce."""

    text: str
    data: Any
    model: str
    provider: str
    tier: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    tokens_cache_write: int = 0
    confidence: float
    prompt_version: int | None
    variant: str | None
    probe: str | None = None  # the free wording a near hit is compared on (similarity entries only)


def cache_key(
    feature: str,
    prompt: str,
    version: int | None,
    model: str,
    system: str,
    messages: Sequence[ChatMessage],
    params: Mapping[str, Any],
) -> str:
    """sha256 of the canonical JSON of the request; whitespace runs and key order do not matter."""
    material = {
        "feature": feature,
        "prompt": prompt,
        "version": version,
        "model": model,
        "system": _WS.sub(" ", system).strip(),
        "messages": [[m.role, _WS.sub(" ", m.content).strip()] for m in messages],
        "params": {k: params[k] for k in sorted(params)},
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class SemanticCache:
    """Exact lookups for every cached feature; near lookups for `semantic` features without personal data.

    The cache is an optimisation: a backend failure (Redis down) is logged and counted, and the call goes
    on as a miss.
    """

    def __init__(
        self,
        backend: CacheBackend,
        ttl_s: float,
        embedder: Embedder | None = None,
        modes: Mapping[str, CacheMode] | None = None,
        threshold: float = 0.95,
        default_mode: CacheMode = "exact",
    ) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.embedder = embedder
        self.modes = dict(modes or {})
        self.default_mode = default_mode
        self.threshold = threshold
        self.errors = 0

    def mode(self, feature: str) -> CacheMode:
        """`semantic`, `exact` or `off` for this feature."""
        return self.modes.get(feature, self.default_mode)

    def get(self, key: str) -> CachedAnswer | None:
        """Exact lookup (None on a backend failure)."""
        raw = self._safe(self.backend.get, key)
        return None if raw is None else CachedAnswer(**json.loads(raw))

    def put(self, key: str, answer: CachedAnswer, feature: str, tags: Sequence[str]) -> None:
        """Store an answer (callers never store fallbacks or partial streams)."""
        value = json.dumps(asdict(answer), default=_json_default)
        self._safe(self.backend.set, key, value, self.ttl_s, feature, tags)

    def similarity_enabled(self, feature: str, pii: bool) -> bool:
        """Only `semantic` features, never ones carrying personal data, and only with an embedder."""
        return self.embedder is not None and self.mode(feature) == "semantic" and not pii

    def embed(self, text: str) -> tuple[list[float], int]:
        """One embedding and its billed tokens."""
        assert self.embedder is not None  # guarded by similarity_enabled
        vectors, tokens = self.embedder.embed([text])
        return vectors[0], tokens

    def neighbours(self, scope: str, vector: Sequence[float]) -> Iterator[tuple[CachedAnswer, float]]:
        """Live entries of `scope` at or above the threshold, nearest first."""
        found = self._safe(self.backend.vectors, scope)
        if found is None or not found[0]:
            return
        keys, matrix = found
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = (matrix @ query) / np.where(norms == 0, 1.0, norms)
        for index in np.argsort(-scores):
            if float(scores[index]) < self.threshold:
                return
            hit = self.get(keys[int(index)])
            if hit is not None:
                yield hit, float(scores[index])

    def remember_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """Index an entry for similarity lookups."""
        self._safe(self.backend.add_vector, scope, key, vector)

    def record(self, feature: str, hit: bool, answer: CachedAnswer | None = None, similar: bool = False) -> None:
        """Count a hit (with the tokens and dollars it saved) or a miss."""
        if not hit:
            self._safe(self.backend.incr, feature, {"misses": 1})
            return
        counters = {
            "hits": 1,
            "similar_hits": 1 if similar else 0,
            "tokens_saved": answer.tokens_in + answer.tokens_out if answer else 0,
            "usd_saved": answer.cost_usd if answer else 0.0,
        }
        self._safe(self.backend.incr, feature, counters)

    def clear(self, feature: str | None = None, tag: str | None = None, expired_only: bool = False) -> int:
        """Invalidate by tag, by feature, only expired entries, or everything."""
        if tag is not None:
            return self.backend.delete_tag(tag)
        if feature is not None:
            return self.backend.delete_feature(feature)
        return self.backend.clear(expired_only=expired_only)

    def similarity(self) -> dict[str, Any]:
        """Which lookups run: exact always, near ones with which embedder and threshold (for /readyz and stats)."""
        semantic = sorted(f for f, m in self.modes.items() if m == "semantic")
        if self.embedder is None:
            return {"mode": "exact only", "reason": "no embedder configured", "semantic_features": []}
        return {
            "mode": "exact + similarity",
            "embedder": self.embedder.model,
            "threshold": self.threshold,
            "semantic_features": semantic,
            "exact_only_features": sorted(f for f, m in self.modes.items() if m == "exact"),
            "uncached_features": sorted(f for f, m in self.modes.items() if m == "off"),
            "default_mode": self.default_mode,
        }

    def stats(self) -> dict[str, Any]:
        """Hits, misses, hit rate, tokens and dollars saved (total and by feature), entries, bytes."""
        by_feature: dict[str, dict[str, float]] = self._safe(self.backend.counters) or {}
        totals: dict[str, float] = {}
        for values in by_feature.values():
            for name, amount in values.items():
                totals[name] = totals.get(name, 0.0) + amount
        entries, memory = self._safe(self.backend.size) or (0, 0)
        return {
            **_summary(totals),
            "entries": entries,
            "memory_bytes": memory,
            "backend_errors": self.errors,
            "similarity": self.similarity(),
            "by_feature": {feature: _summary(values) for feature, values in sorted(by_feature.items())},
        }

    def _safe(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except Exception as exc:  # noqa: BLE001 (any backend failure only costs a miss)
            self.errors += 1
            log.warning("llm cache backend failed (%s); treated as a miss", type(exc).__name__)
            return None


def similarity_scope(feature: str, anchor: str) -> str:
    """Near answers are only shared within one feature and one anchor (everything but the free wording)."""
    return f"{feature}|{anchor}"


def _summary(values: Mapping[str, float]) -> dict[str, float]:
    hits, misses = values.get("hits", 0.0), values.get("misses", 0.0)
    return {
        "hits": int(hits),
        "misses": int(misses),
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
        "similar_hits": int(values.get("similar_hits", 0.0)),
        "tokens_saved": int(values.get("tokens_saved", 0.0)),
        "usd_saved": round(values.get("usd_saved", 0.0), 6),
    }


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(value)
