"""LLMIntegrationPipeline: the one generic path every AI feature takes (see docs/LLM_PIPELINE.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Unpack

from pydantic import BaseModel

from .batch import BatchRunner
from .budget import CostMonitor
from .cache import CachedAnswer, SemanticCache
from .errors import BadOutput, NoProvider
from .execution import CallExecutor, Outcome
from .fallbacks import fallback_result
from .ledger import LedgerSink, ledger_row
from .pii import StreamRestorer, restore, restore_value
from .preparation import CallOptions, CallSpec, FallbackFn, Prepared, Preparer
from .pricing import PriceTable
from .repair import validate_with_repair
from .resilience import CircuitBreaker
from .similarity import SimilarityLayer
from .structured import self_reported_confidence
from .structurer import ContextBlock
from .types import ChatMessage, CompletionRequest, LLMResult, StreamError, TextDelta

log = logging.getLogger(__name__)

# Confidence the pipeline gives an answer before any self-report by the model lowers it.
CONFIDENCE_TEXT = 0.8


class LLMIntegrationPipeline:
    """route → structure → render → cache → reserve → call (retry/breaker/failover) → validate → ledger."""

    def __init__(
        self,
        *,
        preparer: Preparer,
        executor: CallExecutor | None,
        cache: SemanticCache,
        costs: CostMonitor,
        breaker: CircuitBreaker,
        ledger: LedgerSink,
        timeout_s: float = 30.0,
        similarity: SimilarityLayer | None = None,
        prices: PriceTable | None = None,
        before_slow_call: Callable[[], object] | None = None,
    ) -> None:
        self.preparer = preparer
        self.executor = executor
        self.cache = cache
        self.costs = costs
        self.breaker = breaker
        self.ledger = ledger
        self.timeout_s = timeout_s
        self.similarity = similarity
        self.prices = prices or PriceTable()
        # The app hands back resources a call must not pin (its DB connection) before any network wait.
        self.before_slow_call = before_slow_call
        self.batches = BatchRunner(self)  # non-interactive calls through the providers' batch APIs

    def run(
        self,
        feature: str,
        prompt_name: str,
        variables: Mapping[str, Any],
        schema: type[BaseModel] | None = None,
        fallback: FallbackFn | None = None,
        *,
        stream: bool = False,
        **options: Unpack[CallOptions],
    ) -> LLMResult:
        """Always returns an answer: AI, cached, or the feature's flagged rule-based fallback."""
        spec = CallSpec.build(feature, prompt_name, variables, schema, fallback, **options)
        return self.call(spec, stream=stream)

    def stream(
        self,
        feature: str,
        prompt_name: str,
        variables: Mapping[str, Any],
        schema: type[BaseModel] | None = None,
        fallback: FallbackFn | None = None,
        **options: Unpack[CallOptions],
    ) -> Iterator[str | StreamError | LLMResult]:
        """Yield text deltas, then a StreamError if the provider stream broke mid-text, then the LLMResult."""
        return self.stream_call(CallSpec.build(feature, prompt_name, variables, schema, fallback, **options))

    def call(self, spec: CallSpec, stream: bool = False) -> LLMResult:
        """`run` for a ready CallSpec (streamed internally when `stream`, e.g. to cut a long answer early)."""
        if stream:
            final = None
            for item in self.stream_call(spec):
                final = item if isinstance(item, LLMResult) else final
            assert final is not None  # stream_call() always ends with a result
            return final
        self._release()
        prepared = self._prepare(spec)
        hit = self._lookup(prepared)
        if hit is not None:
            return hit
        if self.executor is None:
            return self._fallback(prepared, NoProvider.kind)
        outcome = self.executor.complete(
            spec.feature, prepared.routes, self._request(prepared), prepared.input_estimate
        )
        return self._finish(prepared, outcome)

    def stream_call(self, spec: CallSpec) -> Iterator[str | StreamError | LLMResult]:
        """`stream` for a ready CallSpec."""
        self._release()
        prepared = self._prepare(spec)
        result = self._lookup(prepared)
        if result is None and self.executor is None:
            result = self._fallback(prepared, NoProvider.kind)
        if result is not None:
            yield result.text
            yield result
            return
        assert self.executor is not None
        restorer = StreamRestorer(prepared.pii_map)
        outcome = Outcome()
        for item in self.executor.stream(
            spec.feature, prepared.routes, self._request(prepared), prepared.input_estimate
        ):
            if isinstance(item, TextDelta):
                yield from restorer.feed(item.text)
            else:
                outcome = item
        yield from restorer.flush()
        if outcome.error is not None and outcome.partial_sent:
            yield StreamError(outcome.error.kind, "the provider stream broke; showing the fallback answer")
        final = self._finish(prepared, outcome)
        if not outcome.partial_sent and final.fallback_used:
            yield final.text
        yield final

    def _prepare(self, spec: CallSpec) -> Prepared:
        remaining = self.costs.remaining_fraction() if self.executor is not None else 1.0
        return self.preparer.prepare(spec, remaining)

    def _release(self) -> None:
        """Before the prompt, cache, embedding and provider round trips: let the app release what it holds."""
        if self.before_slow_call is not None:
            self.before_slow_call()

    def _request(self, prepared: Prepared, extra: Sequence[ChatMessage] = ()) -> CompletionRequest:
        assert prepared.rendered is not None and prepared.prompt is not None
        route = prepared.routes[0]
        return CompletionRequest(
            model=route.model,
            system=prepared.rendered.system,
            messages=(*prepared.rendered.messages, *extra),
            max_tokens=route.max_output_tokens,
            temperature=prepared.prompt.temperature,
            timeout_s=self.timeout_s,
        )

    def _lookup(self, prepared: Prepared) -> LLMResult | None:
        """Exact hit, else a similarity hit when the feature allows it; misses are counted."""
        if prepared.key and self.cache.mode(prepared.spec.feature) == "off":
            prepared.key = ""  # not cached at all: no lookup, no store
        if not prepared.key:
            return None
        answer = self.cache.get(prepared.key)
        similar = False
        if answer is None and self.similarity is not None:
            answer = self.similarity.lookup(prepared)
            similar = answer is not None
        self.cache.record(prepared.spec.feature, answer is not None, answer, similar)
        if answer is None:
            return None
        result = self._from_cache(prepared, answer)
        result.saved_tokens_in, result.saved_tokens_out = answer.tokens_in, answer.tokens_out
        result.saved_usd = answer.cost_usd
        result.extras["similar"] = similar
        self._record(prepared, result, attempts=0)
        return result

    def _from_cache(self, prepared: Prepared, answer: CachedAnswer) -> LLMResult:
        data: Any = answer.data
        schema = prepared.spec.schema
        if schema is not None and data is not None:
            data = schema.model_validate(restore_value(data, prepared.pii_map))
        return self._result(
            prepared,
            text=restore(answer.text, prepared.pii_map),
            data=data,
            model=answer.model,
            provider=answer.provider,
            cost_usd=0.0,
            cached=True,
            confidence=answer.confidence,
            status="cached",
        )

    def _finish(self, prepared: Prepared, outcome: Outcome) -> LLMResult:
        """Validate (with one repair), restore PII, store in the cache, write the ledger row."""
        if outcome.completion is None or outcome.route is None:
            kind = outcome.error.kind if outcome.error else "error"
            return self._fallback(prepared, kind, outcome)
        data, confidence = None, CONFIDENCE_TEXT
        if prepared.spec.schema is not None:
            parsed = validate_with_repair(self.executor, prepared, outcome, self._request)
            if parsed is None:
                return self._fallback(prepared, BadOutput.kind, outcome)
            data, confidence = parsed
        completion, route = outcome.completion, outcome.route
        reported = self_reported_confidence(data)
        confidence = min(confidence, reported) if reported is not None else confidence
        usage = completion.usage
        prompt = prepared.prompt
        answer = CachedAnswer(
            text=completion.text,
            data=data.model_dump(mode="json") if isinstance(data, BaseModel) else None,
            model=completion.model,
            provider=route.provider,
            tier=route.tier,
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            tokens_cached=usage.cached_tokens,
            tokens_cache_write=usage.cache_write_tokens,
            cost_usd=outcome.cost_usd,
            confidence=confidence,
            prompt_version=prompt.version if prompt else None,
            variant=prompt.variant if prompt else None,
            probe=prepared.probe or None,
        )
        if prepared.key:
            self.cache.put(prepared.key, answer, prepared.spec.feature, prepared.spec.tags)
            if self.similarity is not None:
                self.similarity.remember(prepared)
        result = self._from_cache(prepared, answer)
        result.cached, result.status, result.cost_usd = False, "ok", outcome.cost_usd
        result.tokens_in, result.tokens_out = usage.input_tokens, usage.output_tokens
        result.tokens_cached, result.tokens_cache_write = usage.cached_tokens, usage.cache_write_tokens
        result.tier = route.tier
        self._record(prepared, result, outcome.attempts)
        return result

    def _fallback(self, prepared: Prepared, kind: str, outcome: Outcome | None = None) -> LLMResult:
        """The feature's rule-based answer, clearly flagged; the ledger says why."""
        answer = fallback_result(prepared.spec, kind)
        result = self._result(
            prepared,
            text=answer.text,
            data=answer.data,
            confidence=answer.confidence,
            fallback_used=True,
            status="fallback",
            error_kind=kind,
            cost_usd=outcome.cost_usd if outcome else 0.0,
        )
        if outcome is not None and outcome.completion is not None:  # answered, but unusable: still billed
            usage = outcome.completion.usage
            result.model, result.provider = outcome.completion.model, outcome.completion.provider
            result.tokens_in, result.tokens_out = usage.input_tokens, usage.output_tokens
            result.tokens_cached, result.tokens_cache_write = usage.cached_tokens, usage.cache_write_tokens
        self._record(prepared, result, outcome.attempts if outcome else 0)
        return result

    def _result(self, prepared: Prepared, **fields: Any) -> LLMResult:
        prompt = prepared.prompt
        return LLMResult(
            request_id=prepared.request_id,
            feature=prepared.spec.feature,
            prompt_name=prepared.spec.prompt_name,
            prompt_version=prompt.version if prompt else None,
            variant=prompt.variant if prompt else None,
            tier=prepared.tier,
            latency_ms=round((time.perf_counter() - prepared.started) * 1000, 3),
            batch=prepared.batch,
            **fields,
        )

    def _record(self, prepared: Prepared, result: LLMResult, attempts: int) -> None:
        row = ledger_row(result, prepared.spec.user_id, prepared.started_at, attempts)
        try:
            self.ledger.record(row)
        except Exception:  # a ledger outage must not take the feature down; the log keeps the trace
            log.exception("ledger write failed for request %s", result.request_id)

    def close(self) -> None:
        """Release the providers' and the embedder's HTTP connections (at shutdown)."""
        for provider in self.executor.providers.values() if self.executor else ():
            provider.close()
        if self.cache.embedder is not None:
            self.cache.embedder.close()

    def breaker_states(self) -> dict[str, dict[str, Any]]:
        """Circuit state per configured provider, for monitoring."""
        names = list(self.executor.providers) if self.executor else []
        return self.breaker.snapshot(names)

    def monitoring(self) -> dict[str, Any]:
        """Budget, cache and breaker state in one JSON-ready dict (no keys, no prompt text)."""
        return {
            "providers": list(self.executor.providers) if self.executor else [],
            "budget": self.costs.snapshot(),
            "cache": self.cache.stats(),
            "breakers": self.breaker_states(),
            "prices_effective": self.prices.effective_date.isoformat(),
        }

    def preview(
        self,
        feature: str,
        prompt_name: str,
        variables: Mapping[str, Any],
        user_id: str | None = None,
        schema: type[BaseModel] | None = None,
        context: Sequence[ContextBlock] = (),
    ) -> dict[str, Any]:
        """Render without calling: text, token estimate and worst-case cost (admin "test prompt")."""
        spec = CallSpec.build(feature, prompt_name, variables, schema, user_id=user_id, context=context)
        prepared = self._prepare(spec)
        assert prepared.rendered is not None and prepared.prompt is not None
        route = prepared.routes[0] if prepared.routes else None
        worst = (
            self.prices.get(route.model).worst_case(prepared.input_estimate, route.max_output_tokens) if route else 0.0
        )
        return {
            "prompt_name": prompt_name,
            "prompt_version": prepared.prompt.version,
            "variant": prepared.prompt.variant,
            "system": prepared.rendered.system,
            "messages": [m.content for m in prepared.rendered.messages],
            "tier": prepared.tier,
            "model": route.model if route else None,
            "input_tokens_estimate": prepared.input_estimate,
            "max_output_tokens": route.max_output_tokens if route else 0,
            "worst_case_cost_usd": round(worst, 8),
        }
