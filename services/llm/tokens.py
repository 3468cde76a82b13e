"""Token estimates used before a call (budgeting, truncation); providers report the real counts after."""

from __future__ import annotations

import math

# Real tokenizers average ~4 characters per token on English prose and fewer on numbers and markup;
# 3 bytes per token over-estimates on purpose so reservations are an upper bound in practice.
BYTES_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """Conservative token estimate of `text`."""
    if not text:
        return 0
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def estimate_prompt_tokens(system: str, messages: list[str]) -> int:
    """Conservative estimate of a whole prompt, with per-message framing overhead."""
    return estimate_tokens(system) + sum(estimate_tokens(m) + MESSAGE_OVERHEAD for m in messages) + 1
