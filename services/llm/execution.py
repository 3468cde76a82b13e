"""CallExecutor: one request through the route chain with budget reservation, retries and breakers."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from .budget import CostMonitor, Reservation, to_nano
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


class OutputTracker:
    """Recent output lengths per feature; their p95 is the least a call may be admitted with."""

    def __init__(self, floor: int = 64, window: int = 200) -> None:
        self.floor = floor
        self._seen: dict[str, deque[int]] = {}
        self._p95: dict[str, int] = {}
        self._window = window

    def observe(self, feature: str, output_tokens: int) -> None:
        """Remember one answer's length (p95 refreshed every 10 answers)."""
        seen = self._seen.setdefault(feature, deque(maxlen=self._window))
        seen.append(output_tokens)
        if len(seen) % 10 == 1:
            ordered = sorted(seen)
            self._p95[feature] = ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)]

    def minimum(self, feature: str, cap: int) -> int:
        """p95 of the feature's answers (never below the floor); the cap itself before any answer."""
        p95 = self._p95.get(feature)
        return cap if p95 is None else min(max(p95, self.floor), cap)


class CallExecutor:
    """Walks routes in order; per route: breaker check → reserve (worst case, or what is left with the
    output capped to fit) → call with retries → settle."""

    def __init__(
        self,
        providers: dict[str, Provider],
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        costs: CostMonitor,
        prices: PriceTable,
        budget_wait_s: float = 0.0,
        outputs: OutputTracker | None = None,
    ) -> None:
        self.providers = providers
        self.breaker = breaker
        self.retry = retry
        self.costs = costs
        self.prices = prices
        self.budget_wait_s = budget_wait_s
        self.outputs = outputs or OutputTracker()

    def complete(
        self, feature: str, routes: Sequence[Route], request: CompletionRequest, input_estimate: int
    ) -> Outcome:
        """First route that answers wins; the outcome carries the last error when none did."""
        outcome = Outcome(error=BudgetExceeded("no route") if not routes else None)
        for route in routes:
            admitted = self._admit(feature, route, input_estimate, outcome)
            if admitted is None:
                continue
            reservation, max_tokens = admitted
            provider = self.providers[route.provider]
            routed = replace(request, model=route.model, max_tokens=max_tokens)
            try:
                completion, _ = self.retry.run(
                    partial(provider.complete, routed), on_retry=partial(self._failed, route, outcome=outcome)
                )
            except LLMError as error:
                self._failed(route, error, outcome=outcome)
                self._settle_failure(reservation, route, error, input_estimate)
                continue
            outcome.attempts += 1
            return self._succeeded(outcome, route, completion, reservation, feature)
        return outcome

    def stream(
        self, feature: str, routes: Sequence[Route], request: CompletionRequest, input_estimate: int
    ) -> Iterator[TextDelta | Outcome]:
        """Like `complete`, but yields deltas; once text was sent a failure ends the stream (no retry)."""
        outcome = Outcome(error=BudgetExceeded("no route") if not routes else None)
        for route in routes:
            admitted = self._admit(feature, route, input_estimate, outcome)
            if admitted is None:
                continue
            reservation, max_tokens = admitted
            routed = replace(request, model=route.model, max_tokens=max_tokens)
            completion = yield from self._stream_route(route, routed, reservation, outcome, input_estimate)
            if completion is not None:
                yield self._succeeded(outcome, route, completion, reservation, feature)
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
                if outcome.partial_sent or not retry_ok or self.retry.clock() - started + wait > self.retry.total_s:
                    self._settle_failure(reservation, route, error, input_estimate)
                    return None
                self.retry.sleep(wait)
        return None

    def _admit(
        self, feature: str, route: Route, input_estimate: int, outcome: Outcome
    ) -> tuple[Reservation, int] | None:
        """Breaker closed and cost reserved: (reservation, output cap that keeps the call within it)."""
        if route.provider not in self.providers:
            raise ConfigError(f"route to unconfigured provider {route.provider!r}")
        if not self.breaker.allow(route.provider):
            if not isinstance(outcome.error, BudgetExceeded):
                outcome.error = BreakerOpen(f"{route.provider} circuit open")
            return None
        price = self.prices.get(route.model)
        worst = price.worst_case(input_estimate, route.max_output_tokens)

        def least() -> float:
            return price.worst_case(input_estimate, self.outputs.minimum(feature, route.max_output_tokens))

        reservation = self.costs.reserve(feature, route.model, worst, least, self.budget_wait_s)
        if reservation is None:
            outcome.error = BudgetExceeded(f"daily budget cannot cover {route.model} (at least ${least():.6f})")
            return None
        if reservation.amount >= to_nano(worst):
            return reservation, route.max_output_tokens
        # Granted less than the worst case: the output cap is what the reservation pays for (0 overshoot).
        affordable = price.affordable_output(reservation.amount / 1e9, input_estimate)
        return reservation, max(min(route.max_output_tokens, affordable), 1)

    def _failed(self, route: Route, error: LLMError, *, outcome: Outcome) -> None:
        outcome.error = error
        outcome.attempts += 1
        self.breaker.record(route.provider, error)
        log.warning("llm call failed: provider=%s model=%s kind=%s", route.provider, route.model, error.kind)

    def _settle_failure(self, reservation: Reservation, route: Route, error: LLMError, input_estimate: int) -> None:
        """Errors before output cost nothing; a cut stream is charged for its prompt and partial output."""
        spent = 0.0
        if isinstance(error, StreamCut):
            usage = Usage(input_tokens=input_estimate, output_tokens=estimate_tokens(error.partial))
            spent = self.prices.get(route.model).cost(usage)
        self.costs.settle(reservation, min(spent, reservation.amount / 1e9))

    def _succeeded(
        self, outcome: Outcome, route: Route, completion: Completion, reservation: Reservation, feature: str
    ) -> Outcome:
        self.breaker.record(route.provider, None)
        self.outputs.observe(feature, completion.usage.output_tokens)
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
