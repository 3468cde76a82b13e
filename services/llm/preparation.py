"""Turning a feature's call into a ready request: variant, redaction, context budget, render, cache key."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel

from .cache import cache_key
from .canonical import canonical_variables, probe_text
from .errors import PromptError
from .pii import PIIRedactor
from .prompts import PromptRenderer, PromptSource, PromptVersion, RenderedPrompt, choose_variant
from .routing import Route, TierRouter
from .structured import schema_instruction
from .structurer import ContextBlock, DataStructurer
from .tokens import estimate_prompt_tokens
from .types import Tier


@dataclass(frozen=True, slots=True)
class FallbackAnswer:
    """What a rule-based fallback returns (a plain str, dict or pydantic model is accepted too)."""

    text: str = ""
    data: Any = None
    confidence: float = 0.3


FallbackResult = FallbackAnswer | BaseModel | str | Mapping[str, Any]
FallbackFn = Callable[[Mapping[str, Any]], FallbackResult]


class CallOptions(TypedDict, total=False):
    """The optional, keyword-only parts of a call (see `CallSpec`)."""

    user_id: str | None
    tags: Iterable[str]
    pii: bool
    context: Iterable[ContextBlock]
    volatile: Iterable[str]
    paraphrase: Iterable[str]
    scope: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSpec:
    """Everything a feature asks of one call, frozen and passed whole through the pipeline.

    `volatile` variables are blanked in the cache key (they change without changing the answer);
    `paraphrase` variables are free wording compared by similarity, every other variable must match
    exactly for a near hit; `scope` (e.g. a customer) partitions the cache.
    """

    feature: str
    prompt_name: str
    variables: Mapping[str, Any]
    schema: type[BaseModel] | None = None
    fallback: FallbackFn | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    pii: bool = False
    context: tuple[ContextBlock, ...] = ()
    volatile: frozenset[str] = frozenset()
    paraphrase: frozenset[str] = frozenset()
    scope: str | None = None

    @classmethod
    def build(
        cls,
        feature: str,
        prompt_name: str,
        variables: Mapping[str, Any],
        schema: type[BaseModel] | None = None,
        fallback: FallbackFn | None = None,
        **options: Unpack[CallOptions],
    ) -> CallSpec:
        """A spec from `run`/`stream` arguments; iterables become tuples and frozensets."""
        return cls(
            feature=feature,
            prompt_name=prompt_name,
            variables=variables,
            schema=schema,
            fallback=fallback,
            user_id=options.get("user_id"),
            tags=tuple(options.get("tags", ())),
            pii=bool(options.get("pii", False)),
            context=tuple(options.get("context", ())),
            volatile=frozenset(options.get("volatile", ())),
            paraphrase=frozenset(options.get("paraphrase", ())),
            scope=options.get("scope"),
        )


@dataclass
class Prepared:
    """A call ready for cache lookup and execution."""

    spec: CallSpec
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    prompt: PromptVersion | None = None
    rendered: RenderedPrompt | None = None
    tier: Tier | None = None
    routes: list[Route] = field(default_factory=list)
    key: str = ""
    input_estimate: int = 0
    pii_map: dict[str, str] = field(default_factory=dict)
    anchor: str = ""  # the key without the free-wording variables: near hits stay within one anchor
    probe: str = ""  # the free wording compared by similarity
    vector: list[float] | None = None
    batch: bool = False  # answered through a provider batch (ledger rows say so)


class Preparer:
    """Pure preparation steps; raises PromptError only for a feature's programming errors."""

    def __init__(
        self,
        prompts: PromptSource,
        router: TierRouter | None,
        redactor: PIIRedactor,
        structurer: DataStructurer | None = None,
    ) -> None:
        self.prompts = prompts
        self.router = router
        self.redactor = redactor
        self.structurer = structurer or DataStructurer()
        self.renderer = PromptRenderer()

    def prepare(self, spec: CallSpec, remaining_fraction: float, route: Route | None = None) -> Prepared:
        """Choose the variant, route, redact, fit the context, render and compute the cache key.

        A given `route` (a batch's, chosen when it was submitted) replaces the router's choice.
        """
        prepared = Prepared(spec)
        versions = self.prompts.active_versions(spec.prompt_name)
        if not versions:
            raise PromptError(f"no active version of prompt {spec.prompt_name!r}")
        prompt = choose_variant(versions, spec.user_id or prepared.request_id)
        prepared.prompt = prompt
        if self.router is not None:
            prepared.tier = self.router.tier_for(spec.feature, prompt.tier, remaining_fraction)
            prepared.routes = self.router.chain(prepared.tier, prompt.max_tokens)
        if route is not None:
            prepared.tier, prepared.routes = route.tier, [route]
        variables = self._variables(spec, prepared)
        prepared.rendered = self._render(prompt, variables, spec.schema)
        prepared.input_estimate = estimate_prompt_tokens(
            prepared.rendered.system, [m.content for m in prepared.rendered.messages]
        )
        if prepared.routes:
            prepared.key = self._key(prepared, variables, spec.volatile)
            if spec.paraphrase and not spec.pii:
                prepared.anchor = self._key(prepared, variables, spec.volatile | spec.paraphrase)
                prepared.probe = probe_text(variables, spec.paraphrase)
        return prepared

    def _variables(self, spec: CallSpec, prepared: Prepared) -> dict[str, Any]:
        """Redacted (when asked), canonical variables plus the budget-fitted context blocks."""
        variables: dict[str, Any] = dict(spec.variables)
        if spec.pii:
            variables = self.redactor.redact_value(variables, prepared.pii_map)
        variables = canonical_variables(variables)
        if spec.context:
            budget = prepared.routes[0].context_budget if prepared.routes else 8000
            blocks = list(spec.context)
            if spec.pii:
                blocks = [self._redact_block(b, prepared.pii_map) for b in blocks]
            fitted = self.structurer.fit(blocks, budget)
            variables.update(fitted.texts)
            variables["context_truncated"] = list(fitted.truncated)
        return variables

    def _redact_block(self, block: ContextBlock, mapping: dict[str, str]) -> ContextBlock:
        lines = tuple(self.redactor.redact(line, mapping).text for line in block.lines)
        return ContextBlock(block.name, lines, block.priority, block.header, block.footer)

    def _render(
        self, prompt: PromptVersion, variables: Mapping[str, Any], schema: type[BaseModel] | None
    ) -> RenderedPrompt:
        rendered = self.renderer.render(prompt, variables)
        if schema is None:
            return rendered
        system = f"{rendered.system}\n\n{schema_instruction(schema)}".strip()
        return RenderedPrompt(rendered.prompt, system, rendered.messages)

    def _key(self, prepared: Prepared, variables: dict[str, Any], blank: frozenset[str]) -> str:
        """Key on the primary route's model; `blank` variables are blanked by re-rendering for the key only.

        The scope (e.g. a customer) and, with personal data, the redacted originals are part of the key, so
        one customer's answer is never served to another who wrote the same words.
        """
        spec, prompt, rendered = prepared.spec, prepared.prompt, prepared.rendered
        assert prompt is not None and rendered is not None
        if blank:
            rendered = self._render(prompt, canonical_variables(variables, blank), spec.schema)
        params = {
            "max_tokens": prepared.routes[0].max_output_tokens,
            "temperature": prompt.temperature,
            "schema": spec.schema.__name__ if spec.schema else None,
            "variant": prompt.variant,
            "scope": spec.scope,
            "pii": _digest(sorted(prepared.pii_map.values())) if prepared.pii_map else None,
        }
        return cache_key(
            spec.feature,
            prompt.name,
            prompt.version,
            prepared.routes[0].model,
            rendered.system,
            rendered.messages,
            params,
        )


def _digest(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]
