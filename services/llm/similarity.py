"""Similarity layer of the cache: embeddings within a feature/prompt-version/user scope, never for PII."""

from __future__ import annotations

import logging

from .budget import CostMonitor
from .cache import CachedAnswer, SemanticCache, similarity_scope
from .canonical import same_entities
from .errors import LLMError
from .preparation import Prepared
from .pricing import PriceTable
from .tokens import estimate_tokens
from .types import Usage

log = logging.getLogger(__name__)


class SimilarityLayer:
    """Near hits: same anchor (every exact variable equal), close free wording, and the same entities.

    Embedding calls to a provider are reserved against the budget; the local embedder costs nothing.
    """

    def __init__(
        self,
        cache: SemanticCache,
        costs: CostMonitor,
        prices: PriceTable,
        pii_features: frozenset[str] = frozenset(),
    ) -> None:
        self.cache = cache
        self.costs = costs
        self.prices = prices
        self.pii_features = pii_features

    def lookup(self, prepared: Prepared) -> CachedAnswer | None:
        """The nearest cached answer of this anchor whose entities match exactly, or None."""
        if not self._applies(prepared):
            return None
        vector = self._embed(prepared)
        if vector is None:
            return None
        prepared.vector = vector
        for answer, _score in self.cache.neighbours(self._scope(prepared), vector):
            # Guard: a near neighbour about another product, number, customer or period is another request.
            if answer.probe is not None and same_entities(answer.probe, prepared.probe):
                return answer
        return None

    def remember(self, prepared: Prepared) -> None:
        """Index the answer just stored, if its request was embedded."""
        if prepared.vector is not None and prepared.key:
            self.cache.remember_vector(self._scope(prepared), prepared.key, prepared.vector)

    def _applies(self, prepared: Prepared) -> bool:
        spec = prepared.spec
        pii = spec.pii or spec.feature in self.pii_features
        return bool(prepared.anchor and prepared.probe) and self.cache.similarity_enabled(spec.feature, pii)

    def _embed(self, prepared: Prepared) -> list[float] | None:
        embedder = self.cache.embedder
        assert embedder is not None
        if not getattr(embedder, "billed", True):
            return self.cache.embed(prepared.probe)[0]
        price = self.prices.get(embedder.model)
        reservation = self.costs.reserve(
            prepared.spec.feature, embedder.model, price.worst_case(estimate_tokens(prepared.probe), 0)
        )
        if reservation is None:
            return None
        try:
            vector, tokens = self.cache.embed(prepared.probe)
        except LLMError as error:
            # The similarity layer is an optimisation: its failure only costs a cache miss.
            log.warning("embedding failed (%s); similarity lookup skipped", error.kind)
            self.costs.settle(reservation, 0.0)
            return None
        self.costs.settle(reservation, price.cost(Usage(input_tokens=tokens)))
        return vector

    def _scope(self, prepared: Prepared) -> str:
        return similarity_scope(prepared.spec.feature, prepared.anchor)
