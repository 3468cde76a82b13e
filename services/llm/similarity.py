"""Similarity layer of the cache: embeddings within a feature/prompt-version/user scope, never for PII."""

from __future__ import annotations

import logging

from .budget import CostMonitor
from .cache import CachedAnswer, SemanticCache, similarity_scope
from .errors import LLMError
from .preparation import Prepared
from .pricing import PriceTable
from .tokens import estimate_tokens
from .types import Usage

log = logging.getLogger(__name__)


class SimilarityLayer:
    """Looks up near-identical earlier requests; embedding calls are reserved against the budget too."""

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
        """Nearest cached answer above the threshold in this request's scope, or None."""
        spec = prepared.spec
        pii = spec.pii or spec.feature in self.pii_features
        if not self.cache.similarity_enabled(spec.feature, pii) or prepared.rendered is None:
            return None
        vector = self._embed(prepared)
        if vector is None:
            return None
        prepared.vector = vector
        hit = self.cache.nearest(self._scope(prepared), vector)
        return hit[0] if hit else None

    def remember(self, prepared: Prepared) -> None:
        """Index the answer just stored, if its request was embedded."""
        if prepared.vector is not None and prepared.key:
            self.cache.remember_vector(self._scope(prepared), prepared.key, prepared.vector)

    def _embed(self, prepared: Prepared) -> list[float] | None:
        assert prepared.rendered is not None and self.cache.embedder is not None
        text = "\n".join(m.content for m in prepared.rendered.messages)
        model = self.cache.embedder.model
        price = self.prices.get(model)
        reservation = self.costs.reserve(
            prepared.spec.feature, model, price.worst_case(estimate_tokens(text), 0)
        )
        if reservation is None:
            return None
        try:
            vector, tokens = self.cache.embed(text)
        except LLMError as error:
            # The similarity layer is an optimisation: its failure only costs a cache miss.
            log.warning("embedding failed (%s); similarity lookup skipped", error.kind)
            self.costs.settle(reservation, 0.0)
            return None
        self.costs.settle(reservation, price.cost(Usage(input_tokens=tokens)))
        return vector

    def _scope(self, prepared: Prepared) -> str:
        prompt = prepared.prompt
        return similarity_scope(
            prepared.spec.feature,
            prepared.spec.prompt_name,
            prompt.version if prompt else None,
            prepared.spec.user_id,
        )
