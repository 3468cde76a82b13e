"""Fleet priors of products a machine does not stock: the unstocked factor measured on products added to
machines (net of each machine's level), and the rate of products no machine stocks."""

from __future__ import annotations

import math

import pytest

from services.planogram.priors import TRIAL_PSEUDO_COUNT, UNSTOCKED_FACTOR, FleetRates, StockRow

SKUS = [f"K{i}" for i in range(8)]


def _fleet(trial_units: float, trial_days: float) -> list[StockRow]:
    """Five machines sell K0..K7 and NEW at 30/90 days each; D5 sells everything twice as well and got NEW
    added later (trial_units over trial_days)."""
    rows = [StockRow(f"D{d}", "office", k, 30.0, 90.0) for d in range(5) for k in [*SKUS, "NEW"]]
    rows += [StockRow("D5", "office", k, 60.0, 90.0) for k in SKUS]
    rows.append(StockRow("D5", "office", "NEW", trial_units, trial_days, added=True))
    return rows


def test_without_added_products_the_default_factor_holds() -> None:
    rates = FleetRates.from_rows([r for r in _fleet(0.0, 0.0) if not r.added], {})
    assert rates.unstocked_factor == pytest.approx(UNSTOCKED_FACTOR)
    assert rates.unstocked_trials == 0
    assert rates.priors("D0").unstocked_factor == pytest.approx(UNSTOCKED_FACTOR)


def test_an_added_product_is_measured_against_its_prior_net_of_the_machines_level() -> None:
    # D5 sells twice the fleet rate of what it stocks (its level); NEW sold 0.8 x that after it was added.
    rates = FleetRates.from_rows(_fleet(2 * 0.8 * 30.0 * 45 / 90, 45.0), {})
    assert rates.unstocked_trials == 1
    expected = math.exp((math.log(0.8) + TRIAL_PSEUDO_COUNT * math.log(UNSTOCKED_FACTOR)) / (1 + TRIAL_PSEUDO_COUNT))
    assert rates.unstocked_factor == pytest.approx(expected)
    assert rates.priors("D0").unstocked_factor == pytest.approx(expected)  # what every machine's fit applies


def test_a_trial_too_short_to_say_anything_is_not_counted() -> None:
    rates = FleetRates.from_rows(_fleet(10.0, 7.0), {})
    assert rates.unstocked_factor == pytest.approx(UNSTOCKED_FACTOR)
    assert rates.unstocked_trials == 0


def _shares(category: dict[str, str]) -> list[StockRow]:
    """Six machines; product S{n} is stocked on the first n of them and sells n/6 a day there (what operators
    stock widely sells best).  Nobody stocks GONE."""
    return [StockRow(f"D{d}", "office", f"S{n}", 90.0 * n / 6, 90.0) for n in range(1, 7) for d in range(n)] + [
        StockRow(f"D{d}", "office", f"T{i}", 45.0, 90.0) for d in range(6) for i in range(3)
    ]


def test_a_product_no_machine_stocks_gets_its_category_rate_at_a_stocking_share_of_none() -> None:
    category = {**{f"S{n}": "snack" for n in range(1, 7)}, **{f"T{i}": "drink" for i in range(3)}, "GONE": "snack"}
    priors = FleetRates.from_rows(_shares(category), category).priors("D0")
    stocked = [priors.sku_rate[f"S{n}"] for n in range(1, 7) if f"S{n}" in priors.sku_rate]
    # Seen from D0, S1 is stocked nowhere else; the other snacks' rates rise with their share, so a snack no
    # machine stocks is expected below every stocked one (the category's mean would be 2.6 times as high).
    assert "S1" not in priors.sku_rate
    assert priors.category_rate["snack"] < min(stocked) < sum(stocked) / len(stocked)
    assert priors.category_rate["snack"] < 0.5 * sum(stocked) / len(stocked)
    # a category nobody stocks falls back to the fleet's rate at share 0, below the mean of every rate
    assert priors.fleet_rate is not None and priors.fleet_rate < sum(priors.sku_rate.values()) / len(priors.sku_rate)


def test_with_few_machines_or_no_rising_share_the_category_mean_holds() -> None:
    category = {**{f"S{n}": "snack" for n in range(1, 7)}, **{f"T{i}": "drink" for i in range(3)}}
    rows = _shares(category)
    few = FleetRates.from_rows([r for r in rows if r.device_id in {"D0", "D1", "D2"}], category).priors("D0")
    assert few.category_rate["snack"] == pytest.approx(sum(r for k, r in few.sku_rate.items() if k[0] == "S") / 5)
    # Widely stocked products selling *less*: the line is flat (no extrapolation upward), the category's
    # level its mean log rate shrunk toward the fleet's.
    fewer = [
        StockRow(r.device_id, r.venue_type, r.sku, 90.0 / (1 + int(r.sku[1:])), r.days) if r.sku[0] == "S" else r
        for r in rows
    ]
    flat = FleetRates.from_rows(fewer, category).priors("D5")
    logs = {k: math.log(v) for k, v in flat.sku_rate.items()}
    snack = [x for k, x in logs.items() if k[0] == "S"]
    fleet_level = sum(logs.values()) / len(logs)
    assert flat.category_rate["snack"] == pytest.approx(math.exp((sum(snack) + 2 * fleet_level) / (len(snack) + 2)))
