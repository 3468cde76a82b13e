"""Fleet priors' unstocked factor: measured on products added to machines, net of each machine's level."""

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
