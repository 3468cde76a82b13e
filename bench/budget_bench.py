"""Budget under contention: 100 concurrent calls against a $0.001 daily budget (fake provider over HTTP).

Run: .venv/bin/python bench/budget_bench.py [--budget 0.001] [--calls 100] [--redis redis://127.0.0.1:6379/0]
Prints how many calls reached the provider, the share of the budget used and any overshoot (must be 0).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import redis

from devtools.fake_llm import FakeLLMServer
from services.llm import InMemoryLedger, InMemoryPromptSource, LLMSettings, PromptVersion, build_pipeline

PROMPT = PromptVersion(
    "summary",
    1,
    "You are a vending analyst. Be brief and concrete; use only the figures given.",
    "Summarise this week for machine {{ device }}: {{ note }}",
    ("device", "note"),
    tier="fast",
)


def main() -> None:
    """Fire the calls at once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=0.001)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis) if args.redis else None
    with FakeLLMServer() as fake:
        fake.script.latency_s = 0.05
        settings = LLMSettings(
            provider="anthropic",
            anthropic_api_key="bench",
            anthropic_base_url=fake.url,
            daily_budget_usd=args.budget,
            low_budget_fraction=0.0,
            namespace=f"bench-{uuid.uuid4().hex[:8]}",
        )
        ledger = InMemoryLedger()
        pipeline = build_pipeline(settings, InMemoryPromptSource([PROMPT]), ledger, client)

        def call(i: int) -> bool:
            note = f"Cola sold out {i % 7 + 2} times, water {i % 5 + 1} times, {i} vends in total."
            return not pipeline.run("summary", "summary", {"device": f"D{i}", "note": note}).fallback_used

        with ThreadPoolExecutor(max_workers=args.calls) as pool:
            answered = sum(pool.map(call, range(args.calls)))
        spent = sum(row.cost_usd for row in ledger.rows)
        worst = pipeline.preview("summary", "summary", {"device": "D1", "note": "x" * 60})["worst_case_cost_usd"]
    print(
        f"{args.calls} concurrent calls, budget ${args.budget}: {answered} reached the provider "
        f"(worst-case reservations alone would admit {int(args.budget / worst)})"
    )
    print(f"budget used {spent / args.budget:.1%} (${spent:.6f}); overshoot ${max(spent - args.budget, 0):.6f}")


if __name__ == "__main__":
    main()
