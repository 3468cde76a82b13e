"""Fake Anthropic/OpenAI provider server for tests and local development (no network, no keys)."""

from .replies import INVALID_KINDS, family_of, invalid_reply, reply_for
from .script import ERROR_KINDS, MALFORMED_JSON, CallRecord, Rule, Script
from .server import FakeLLMServer
from .tokens import count_tokens, embed

__all__ = [
    "ERROR_KINDS",
    "INVALID_KINDS",
    "MALFORMED_JSON",
    "CallRecord",
    "FakeLLMServer",
    "Rule",
    "Script",
    "count_tokens",
    "embed",
    "family_of",
    "invalid_reply",
    "reply_for",
]
