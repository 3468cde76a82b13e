"""DataStructurer determinism and budgets; the price table; tier routing and start-up checks."""

from __future__ import annotations

import pytest

from services.llm import (
    ConfigError,
    DataStructurer,
    InMemoryLedger,
    InMemoryPromptSource,
    LLMSettings,
    Price,
    PriceTable,
    build_pipeline,
)
from services.llm.structurer import ESSENTIAL, HISTORY
from services.llm.types import Usage

SLOTS = [
    {"slot": "B1", "sku": "S2", "name": "Chips & Dip", "price": 1.5, "capacity": 6, "sales_per_day": 2.345},
    {"slot": "A10", "sku": "S1", "name": "Cola", "price": 2.0, "sales_per_day": 4.0},
    {"slot": "A2", "sku": None},
]
VENDS = [
    {"device_id": "D1", "timestamp": "2026-01-01T10:00:00", "sku": "S1"},
    {"device_id": "D1", "timestamp": "2026-01-01T10:01:00", "sku": "S2"},
    {"device_id": "D1", "timestamp": "2026-01-01T12:00:00", "sku": "S3"},
    {"transaction_id": "T9", "timestamp": "2026-01-01T09:00:00", "sku": "S4"},
    {"transaction_id": "T9", "timestamp": "2026-01-01T09:00:00", "sku": "S1"},
]


def test_planogram_xml_is_compact_ordered_and_escaped() -> None:
    text = DataStructurer().planogram({"device_id": "D1", "slots": SLOTS}).render()
    assert text.splitlines() == [
        '<planogram device="D1">',
        '<row id="A"><slot id="A2" empty="1"/><slot id="A10" sku="S1" price="2.00" rate="4.00">Cola</slot></row>',
        '<row id="B"><slot id="B1" sku="S2" price="1.50" cap="6" rate="2.35">Chips &amp; Dip</slot></row>',
        "</planogram>",
    ]


def test_same_data_renders_the_same_text() -> None:
    s = DataStructurer()
    assert s.planogram({"device_id": "D1", "slots": SLOTS}) == s.planogram(
        {"device_id": "D1", "slots": list(reversed(SLOTS))}
    )
    assert (
        s.metrics({"b": 1.234567, "a": {"y": 2, "x": 1}}).render()
        == s.metrics({"a": {"x": 1, "y": 2}, "b": 1.234567}).render()
        == '{"a":{"x":1,"y":2}}\n{"b":1.2346}'
    )


def test_baskets_by_transaction_and_time_gap() -> None:
    block = DataStructurer().baskets(VENDS)
    assert block.header == '{"baskets":3,"top_pairs":["S1+S2:1","S1+S4:1"]}'
    assert block.lines == ("S3", "S1 S2", "S1 S4")


def test_priority_truncation_keeps_essentials_and_cuts_history_first() -> None:
    s = DataStructurer()
    planogram = s.planogram({"device_id": "D1", "slots": SLOTS}, priority=ESSENTIAL)
    history = s.baskets(VENDS * 50, priority=HISTORY)
    fitted = s.fit([history, planogram], budget_tokens=200)
    assert fitted.texts["planogram"] == planogram.render()
    assert "truncated" in fitted.texts["baskets"] and fitted.truncated == ("baskets",)
    assert fitted.tokens <= 200


def test_prices_include_cache_reads_and_long_prompt_rates() -> None:
    table = PriceTable()
    assert table.effective_date.year >= 2026
    sonnet = table.cost("claude-sonnet-5-5", Usage(input_tokens=1_000_000, output_tokens=0, cached_tokens=500_000))
    assert sonnet == pytest.approx(0.5 * 2.00 + 0.5 * 0.10)
    haiku = table.get("claude-haiku-5-5")
    assert haiku.cost(Usage(200_000, 0)) == pytest.approx(5 * haiku.cost(Usage(200_000, 0)) / 5)
    assert haiku.cost(Usage(200_000, 0)) == pytest.approx(200_000 * 0.10 * 5 / 1e6)
    assert table.get("claude-sonnet-5-5-20261001") == table.get("claude-sonnet-5-5")


def test_unknown_model_fails_at_construction_never_zero_cost() -> None:
    with pytest.raises(ConfigError, match="no price for model 'my-llama'"):
        PriceTable().get("my-llama")
    settings = LLMSettings(
        provider="openai-compatible",
        openai_base_url="http://localhost:11434/v1",
        tier_models={"fast": "my-llama"},
    )
    with pytest.raises(ConfigError, match="my-llama"):
        build_pipeline(settings, InMemoryPromptSource(), InMemoryLedger())
    settings.extra_prices = {"my-llama": Price(0.0, 0.0, 0.0), "gpt-5.6-terra": Price(2.5, 15, 0.25)}
    build_pipeline(settings, InMemoryPromptSource(), InMemoryLedger())


def test_settings_validation_and_secrets_not_in_repr() -> None:
    with pytest.raises(ConfigError, match="unknown LLM provider"):
        build_pipeline(LLMSettings(provider="gemini"), InMemoryPromptSource(), InMemoryLedger())
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        build_pipeline(LLMSettings(provider="openai-compatible"), InMemoryPromptSource(), InMemoryLedger())
    settings = LLMSettings(provider="anthropic", anthropic_api_key="sk-ant-secret")
    assert "sk-ant-secret" not in repr(settings)
    pipeline = build_pipeline(settings, InMemoryPromptSource(), InMemoryLedger())
    assert "sk-ant-secret" not in repr(pipeline.monitoring())
