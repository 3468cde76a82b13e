"""Fleet priors from plain per-device rows: venue-aware, measured over the devices that stocked a sku.

The service (`services/merchandising/data`) and the benchmark build the same rows and call `FleetRates`.

Why: averaging a sku's rate over the devices that *sold* it, fleet-wide, is biased upward for a device
that never stocked it.  Operators stock a product where it sells, and tastes differ by venue.  So:

* a sku's rate at a device is units sold / days it held a slot there (stocked but unsold counts as 0);
* a group's rate is the pooled Σunits / Σdays over the devices that stocked it (days-weighted; at least
  half a vend, so a sku that never sold gets a small positive rate rather than none);
* the prior for a device of venue v blends the same-venue rate and the fleet-wide rate, weighted by the
  number of same-venue devices that stock the sku: (n_v·r_v + n0·r_fleet) / (n_v + n0), n0 =
  `venue_strength`; with no same-venue evidence it is the fleet-wide rate;
* a product no other machine stocks gets its category's rate *at a stocking share of 0*: the log rates of
  the stocked products regressed on the share of machines stocking them (operators leave out what sells
  least, so the category's mean rate would over-state it several times).

The device the prior is for is always left out (its own data is not its prior).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from services.planogram.types import Priors

VENUE_STRENGTH = 2.0
# A product the operator does not stock at a machine sells there, on average, this share of its rate at the
# machines that stock it (selection: operators stock what sells at *that* machine).  The default, from the
# generated fleets (docs/ENGINE.md, "Correction for never-stocked skus"); the fleet's own planogram history
# replaces it as products are added to machines (`FleetRates.from_rows`, trials).
UNSTOCKED_FACTOR = 0.4
TRIAL_MIN_DAYS = 14.0  # an added product's rate, or a level sku's, over fewer stocked days says too little
TRIAL_PSEUDO_COUNT = 10.0  # the default factor counts as this many trials
LEVEL_MIN_UNITS = 10.0  # skus sold at least this often measure the machine's level against the fleet
LEVEL_MIN_SKUS = 5
SHARE_MIN_DEVICES = 4  # fewer other machines than this: too few stocking shares to extrapolate to none
SHARE_MIN_SKUS = 8
CATEGORY_PSEUDO_COUNT = 2.0  # a category's own offset from the fleet's line counts as this many products


@dataclass(frozen=True, slots=True)
class StockRow:
    """One (device, sku) over the priors window: units sold and days the sku held a slot there.

    days: days stocked within the window; when unknown (a sku sold with no planogram record), pass the
    window length.
    """

    device_id: str
    venue_type: str
    sku: str
    units: float
    days: float
    added: bool = False  # not in the device's first planogram, added later: a trial of an unstocked product


@dataclass(frozen=True, slots=True)
class _Acc:
    units: float = 0.0
    days: float = 0.0
    n: int = 0

    def add(self, units: float, days: float, n: int = 1) -> _Acc:
        return _Acc(self.units + units, self.days + days, self.n + n)

    def rate(self) -> float | None:
        # Half a vend at least: a sku stocked for weeks without a sale gets a small positive prior, not 0.
        return max(self.units, 0.5) / self.days if self.n > 0 and self.days > 0 else None


@dataclass(frozen=True)
class FleetRates:
    """Pooled totals per sku (fleet-wide and per venue), so one leave-one-out prior costs O(skus)."""

    category: Mapping[str, str]
    fleet: Mapping[str, _Acc]
    venue: Mapping[tuple[str, str], _Acc]
    device: Mapping[str, Mapping[str, tuple[float, float]]]  # device -> sku -> (units, days)
    venue_of: Mapping[str, str]
    venue_strength: float = VENUE_STRENGTH
    _empty: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    unstocked_factor: float = UNSTOCKED_FACTOR
    unstocked_trials: int = 0  # added products the factor was measured on (0: the default)

    @staticmethod
    def from_rows(
        rows: Iterable[StockRow], category: Mapping[str, str], *, venue_strength: float = VENUE_STRENGTH
    ) -> FleetRates:
        """Accumulate rows (one per device and sku; rows with days <= 0 are ignored); measure the unstocked
        factor on the added products."""
        rows = list(rows)
        fleet: dict[str, _Acc] = {}
        venue: dict[tuple[str, str], _Acc] = {}
        device: dict[str, dict[str, tuple[float, float]]] = {}
        venue_of: dict[str, str] = {}
        for r in rows:
            if r.days <= 0:
                continue
            venue_of[r.device_id] = r.venue_type
            u, d = device.setdefault(r.device_id, {}).get(r.sku, (0.0, 0.0))
            device[r.device_id][r.sku] = (u + r.units, d + r.days)
        for dev, per_sku in device.items():
            v = venue_of[dev]
            for sku, (u, d) in per_sku.items():
                fleet[sku] = fleet.get(sku, _Acc()).add(u, d)
                venue[(v, sku)] = venue.get((v, sku), _Acc()).add(u, d)
        rates = FleetRates(dict(category), fleet, venue, device, venue_of, venue_strength)
        factor, n = rates.unstocked_from_trials([r for r in rows if r.added and r.days >= TRIAL_MIN_DAYS])
        return replace(rates, unstocked_factor=factor, unstocked_trials=n)

    def unstocked_from_trials(self, trials: Iterable[StockRow]) -> tuple[float, int]:
        """The unstocked factor measured on products added to machines, shrunk to the default; and the count.

        A trial's gap is log(its rate since it was added / its leave-one-out prior) minus the machine's level
        (the median such gap of its well-sold other skus), as `fit._calibrate_unseen` applies the factor.
        """
        by_device: dict[str, list[StockRow]] = {}
        for r in trials:
            by_device.setdefault(r.device_id, []).append(r)
        gaps: list[float] = []
        for dev, rows in sorted(by_device.items()):
            prior = self.priors(dev).sku_rate
            tried = {r.sku for r in rows}
            level = [
                math.log(u / d) - math.log(prior[k])
                for k, (u, d) in self.device.get(dev, self._empty).items()
                if k not in tried and prior.get(k, 0.0) > 0 and u >= LEVEL_MIN_UNITS and d >= TRIAL_MIN_DAYS
            ]
            shift = statistics.median(level) if len(level) >= LEVEL_MIN_SKUS else 0.0
            gaps += [
                math.log(max(r.units, 0.5) / r.days) - math.log(prior[r.sku]) - shift
                for r in rows
                if prior.get(r.sku, 0.0) > 0
            ]
        log_factor = (sum(gaps) + TRIAL_PSEUDO_COUNT * math.log(UNSTOCKED_FACTOR)) / (len(gaps) + TRIAL_PSEUDO_COUNT)
        return math.exp(log_factor), len(gaps)

    def priors(self, exclude_device: str | None = None, venue_type: str | None = None) -> Priors:
        """Units/day per sku (venue-blended), per category and fleet, leaving `exclude_device` out.

        venue_type defaults to the excluded device's venue; None (and no device) gives fleet-wide rates.
        """
        venue = venue_type if venue_type is not None else self.venue_of.get(exclude_device or "")
        own = self.device.get(exclude_device or "", self._empty)
        sku_rate: dict[str, float] = {}
        for sku, acc in self.fleet.items():
            mine = own.get(sku)
            if mine is not None:
                acc = acc.add(-mine[0], -mine[1], -1)
            fleet_rate = acc.rate()
            if fleet_rate is None:
                continue
            rate = fleet_rate
            if venue is not None:
                vacc = self.venue.get((venue, sku), _Acc())
                if mine is not None and self.venue_of.get(exclude_device or "") == venue:
                    vacc = vacc.add(-mine[0], -mine[1], -1)
                venue_rate = vacc.rate()
                if venue_rate is not None:
                    w = vacc.n / (vacc.n + self.venue_strength)
                    rate = w * venue_rate + (1 - w) * fleet_rate
            sku_rate[sku] = max(rate, 0.0)
        others = len(self.device) - (exclude_device in self.device)
        share = {sku: (self.fleet[sku].n - (sku in own)) / max(others, 1) for sku in sku_rate}
        category_rate, fleet = self._unstocked_anywhere(sku_rate, share, others)
        return Priors(
            sku_rate=sku_rate, category_rate=category_rate, fleet_rate=fleet, unstocked_factor=self.unstocked_factor
        )

    def _unstocked_anywhere(
        self, sku_rate: Mapping[str, float], share: Mapping[str, float], others: int
    ) -> tuple[dict[str, float], float | None]:
        """The rate to expect of a product no other machine stocks, per category and fleet-wide (for a
        category nobody stocks); see the module docstring.

        log rate = a_c + b * share, b >= 0 fitted within categories over the stocked products, read at share
        0; a_c shrunk toward the fleet's a (worth CATEGORY_PSEUDO_COUNT products).  With too few machines or
        products, or no spread of shares, the category's and the fleet's mean rates."""
        by_cat: dict[str, list[str]] = {}
        for sku in sku_rate:
            by_cat.setdefault(self.category.get(sku, ""), []).append(sku)
        means = (
            {c: sum(sku_rate[k] for k in v) / len(v) for c, v in by_cat.items()},
            sum(sku_rate.values()) / len(sku_rate) if sku_rate else None,
        )
        logs = {k: math.log(r) for k, r in sku_rate.items() if r > 0}
        if others < SHARE_MIN_DEVICES or len(logs) < SHARE_MIN_SKUS:
            return means
        groups = [[k for k in v if k in logs] for v in by_cat.values()]
        sxy = sxx = 0.0
        for g in groups:
            if len(g) > 1:
                mx, my = statistics.fmean(share[k] for k in g), statistics.fmean(logs[k] for k in g)
                sxy += sum((share[k] - mx) * (logs[k] - my) for k in g)
                sxx += sum((share[k] - mx) ** 2 for k in g)
        if sxx <= 0:
            return means
        slope = max(0.0, sxy / sxx)
        at_zero = {k: logs[k] - slope * share[k] for k in logs}
        fleet_level = statistics.fmean(at_zero.values())
        out = {}
        for c, v in by_cat.items():
            level = [at_zero[k] for k in v if k in at_zero]
            out[c] = math.exp((sum(level) + CATEGORY_PSEUDO_COUNT * fleet_level) / (len(level) + CATEGORY_PSEUDO_COUNT))
        return out, math.exp(fleet_level)


def fleet_priors_from_rows(
    rows: Iterable[StockRow],
    category: Mapping[str, str],
    exclude_device: str | None = None,
    venue_type: str | None = None,
    *,
    venue_strength: float = VENUE_STRENGTH,
) -> Priors:
    """One-shot convenience: `FleetRates.from_rows(rows, category).priors(exclude_device, venue_type)`."""
    return FleetRates.from_rows(rows, category, venue_strength=venue_strength).priors(exclude_device, venue_type)
