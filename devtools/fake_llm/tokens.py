"""Deterministic token counting and embeddings for the fake provider."""

from __future__ import annotations

import hashlib
import math
import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
EMBEDDING_DIMS = 64


def count_tokens(text: str) -> int:
    """Words and punctuation marks; stable across runs and platforms."""
    return len(_TOKEN.findall(text))


def split_tokens(text: str) -> list[str]:
    """Cut `text` into pieces whose token counts add up to `count_tokens(text)` (whitespace kept)."""
    return re.findall(r"\s*(?:\w+|[^\w\s])", text) or ([text] if text else [])


def embed(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Hashing-trick vector of words and character trigrams: near-identical texts land close."""
    vector = [0.0] * dims
    words = [w.lower() for w in re.findall(r"\w+", text)]
    features = words + [w[i : i + 3] for w in words for i in range(max(len(w) - 2, 1))]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dims
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
