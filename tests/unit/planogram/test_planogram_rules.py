"""Validation rules and the realtime score."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.planogram.model import DemandModel
from services.planogram.rules import validate
from services.planogram.scoring import score_placement
from services.planogram.types import Cabinet, Constraints, Planogram, ProductSpec, SlotSpec
from services.planogram.value import evaluate


@pytest.fixture
def setup(model_factory: Callable[..., DemandModel]) -> tuple[Cabinet, dict[str, ProductSpec], DemandModel]:
    slots = (
        SlotSpec("A1", 0, 0, 80, 150, 500, 8, "chilled"),
        SlotSpec("A2", 0, 1, 80, 250, 500, 8, "chilled"),
        SlotSpec("A3", 0, 2, 80, 250, 500, 8, "chilled"),
        SlotSpec("B1", 1, 0, 80, 250, 500, 8, "ambient"),
        SlotSpec("B2", 1, 1, 80, 250, 500, 8, "ambient"),
        SlotSpec("B3", 1, 2, 80, 250, 500, 8, "ambient"),
    )
    cab = Cabinet("R", 2, 3, "office", "combo", 7.0, slots)
    prods = {
        "COLA": ProductSpec("COLA", "Cola", "soda", 2.0, 0.8, 66, 122, 66, "chilled"),
        "WATER": ProductSpec("WATER", "Water", "water", 1.5, 0.4, 70, 230, 70, "chilled"),
        "CHIPS": ProductSpec("CHIPS", "Chips", "snack", 1.8, 0.6, 75, 220, 45, "ambient"),
        "BAR": ProductSpec("BAR", "Bar", "snack", 1.2, 0.5, 50, 140, 25, "ambient"),
        "NUTS": ProductSpec("NUTS", "Nuts", "nuts", 2.2, 0.9, 70, 170, 40, "ambient"),
        "FAST": ProductSpec("FAST", "Fast", "soda", 2.0, 0.8, 66, 122, 66, "chilled"),
    }
    model = model_factory(
        cab,
        {"COLA": 0.5, "WATER": 0.4, "CHIPS": 0.6, "BAR": 0.3, "NUTS": 0.2, "FAST": 5.0},
        [1.5, 1.2, 1.0, 0.9, 0.8, 0.6],
        lifts={("BAR", "COLA"): 3.0},
    )
    return cab, prods, model


def rules(v: tuple[object, ...]) -> set[tuple[str | None, str]]:
    return {(x.slot, x.rule_id) for x in v}  # type: ignore[attr-defined]


def test_hard_rules(setup: tuple[Cabinet, dict[str, ProductSpec], DemandModel]) -> None:
    cab, prods, model = setup
    plan = Planogram(
        (
            ("A1", "WATER"),
            ("A2", "COLA"),
            ("A2", "BAR"),
            ("B1", "COLA"),
            ("B2", "GHOST"),
            ("Z9", "NUTS"),
            ("B3", "FAST"),
        )
    )
    cons = Constraints(must_stock=frozenset({"CHIPS"}), locked=(("A3", "WATER"),))
    v = validate(cab, prods, plan, cons, model)
    hard = {(x.slot, x.rule_id) for x in v if x.severity == "hard"}
    assert ("A1", "dimensions") in hard  # 230 mm bottle in a 150 mm slot
    assert ("B1", "temperature") in hard  # chilled cola in an ambient slot
    assert ("A2", "one_sku_per_slot") in hard
    assert ("B2", "unknown_sku") in hard
    assert ("Z9", "unknown_slot") in hard
    assert (None, "must_stock") in hard
    assert ("A3", "locked_slot") in hard
    assert ("B3", "capacity_cover") not in hard  # a service rule: shown and priced, never a hard rule
    assert any(x.slot == "B3" and x.rule_id == "capacity_cover" and x.severity == "soft" for x in v)
    assert all(x.severity == "hard" for x in v[: len(hard)])  # hard ones come first


def test_soft_rules(setup: tuple[Cabinet, dict[str, ProductSpec], DemandModel]) -> None:
    cab, prods, model = setup
    plan = Planogram.of({"A2": "COLA", "A3": "BAR", "B1": "CHIPS", "B2": "NUTS", "B3": "BAR"})
    v = validate(cab, prods, plan, None, model)
    assert not [x for x in v if x.severity == "hard"]
    found = rules(v)
    assert ("A3", "ambient_in_chilled") in found
    assert ("A1", "empty_slot") in found
    assert any(r == "category_blocking" for _, r in found)  # snacks at A3/B3 apart from B1
    assert any(r == "duplicate_facings" for _, r in found)  # BAR's second facing adds only stock
    ladder = Planogram.of({"B1": "CHIPS", "B2": "BAR"})  # same category, price drops left to right
    assert ("B2", "price_ladder") in rules(validate(cab, prods, ladder))


def test_score_hard_violation_is_zero(setup: tuple[Cabinet, dict[str, ProductSpec], DemandModel]) -> None:
    cab, prods, model = setup
    plan = Planogram.of({"A2": "COLA", "B1": "CHIPS"})
    res = score_placement(model, cab, prods, plan, "WATER", "A1")
    assert res.score == 0 and any(v.rule_id == "dimensions" for v in res.violations)
    unknown = score_placement(model, cab, prods, plan, "NOPE", "Q7")
    assert {v.rule_id for v in unknown.violations} == {"unknown_sku", "unknown_slot"}


def test_score_prefers_better_position_and_reports_delta(
    setup: tuple[Cabinet, dict[str, ProductSpec], DemandModel],
) -> None:
    cab, prods, model = setup
    plan = Planogram.of({"B1": "CHIPS"})
    good = score_placement(model, cab, prods, plan, "NUTS", "B2")
    bad = score_placement(model, cab, prods, plan, "NUTS", "B3")
    assert good.score > bad.score
    after = evaluate(model, cab, prods, plan.with_slot("B2", "NUTS"))
    before = evaluate(model, cab, prods, plan)
    assert good.delta_margin_per_day == pytest.approx(after.margin_per_day - before.margin_per_day)
    assert good.predicted_units_per_day == pytest.approx(0.2 * 0.8, rel=1e-5)  # stock never runs short
    kinds = {r.kind for r in good.reasons}
    assert {"position", "supply", "value"} <= kinds


def test_score_mentions_affinity_partner(setup: tuple[Cabinet, dict[str, ProductSpec], DemandModel]) -> None:
    cab, prods, model = setup
    res = score_placement(model, cab, prods, Planogram.of({"A2": "COLA"}), "BAR", "A3")
    assert any(r.kind == "affinity" and "COLA" in r.message for r in res.reasons)
