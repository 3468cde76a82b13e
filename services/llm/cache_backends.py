"""Storage behind the SemanticCache: one small interface, an in-process and a Redis implementation."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Clock = Callable[[], float]


class CacheBackend(Protocol):
    """Entries with TTL, tag and feature indexes, per-feature counters and per-scope vectors."""

    def get(self, key: str) -> str | None:
        """The stored value, or None when absent or expired."""
        ...

    def set(self, key: str, value: str, ttl_s: float, feature: str, tags: Sequence[str]) -> None:
        """Store a value, indexed by feature and tags."""
        ...

    def delete_tag(self, tag: str) -> int:
        """Remove every entry carrying `tag`; return how many."""
        ...

    def delete_feature(self, feature: str) -> int:
        """Remove every entry of `feature`; return how many."""
        ...

    def clear(self, expired_only: bool = False) -> int:
        """Remove all entries (or only the expired ones); return how many."""
        ...

    def incr(self, feature: str, counters: dict[str, float]) -> None:
        """Add to the feature's stats counters."""
        ...

    def counters(self) -> dict[str, dict[str, float]]:
        """Stats counters by feature."""
        ...

    def size(self) -> tuple[int, int]:
        """(live entries, approximate bytes)."""
        ...

    def add_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """Remember an embedding for the similarity layer."""
        ...

    def vectors(self, scope: str) -> tuple[list[str], np.ndarray]:
        """Keys and an (n, d) matrix of the scope's embeddings."""
        ...


@dataclass
class _Entry:
    value: str
    expires: float
    feature: str
    tags: tuple[str, ...]


