"""Scripted behaviour of the fake provider: queued responses, injected errors, failure rate."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from .replies import INVALID_KINDS, InvalidKind

ErrorKind = Literal["429", "500", "529", "timeout", "cut"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("429", "500", "529", "timeout", "cut")
MALFORMED_JSON = '{"answer": "this object never closes", "confidence": 0.9'


@dataclass
class Rule:
    """One scripted answer; matched by model and/or a substring of the prompt."""

    text: str | None = None
    model: str | None = None
    contains: str | None = None
    times: int | None = 1  # None = for ever
    error: ErrorKind | None = None
    retry_after: float | None = 0.0
    latency_s: float = 0.0
    cached_tokens: int | None = None
    reply_model: str | None = None
    invalid: InvalidKind | None = None  # answer with an invalid reply of this kind (see replies.py)

    def matches(self, model: str, prompt: str) -> bool:
        """True when this rule applies to a request for `model` whose text contains `contains`."""
        return (self.model is None or self.model == model) and (self.contains is None or self.contains in prompt)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        """Build from the control endpoint's JSON body."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


@dataclass
class CallRecord:
    """What the server saw and answered, for tests to compare against."""

    api: str
    model: str
    stream: bool
    status: int
    outcome: str
    text: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    prompt: str = ""
    family: str | None = None  # the prompt family recognised (replies.py), None for other prompts


class Script:
    """Thread-safe rule queue plus a seeded random failure mode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._rng = random.Random(0)
        self.failure_rate = 0.0
        self.failure_kinds: tuple[ErrorKind, ...] = ERROR_KINDS
        self.latency_s = 0.0
        self.hang_s = 5.0
        self.prompt_cache = False
        self.invalid_rate = 0.0
        self.invalid_kinds: tuple[InvalidKind, ...] = INVALID_KINDS
        self.batch_polls = 1  # retrievals that report a batch in progress before it ends
        self.batch_expire_after: int | None = None  # requests of a batch after the first n expire
        self.calls: list[CallRecord] = []

    def add(self, rule: Rule) -> Rule:
        """Queue a rule; earlier rules win."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def set_failure_rate(self, rate: float, kinds: tuple[ErrorKind, ...] = ERROR_KINDS, seed: int = 0) -> None:
        """Fail `rate` of unscripted requests with a kind drawn from `kinds` (seeded, repeatable)."""
        with self._lock:
            self.failure_rate = rate
            self.failure_kinds = kinds
            self._rng = random.Random(seed)

    def reset(self) -> None:
        """Forget rules, failure mode, latency, hang time and the call log."""
        with self._lock:
            self._rules.clear()
            self.failure_rate = 0.0
            self.latency_s = 0.0
            self.hang_s = 5.0
            self.failure_kinds = ERROR_KINDS
            self.prompt_cache = False
            self.invalid_rate = 0.0
            self.invalid_kinds = INVALID_KINDS
            self.batch_polls = 1
            self.batch_expire_after = None
            self.calls.clear()

    def set_invalid_rate(self, rate: float, kinds: tuple[InvalidKind, ...] = INVALID_KINDS, seed: int = 0) -> None:
        """Answer `rate` of unscripted prompt-family requests with an invalid reply (seeded, repeatable)."""
        with self._lock:
            self.invalid_rate = rate
            self.invalid_kinds = kinds
            self._rng = random.Random(seed)

    def draw_invalid(self) -> InvalidKind | None:
        """An invalid kind for this unscripted answer, at the configured rate; else None."""
        with self._lock:
            if self.invalid_rate and self._rng.random() < self.invalid_rate:
                return self._rng.choice(self.invalid_kinds)
        return None

    def pick(self, model: str, prompt: str) -> Rule | None:
        """The rule for this request (consuming one use), or a random failure, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(model, prompt):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
            if self.failure_rate and self._rng.random() < self.failure_rate:
                return Rule(error=self._rng.choice(self.failure_kinds), retry_after=0.0)
        return None

    def record(self, call: CallRecord) -> None:
        """Append to the call log."""
        with self._lock:
            self.calls.append(call)
