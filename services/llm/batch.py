"""Batch calls: non-interactive work through the providers' batch APIs at half price.

`submit` prepares every call like `run` (cache hits answer at once), reserves each remaining call's
worst case at the batch price and sends them as one provider batch per route; the returned
`BatchTicket` is plain JSON (a job stores it between polls, possibly in another process). `poll` says
whether every batch has ended; `collect` re-prepares the calls on the ticket's routes and finishes each
answer through the pipeline's own path (schema validation with one repair turn, cache store, ledger
row marked `batch`), settling its reservation to the batch-priced cost. An errored, expired or missing
request gets the feature's rule-based fallback with its error kind (`batch_errored`, `batch_expired`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .budget import Reservation
from .errors import BatchItemFailed, BreakerOpen, BudgetExceeded, ConfigError, LLMError, NoProvider
from .execution import Outcome
from .preparation import CallSpec, Prepared
from .providers.base import Provider
from .routing import Route
from .types import Completion, LLMResult

if TYPE_CHECKING:
    from .pipeline import LLMIntegrationPipeline

log = logging.getLogger(__name__)


@dataclass
class BatchPart:
    """One provider batch: its route and, per custom id, the open reservation."""

    route: dict[str, Any]
    batch_id: str = ""
    reservations: dict[str, list[Any]] = field(default_factory=dict)  # custom id → [id, day, amount]

    @property
    def routed(self) -> Route:
        """The route as the pipeline's value object."""
        return Route(**self.route)


