"""CallExecutor: one request through the route chain with budget reservation, retries and breakers."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from .budget import CostMonitor, Reservation
from .errors import BreakerOpen, BudgetExceeded, ConfigError, LLMError, StreamCut
from .pricing import PriceTable
from .providers.base import Provider
from .resilience import CircuitBreaker, RetryPolicy
from .routing import Route
from .tokens import estimate_tokens
from .types import Completion, CompletionRequest, StreamDone, TextDelta, Usage

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """Result of running the chain: a completion, or the last error; plus what it cost."""

    completion: Completion | None = None
    route: Route | None = None
    cost_usd: float = 0.0
    attempts: int = 0
    error: LLMError | None = None
    partial_sent: bool = False


class CallExecutor:
    """Walks routes in order; per route: breaker check → reserve worst case → call with retries → settle."""

    def __init__(
        self,
        providers: dict[str, Provider],
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        costs: CostMonitor,
        prices: PriceTable,
    ) -> None:
        self.providers = providers
        self.breaker = breaker
        self.retry = retry
        self.costs = costs
        self.prices = prices

    def complete(
        self, feature: str, routes: Sequence[Route], request: CompletionRequest, input_estimate: int
    ) -> Outcome:
        """First route that answers wins; the outcome carries the last error when none did."""
        outcome = Outcome(error=BudgetExceeded("no route") if not routes else None)
        for route in routes:
            reservation = self._admit(feature, route, input_estimate, outcome)
            if reservation is None:
                continue
            provider = self.providers[route.provider]
            routed = replace(request, model=route.model, max_tokens=route.max_output_tokens)
            try:
                completion, _ = self.retry.run(
                    partial(provider.complete, routed), on_retry=partial(self._failed, route, outcome=outcome)
                )
            except LLMError as error:
                self._failed(route, error, outcome=outcome)
                self._settle_failure(reservation, route, error, input_estimate)
                continue
            outcome.attempts += 1
            return self._succeeded(outcome, route, completion, reservation)
        return outcome

    def stream(
        self, feature: str, routes: Sequence[Route], request: CompletionRequest, input_estimate: int
    ) -> Iterator[TextDelta | Outcome]:
        """Like `complete`, but yields deltas; once text was sent a failure ends the stream (no retry)."""
        outcome = Outcome(error=BudgetExceeded("no route") if not routes else None)
        for route in routes:
            reservation = self._admit(feature, route, input_estimate, outcome)
            if reservation is None:
                continue
            routed = replace(request, model=route.model, max_tokens=route.max_output_tokens)
            completion = yield from self._stream_route(route, routed, reservation, outcome, input_estimate)
            if completion is not None:
                yield self._succeeded(outcome, route, completion, reservation)
                return
            if outcome.partial_sent:
                break
        yield outcome

    def _stream_route(
        self,
        route: Route,
        request: CompletionRequest,
        reservation: Reservation,
        outcome: Outcome,
        input_estimate: int,
    ) -> Generator[TextDelta, None, Completion | None]:
        provider = self.providers[route.provider]
        started = self.retry.clock()
        for attempt in range(1, self.retry.attempts + 1):
            try:
                for event in provider.stream(request):
                    if isinstance(event, StreamDone):
                        outcome.attempts += 1
                        return event.completion
                    outcome.partial_sent = True
                    yield event
                raise StreamCut("provider stream ended without a final event")
            except LLMError as error:
                self._failed(route, error, outcome=outcome)
                wait = self.retry.delay(attempt, error)
                retry_ok = error.retryable and attempt < self.retry.attempts
                if (
                    outcome.partial_sent
                    or not retry_ok
                    or self.retry.clock() - started + wait > self.retry.total_s
                ):
                    self._settle_failure(reservation, route, error, input_estimate)
                    return None
                self.retry.sleep(wait)
        return None

    def _admit(self, feature: str, route: Route, input_estimate: int, outcome: Outcome) -> Reservation | None:
        """Breaker closed and worst-case cost reserved, or None (outcome.error says which)."""
        if route.provider not in self.providers:
            raise ConfigError(f"route to unconfigured provider {route.provider!r}")
        if not self.breaker.allow(route.provider):
            if not isinstance(outcome.error, BudgetExceeded):
                outcome.error = BreakerOpen(f"{route.provider} circuit open")
            return None
        worst = self.prices.get(route.model).worst_case(input_estimate, route.max_output_tokens)
        reservation = self.costs.reserve(feature, route.model, worst)
        if reservation is None:
            outcome.error = BudgetExceeded(
                f"daily budget cannot cover {route.model} (worst case ${worst:.6f})"
            )
        return reservation

    def _failed(self, route: Route, error: LLMError, *, outcome: Outcome) -> None:
        outcome.error = error
        outcome.attempts += 1
        self.breaker.record(route.provider, error)
        log.warning("llm call failed: provider=%s model=%s kind=%s", route.provider, route.model, error.kind)

    def _settle_failure(
        self, reservation: Reservation, route: Route, error: LLMError, input_estimate: int
    ) -> None:
        """Errors before output cost nothing; a cut stream is charged for its prompt and partial output."""
        spent = 0.0
        if isinstance(error, StreamCut):
            usage = Usage(input_tokens=input_estimate, output_tokens=estimate_tokens(error.partial))
            spent = self.prices.get(route.model).cost(usage)
        self.costs.settle(reservation, min(spent, reservation.amount / 1e9))

    def _succeeded(
        self, outcome: Outcome, route: Route, completion: Completion, reservation: Reservation
    ) -> Outcome:
        self.breaker.record(route.provider, None)
        cost = self.price_of(completion, route)
        self.costs.settle(reservation, cost, completion.model)
        outcome.completion, outcome.route, outcome.error = completion, route, None
        outcome.cost_usd += cost
        return outcome

    def price_of(self, completion: Completion, route: Route) -> float:
        """Cost from reported usage, priced by the reported model when known, else by the routed model."""
        try:
            price = self.prices.get(completion.model)
        except ConfigError:
            price = self.prices.get(route.model)
        return price.cost(completion.usage)
