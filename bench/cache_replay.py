"""Cache replay: a few hundred realistic AI requests through the real pipeline, its cache and its guards.

Run: .venv/bin/python bench/cache_replay.py [--requests 500] [--seed 7] [--redis redis://127.0.0.1:6379/0]

Requests are shaped like the features build them (the prompts in prompts/*.yaml, the same variables, the
same free-wording fields and customer scope, the cache modes of services/ai.py). Popularity is Zipf; each
draw is a repeat, a whitespace variant, a rewording of the free text, or a near-miss that must not hit
(another product, customer or number). The provider is in-process and answers "answer-<n>", so every
cached answer can be traced to the request that paid for it: a hit served for another meaning is a false
hit. Cost compares with naive: every request sent to the top tier, no cache. Usage per call: input = the
prompt's words and punctuation, output = a typical answer length of the feature.

Batch pricing: the features named by --nightly (default: the performance summaries and the fleet's
optimisation explanations, which a nightly job sends through the providers' batch APIs; add `caption`
for bulk captions, POST /api/content/batch-captions) pay the price table's batch share (`Price.batch`,
50 %) of what they cost here; the report prints the replay's cost with that share batched.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import redis

from bench.replay_catalog import OUTPUT_TOKENS, Base, catalog
from devtools.fake_llm.tokens import count_tokens
from services.ai import DEFAULT_CACHE_MODES
from services.llm import InMemoryLedger, InMemoryPromptSource, LLMSettings, PromptVersion, build_pipeline
from services.llm.pricing import PriceTable
from services.llm.providers import Provider
from services.llm.settings import DEFAULT_MODELS
from services.llm.types import Completion, CompletionRequest, StreamDone, StreamEvent, TextDelta, Usage
from services.prompts import PromptRegistry

KINDS = (("repeat", 0.45), ("whitespace", 0.15), ("paraphrase", 0.25), ("near_miss", 0.15))


class ReplayProvider(Provider):
    """Answers `answer-<n>` and remembers which meaning paid for answer n."""

    name = "anthropic"

    def __init__(self) -> None:
        super().__init__()
        self.meaning = ""
        self.feature = ""
        self.origin: dict[str, str] = {}
        self.calls = 0

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """One delta, then the usage."""
        self.calls += 1
        text = f"answer-{self.calls}"
        self.origin[text] = self.meaning
        prompt = "\n".join([request.system, *(m.content for m in request.messages)])
        usage = Usage(input_tokens=count_tokens(prompt), output_tokens=OUTPUT_TOKENS[self.feature])
        yield TextDelta(text)
        yield StreamDone(Completion(text, request.model, self.name, usage, "end_turn", text))


@dataclass
class Tally:
    """What the replay counts."""

    by_kind: Counter[str] = field(default_factory=Counter)
    hits_by_kind: Counter[str] = field(default_factory=Counter)
    similar_hits: int = 0
    false_hits: list[str] = field(default_factory=list)
    cost: float = 0.0
    naive: float = 0.0
    hits: int = 0
    cost_by_feature: Counter[str] = field(default_factory=Counter)
    batched_cost: float = 0.0  # the same calls with the nightly features at the batch price
    fresh_near_misses: int = 0  # near-misses whose meaning was never asked before: every one must miss
    fresh_near_hits: int = 0
    meanings: set[str] = field(default_factory=set)


def load_prompts() -> list[PromptVersion]:
    """prompts/*.yaml as the pipeline sees them (version 1 each)."""
    root = Path(__file__).resolve().parents[1] / "prompts"
    return [
        PromptVersion(
            name=p.name,
            version=1,
            system=p.system_prompt,
            user_template=p.user_template,
            required_variables=tuple(p.required_variables),
            tier=p.tier,
            temperature=p.temperature,
            max_tokens=p.max_tokens,
            variant=p.variant,
            traffic_pct=float(p.traffic_percent),
            category=p.category,
        )
        for _, p in PromptRegistry(root).load()
    ]


def draws(bases: list[Base], count: int, rng: random.Random) -> Iterator[tuple[str, Base]]:
    """Zipf-popular bases, each draw a repeat, whitespace variant, rewording or near-miss."""
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(bases))]
    seen: set[str] = set()
    for _ in range(count):
        base = rng.choices(bases, weights)[0]
        if base.meaning not in seen:
            seen.add(base.meaning)
            yield "first", base
            continue
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        yield kind, base.variant(kind, rng)


def run_one(
    call: Callable[[Base], Any],
    provider: ReplayProvider,
    prices: PriceTable,
    kind: str,
    req: Base,
    tally: Tally,
    nightly: frozenset[str] = frozenset(),
) -> None:
    """One request: count hits, false hits, cost and the naive cost."""
    provider.meaning, provider.feature = req.meaning, req.feature
    fresh = kind == "near_miss" and req.meaning not in tally.meanings
    tally.meanings.add(req.meaning)
    result = call(req)
    tally.by_kind[kind] += 1
    tally.cost += result.cost_usd
    tally.cost_by_feature[req.feature] += result.cost_usd
    share = prices.get(result.model).batch if req.feature in nightly and result.model else 1.0
    tally.batched_cost += result.cost_usd * share
    tally.fresh_near_misses += int(fresh)
    tally.fresh_near_hits += int(fresh and result.cached)
    top = DEFAULT_MODELS["anthropic"]["powerful"]
    usage = Usage(input_tokens=result.tokens_in or result.saved_tokens_in, output_tokens=OUTPUT_TOKENS[req.feature])
    tally.naive += prices.cost(top, usage)
    if result.cached:
        tally.hits += 1
        tally.hits_by_kind[kind] += 1
        tally.similar_hits += int(result.extras.get("similar", False))
        if provider.origin.get(result.text) != req.meaning:
            tally.false_hits.append(f"{kind} {req.meaning} served {provider.origin.get(result.text)}")


def report(tally: Tally, total: int, calls: int, nightly: frozenset[str] = frozenset()) -> None:
    """Print the figures docs/BENCHMARKS.md records."""
    print(f"requests {total}, provider calls {calls}")
    print(f"hit rate {tally.hits / total:.1%} ({tally.hits} hits, {tally.similar_hits} of them near hits)")
    for kind in ("first", "repeat", "whitespace", "paraphrase", "near_miss"):
        n = tally.by_kind[kind]
        print(f"  {kind:<11} {n:>4} requests, {tally.hits_by_kind[kind]:>4} hits")
    print(f"near-misses never asked before {tally.fresh_near_misses}, served from cache {tally.fresh_near_hits}")
    print(f"false hits {len(tally.false_hits)}")
    for line in tally.false_hits[:10]:
        print("  ", line)
    print(
        f"cost ${tally.cost:.6f} vs naive (top tier, no cache) ${tally.naive:.6f}: "
        f"{tally.naive / tally.cost if tally.cost else float('inf'):.1f}x cheaper"
    )
    print("  cost by feature: " + ", ".join(f"{f} ${c:.4f}" for f, c in tally.cost_by_feature.most_common()))
    if nightly and tally.batched_cost:
        share = sum(tally.cost_by_feature[f] for f in nightly) / tally.cost if tally.cost else 0.0
        print(
            f"with {', '.join(sorted(nightly))} through the batch APIs ({share:.1%} of the cost): "
            f"${tally.batched_cost:.6f}, {tally.naive / tally.batched_cost:.1f}x cheaper than naive"
        )


def main() -> None:
    """Replay and print hit rate, false hits and cost against naive."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis", default=None, help="run the cache on Redis instead of in memory")
    parser.add_argument("--embeddings", default="local", choices=("local", "none"))
    parser.add_argument(
        "--nightly",
        default="performance_analysis,optimization_explanation",
        help="features sent through the providers' batch APIs (comma-separated; empty = none)",
    )
    args = parser.parse_args()
    nightly = frozenset(filter(None, (f.strip() for f in args.nightly.split(","))))
    rng = random.Random(args.seed)
    provider = ReplayProvider()
    settings = LLMSettings(
        provider="anthropic",
        anthropic_api_key="replay",
        daily_budget_usd=1000.0,
        cache_modes=dict(DEFAULT_CACHE_MODES),
        embeddings=args.embeddings,
    )
    client = redis.Redis.from_url(args.redis) if args.redis else None
    if client is not None:
        settings = replace(settings, namespace=f"replay{args.seed}")
    pipeline = build_pipeline(
        settings, InMemoryPromptSource(load_prompts()), InMemoryLedger(), client, providers={"anthropic": provider}
    )
    if client is not None:
        pipeline.cache.clear()

    def call(req: Base) -> Any:
        return pipeline.run(
            req.feature,
            req.prompt,
            req.variables,
            user_id=req.user,
            pii=req.pii,
            paraphrase=req.paraphrase,
            scope=req.scope,
        )

    tally = Tally()
    for kind, req in draws(catalog(rng), args.requests, rng):
        run_one(call, provider, pipeline.prices, kind, req, tally, nightly)
    report(tally, args.requests, provider.calls, nightly)


if __name__ == "__main__":
    main()
