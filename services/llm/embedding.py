"""A local, deterministic embedder for the cache's similarity layer: hashed word and character n-grams.

No model and no network: ~0.05 ms per text, identical in every process (so Redis-shared vectors agree).
It sees spelling, not meaning: reworded requests that keep their words (order, case, punctuation, filler,
plurals, small edits) land close; synonyms do not. The entity guard (canonical.same_entities) decides
whether a near neighbour may be served. See docs/LLM_PIPELINE.md for why no neural model ships by default.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")
# Words that carry how a request is asked, not what is asked: weighted down, never decisive.
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "please",
        "could",
        "would",
        "can",
        "you",
        "me",
        "my",
        "i",
        "we",
        "our",
        "for",
        "of",
        "to",
        "and",
        "or",
        "with",
        "on",
        "in",
        "at",
        "by",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "some",
        "just",
        "kindly",
        "write",
        "give",
        "make",
        "create",
        "need",
        "want",
        "like",
    ]
)


class LocalEmbedder:
    """Sublinear TF over hashed word unigrams and character 3/4-grams, L2-normalised."""

    model = "local-ngram"
    billed = False  # costs nothing: the similarity layer reserves no budget for it

    def __init__(self, dims: int = 1024) -> None:
        self.dims = dims

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """Vectors in input order; 0 billed tokens."""
        return [self.vector(text).tolist() for text in texts], 0

    def close(self) -> None:
        """Nothing to release: no connections."""

    def vector(self, text: str) -> np.ndarray:
        """One L2-normalised float32 vector."""
        counts: dict[int, float] = {}
        for word in _WORD.findall(text.lower()):
            weight = 0.25 if word in _FILLER else 1.0
            _add(counts, "w:" + _stem(word), self.dims, 2.0 * weight)
            padded = f" {word} "
            for size in (3, 4):
                for start in range(len(padded) - size + 1):
                    _add(counts, padded[start : start + size], self.dims, 0.5 * weight)
        vector = np.zeros(self.dims, dtype=np.float32)
        for index, count in counts.items():
            vector[index] = 1.0 + math.log(count) if count >= 1.0 else count
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


def _add(counts: dict[int, float], feature: str, dims: int, weight: float) -> None:
    index = zlib.crc32(feature.encode()) % dims
    counts[index] = counts.get(index, 0.0) + weight


def _stem(word: str) -> str:
    """Crude plural/verb-form folding so 'cans'/'can', 'sitting'/'sits' share a feature."""
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