@dataclass
class BatchTicket:
    """What a job keeps between submitting and collecting (JSON via to_json/from_json)."""

    parts: list[BatchPart] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Calls waiting for the provider."""
        return sum(len(part.reservations) for part in self.parts)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for a JSON column."""
        return {"parts": [asdict(part) for part in self.parts]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchTicket:
        """Back from `to_json`."""
        return cls([BatchPart(**part) for part in data.get("parts", [])])


@dataclass
class BatchSubmission:
    """The ticket of what went to the provider, and the calls already answered (cache, fallback)."""

    ticket: BatchTicket
    done: dict[str, LLMResult]


class BatchRunner:
    """Submit, poll and collect batches through one pipeline's preparation, cache, budget and ledger."""

    def __init__(self, pipeline: LLMIntegrationPipeline) -> None:
        self.pipeline = pipeline

    def submit(self, calls: Mapping[str, CallSpec]) -> BatchSubmission:
        """Answer cache hits now; reserve and send the rest as one batch per route."""
        pipe = self.pipeline
        pipe._release()
        done: dict[str, LLMResult] = {}
        groups: dict[Route, list[tuple[str, Prepared, Reservation]]] = {}
        for custom_id, spec in calls.items():
            prepared = pipe._prepare(spec)
            hit = pipe._lookup(prepared)
            if hit is not None:
                done[custom_id] = hit
                continue
            admitted = self._admit(prepared)
            if isinstance(admitted, LLMError):
                done[custom_id] = pipe._fallback(prepared, admitted.kind)
                continue
            route, reservation = admitted
            groups.setdefault(route, []).append((custom_id, prepared, reservation))
        ticket = BatchTicket()
        for route, items in groups.items():
            part = self._send(route, items, done)
            if part is not None:
                ticket.parts.append(part)
        return BatchSubmission(ticket, done)

    def _admit(self, prepared: Prepared) -> tuple[Route, Reservation] | LLMError:
        """The first route whose provider batches and whose breaker is closed, with its cost reserved."""
        pipe = self.pipeline
        executor = pipe.executor
        if executor is None:
            return NoProvider("no provider configured")
        error: LLMError = BreakerOpen("no provider with a batch API is available")
        for route in prepared.routes:
            provider = executor.providers[route.provider]
            if not provider.supports_batch or not pipe.breaker.allow(route.provider):
                continue
            price = pipe.prices.get(route.model)
            worst = price.batch_worst_case(prepared.input_estimate, route.max_output_tokens)
            reservation = pipe.costs.reserve(prepared.spec.feature, route.model, worst)
            if reservation is not None:
                return route, reservation
            error = BudgetExceeded(f"daily budget cannot cover a batched {route.model} call (${worst:.6f})")
        return error

    def _send(
        self, route: Route, items: list[tuple[str, Prepared, Reservation]], done: dict[str, LLMResult]
    ) -> BatchPart | None:
        """One provider batch; when the provider refuses it, every call falls back and costs nothing."""
        pipe = self.pipeline
        assert pipe.executor is not None
        provider = pipe.executor.providers[route.provider]
        requests = [(custom_id, pipe._request(prepared)) for custom_id, prepared, _ in items]
        try:
            batch_id = provider.submit_batch(requests)
        except LLMError as error:
            pipe.breaker.record(route.provider, error)
            log.warning("batch submission failed: provider=%s kind=%s", route.provider, error.kind)
            for custom_id, prepared, reservation in items:
                pipe.costs.settle(reservation, 0.0)
                prepared.batch = True
                done[custom_id] = pipe._fallback(prepared, error.kind, Outcome(error=error, attempts=1))
            return None
        pipe.breaker.record(route.provider, None)
        reservations = {cid: [r.id, r.day, r.amount] for cid, _, r in items}
        return BatchPart(asdict(route), batch_id, reservations)

    def poll(self, ticket: BatchTicket) -> bool:
        """True once every batch of the ticket has ended (raises LLMError when the provider fails)."""
        return all(self._provider(part).batch_status(part.batch_id) == "ended" for part in ticket.parts)

    def _provider(self, part: BatchPart) -> Provider:
        executor = self.pipeline.executor
        if executor is None:
            raise NoProvider("no provider configured")
        return executor.providers[part.route["provider"]]

    def collect(self, ticket: BatchTicket, calls: Mapping[str, CallSpec]) -> dict[str, LLMResult]:
        """Finish every call of the ended batches through the pipeline (validation, cache, ledger)."""
        results: dict[str, LLMResult] = {}
        for part in ticket.parts:
            answers = self._answers(part)
            for custom_id, raw in part.reservations.items():
                reservation = Reservation(
                    str(raw[0]), str(raw[1]), int(raw[2]), calls[custom_id].feature, part.route["model"]
                )
                answer = answers.get(custom_id) if isinstance(answers, dict) else answers
                results[custom_id] = self._finish(calls[custom_id], part.routed, reservation, answer)
        return results

    def _answers(self, part: BatchPart) -> dict[str, Completion | LLMError] | LLMError:
        try:
            return self._provider(part).batch_results(part.batch_id)
        except LLMError as error:
            log.warning("batch results unavailable: batch=%s kind=%s", part.batch_id, error.kind)
            return error

    def _finish(
        self, spec: CallSpec, route: Route, reservation: Reservation, answer: Completion | LLMError | None
    ) -> LLMResult:
        """Settle at the batch price and finish like an interactive answer; failures fall back."""
        pipe = self.pipeline
        prepared = pipe.preparer.prepare(spec, 1.0, route=route)
        prepared.batch = True
        if not isinstance(answer, Completion):
            error = answer if answer is not None else BatchItemFailed("no result for this request")
            pipe.costs.settle(reservation, 0.0)
            return pipe._fallback(prepared, error.kind, Outcome(error=error, attempts=1))
        cost = self._price(answer, route)  # within the reservation: its prompt estimate over-counts
        pipe.costs.settle(reservation, cost, answer.model)
        assert pipe.executor is not None
        pipe.executor.outputs.observe(spec.feature, answer.usage.output_tokens)
        return pipe._finish(prepared, Outcome(completion=answer, route=route, cost_usd=cost, attempts=1))

    def _price(self, completion: Completion, route: Route) -> float:
        """Batch-priced cost by the reported model when known, else by the routed model."""
        prices = self.pipeline.prices
        try:
            price = prices.get(completion.model)
        except ConfigError:
            price = prices.get(route.model)
        return price.batch_cost(completion.usage)