@dataclass
class MemoryCacheBackend:
    """Thread-safe, TTL-bounded, LRU-bounded dict for one process (embedded mode)."""

    max_entries: int = 10_000
    max_vectors_per_scope: int = 2_000
    clock: Clock = time.monotonic
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _stats: dict[str, dict[str, float]] = field(default_factory=dict)
    _vectors: dict[str, OrderedDict[str, np.ndarray]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> str | None:
        """LRU touch on hit; expired entries are dropped on sight."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.value

    def set(self, key: str, value: str, ttl_s: float, feature: str, tags: Sequence[str]) -> None:
        """Insert, evicting the least recently used entries beyond `max_entries`."""
        with self._lock:
            self._entries[key] = _Entry(value, self.clock() + ttl_s, feature, tuple(tags))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete_tag(self, tag: str) -> int:
        """Drop entries tagged `tag`."""
        return self._drop(lambda e: tag in e.tags)

    def delete_feature(self, feature: str) -> int:
        """Drop entries of `feature`."""
        return self._drop(lambda e: e.feature == feature)

    def clear(self, expired_only: bool = False) -> int:
        """Drop everything, or only expired entries."""
        now = self.clock()
        if expired_only:
            return self._drop(lambda e: e.expires <= now)
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._vectors.clear()
            return count

    def incr(self, feature: str, counters: dict[str, float]) -> None:
        """Add to counters."""
        with self._lock:
            stats = self._stats.setdefault(feature, {})
            for name, amount in counters.items():
                stats[name] = stats.get(name, 0.0) + amount

    def counters(self) -> dict[str, dict[str, float]]:
        """Copy of the counters."""
        with self._lock:
            return {feature: dict(values) for feature, values in self._stats.items()}

    def size(self) -> tuple[int, int]:
        """Live entries and the bytes of their values."""
        now = self.clock()
        with self._lock:
            live = [e for e in self._entries.values() if e.expires > now]
            return len(live), sum(len(e.value) for e in live)

    def add_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """Bounded per scope: the oldest vectors go first."""
        with self._lock:
            bucket = self._vectors.setdefault(scope, OrderedDict())
            bucket[key] = np.asarray(vector, dtype=np.float32)
            while len(bucket) > self.max_vectors_per_scope:
                bucket.popitem(last=False)

    def vectors(self, scope: str) -> tuple[list[str], np.ndarray]:
        """The scope's keys and matrix."""
        with self._lock:
            bucket = self._vectors.get(scope)
            if not bucket:
                return [], np.zeros((0, 0), dtype=np.float32)
            return list(bucket), np.vstack(list(bucket.values()))

    def _drop(self, predicate: Callable[[_Entry], bool]) -> int:
        with self._lock:
            doomed = [key for key, entry in self._entries.items() if predicate(entry)]
            for key in doomed:
                del self._entries[key]
            return len(doomed)


class RedisCacheBackend:
    """Entries as strings with EX, tag/feature indexes as sets, stats as hashes, vectors as hashes."""

    def __init__(self, client: Any, namespace: str = "llm:cache") -> None:
        self._r = client
        self._ns = namespace

    def _k(self, *parts: str) -> str:
        return ":".join((self._ns, *parts))

    def get(self, key: str) -> str | None:
        """GET the entry (Redis expires it by itself)."""
        raw = self._r.get(self._k("e", key))
        return raw.decode() if isinstance(raw, bytes) else raw

    def set(self, key: str, value: str, ttl_s: float, feature: str, tags: Sequence[str]) -> None:
        """SET with EX plus index memberships, in one round trip."""
        full = self._k("e", key)
        ttl_ms = max(int(ttl_s * 1000), 1)
        pipe = self._r.pipeline(transaction=False)
        pipe.set(full, value, px=ttl_ms)
        pipe.sadd(self._k("f", feature), full)
        pipe.sadd(self._k("features"), feature)
        for tag in tags:
            pipe.sadd(self._k("t", tag), full)
        pipe.execute()

    def delete_tag(self, tag: str) -> int:
        """Delete the tag's members and the tag set."""
        return self._delete_members(self._k("t", tag))

    def delete_feature(self, feature: str) -> int:
        """Delete the feature's members and its vectors."""
        count = self._delete_members(self._k("f", feature))
        for scope_key in self._r.scan_iter(match=self._k("v", f"{feature}|*"), count=500):
            self._r.delete(scope_key)
        return count

    def clear(self, expired_only: bool = False) -> int:
        """Everything under the namespace, or (expired_only) prune index members whose entry expired."""
        if expired_only:
            return self._prune_indexes()
        count = 0
        for key in self._r.scan_iter(match=self._k("*"), count=1000):
            if not self._k_is_stats(key):
                count += int(_s(key).startswith(self._k("e") + ":"))
                self._r.delete(key)
        return count

    def incr(self, feature: str, counters: dict[str, float]) -> None:
        """HINCRBYFLOAT per counter."""
        pipe = self._r.pipeline(transaction=False)
        for name, amount in counters.items():
            pipe.hincrbyfloat(self._k("s", feature), name, amount)
        pipe.sadd(self._k("features"), feature)
        pipe.execute()

    def counters(self) -> dict[str, dict[str, float]]:
        """All features' stats hashes."""
        out: dict[str, dict[str, float]] = {}
        for feature in sorted(_s(f) for f in self._r.smembers(self._k("features"))):
            raw = self._r.hgetall(self._k("s", feature))
            if raw:
                out[feature] = {_s(k): float(v) for k, v in raw.items()}
        return out

    def size(self) -> tuple[int, int]:
        """SCAN the entries (monitoring only, O(entries)) and sum their STRLEN."""
        keys = list(self._r.scan_iter(match=self._k("e", "*"), count=1000))
        if not keys:
            return 0, 0
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.strlen(key)
        lengths = [int(n) for n in pipe.execute()]
        return sum(1 for n in lengths if n), sum(lengths)

    def add_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """HSET packed float32 under the scope."""
        self._r.hset(self._k("v", scope), key, np.asarray(vector, dtype=np.float32).tobytes())

    def vectors(self, scope: str) -> tuple[list[str], np.ndarray]:
        """HGETALL the scope and stack the vectors."""
        raw = self._r.hgetall(self._k("v", scope))
        if not raw:
            return [], np.zeros((0, 0), dtype=np.float32)
        keys = [_s(k) for k in raw]
        return keys, np.vstack([np.frombuffer(v, dtype=np.float32) for v in raw.values()])

    def _delete_members(self, index: str) -> int:
        members = list(self._r.smembers(index))
        pipe = self._r.pipeline(transaction=False)
        for member in members:
            pipe.delete(member)
        pipe.delete(index)
        results = pipe.execute()
        return sum(int(n) for n in results[:-1])

    def _prune_indexes(self) -> int:
        pruned = 0
        for index in self._r.scan_iter(match=self._k("[ft]", "*"), count=500):
            members = list(self._r.smembers(index))
            if not members:
                continue
            exists = self._r.pipeline(transaction=False)
            for member in members:
                exists.exists(member)
            gone = [m for m, alive in zip(members, exists.execute(), strict=True) if not alive]
            if gone:
                self._r.srem(index, *gone)
                pruned += len(gone) if _s(index).startswith(self._k("f")) else 0
        return pruned

    def _k_is_stats(self, key: Any) -> bool:
        name = _s(key)
        return name.startswith(self._k("s") + ":") or name == self._k("features")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
