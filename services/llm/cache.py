"""SemanticCache: an exact layer keyed by the canonical form of a request, plus an optional similarity one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .cache_backends import CacheBackend
from .providers.base import Embedder
from .types import ChatMessage

_WS = re.compile(r"\s+")
VOLATILE_PLACEHOLDER = "<volatile>"


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
    confidence: float
    prompt_version: int | None
    variant: str | None


def canonical_variables(value: Any, volatile: frozenset[str] = frozenset()) -> Any:
    """Dicts with sorted keys, volatile keys replaced by a constant, tuples as lists (recursively)."""
    if isinstance(value, Mapping):
        return {
            str(k): VOLATILE_PLACEHOLDER if str(k) in volatile else canonical_variables(value[k], volatile)
            for k in sorted(value, key=str)
        }
    if isinstance(value, (list, tuple)):
        return [canonical_variables(v, volatile) for v in value]
    return value


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
    """Exact lookups always; similarity lookups only for opted-in, PII-free features, within a scope."""

    def __init__(
        self,
        backend: CacheBackend,
        ttl_s: float,
        embedder: Embedder | None = None,
        similarity_features: Iterable[str] = (),
        threshold: float = 0.95,
    ) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.embedder = embedder
        self.similarity_features = frozenset(similarity_features)
        self.threshold = threshold

    def get(self, key: str) -> CachedAnswer | None:
        """Exact lookup."""
        raw = self.backend.get(key)
        return None if raw is None else CachedAnswer(**json.loads(raw))

    def put(self, key: str, answer: CachedAnswer, feature: str, tags: Sequence[str]) -> None:
        """Store an answer (callers never store fallbacks or partial streams)."""
        self.backend.set(key, json.dumps(asdict(answer), default=_json_default), self.ttl_s, feature, tags)

    def similarity_enabled(self, feature: str, pii: bool) -> bool:
        """Only features that opted in, never ones carrying personal data, and only with an embedder."""
        return self.embedder is not None and feature in self.similarity_features and not pii

    def embed(self, text: str) -> tuple[list[float], int]:
        """One embedding and its billed tokens."""
        assert self.embedder is not None  # guarded by similarity_enabled
        vectors, tokens = self.embedder.embed([text])
        return vectors[0], tokens

    def nearest(self, scope: str, vector: Sequence[float]) -> tuple[CachedAnswer, float] | None:
        """Best live entry in `scope` at or above the threshold."""
        keys, matrix = self.backend.vectors(scope)
        if not keys:
            return None
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = (matrix @ query) / np.where(norms == 0, 1.0, norms)
        for index in np.argsort(-scores):
            if float(scores[index]) < self.threshold:
                return None
            hit = self.get(keys[int(index)])
            if hit is not None:
                return hit, float(scores[index])
        return None

    def remember_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """Index an entry for similarity lookups."""
        self.backend.add_vector(scope, key, vector)

    def record(
        self, feature: str, hit: bool, answer: CachedAnswer | None = None, similar: bool = False
    ) -> None:
        """Count a hit (with the tokens and dollars it saved) or a miss."""
        if not hit:
            self.backend.incr(feature, {"misses": 1})
            return
        self.backend.incr(
            feature,
            {
                "hits": 1,
                "similar_hits": 1 if similar else 0,
                "tokens_saved": answer.tokens_in + answer.tokens_out if answer else 0,
                "usd_saved": answer.cost_usd if answer else 0.0,
            },
        )

    def clear(self, feature: str | None = None, tag: str | None = None, expired_only: bool = False) -> int:
        """Invalidate by tag, by feature, only expired entries, or everything."""
        if tag is not None:
            return self.backend.delete_tag(tag)
        if feature is not None:
            return self.backend.delete_feature(feature)
        return self.backend.clear(expired_only=expired_only)

    def stats(self) -> dict[str, Any]:
        """Hits, misses, hit rate, tokens and dollars saved (total and by feature), entries, bytes."""
        by_feature = self.backend.counters()
        totals: dict[str, float] = {}
        for values in by_feature.values():
            for name, amount in values.items():
                totals[name] = totals.get(name, 0.0) + amount
        entries, memory = self.backend.size()
        return {
            **_summary(totals),
            "entries": entries,
            "memory_bytes": memory,
            "by_feature": {feature: _summary(values) for feature, values in sorted(by_feature.items())},
        }


def similarity_scope(feature: str, prompt: str, version: int | None, user: str | None) -> str:
    """Similar answers are only shared within one feature, prompt version and user/tenant."""
    return f"{feature}|{prompt}@{version}|{user or '-'}"


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
