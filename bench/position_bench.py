"""Can pooling the fleet identify position effects that one fixed operator planogram cannot?  (issue 11)

    .venv/bin/python bench/position_bench.py [n_devices] [seed]

Fleet: bench/truth_fleet.py (each machine its own eye-level row; operators put what they believe sells best
*here* in row B).  Heat-zone Spearman (fitted vs true slot weights, mean over machines) of:
* engine: the per-device two-stage fit (`fit_model`, as served);
* pooled: one Poisson MAP fit over the whole fleet (same 6 x 8 layout): product fleet level x machine level x
  product-at-machine lognormal noise (sd 0.6), a fleet row/column curve and per-machine deviations (sd 0.5);
* pooled + selection: the same with the product-at-machine noise centred on what the operator's placement
  implies (expected order statistic of believed value at the slot's rank in the operator's slot order);
* oracle: the true fleet-mean curve plus the pooled fit's per-machine deviations (what pooling could reach
  if the fleet curve were known).
It also prints the selection itself, from the truth: mean (log local demand - product level - machine level)
of the products in each row.  Raw counts, no stockout censoring (the engine's fit censors).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy.sparse as sp
from scipy.stats import spearmanr

from bench.trust_bench import rates_of
from bench.truth_fleet import TrueFleet, generate_true_fleet
from services.planogram.fit import fit_model
from services.planogram.glm import fit_poisson_map

Obs = tuple[int, int, int, str, float, float]  # machine, row, col, sku, units, log(days / facings)


def observations(fleet: TrueFleet) -> list[Obs]:
    """One row per stocked slot: units sold there over the window."""
    out: list[Obs] = []
    for m, d in enumerate(fleet.devices):
        units = np.bincount(d.sales.slot, minlength=len(d.sales.slot_codes))
        by_code = dict(zip(d.sales.slot_codes, units.tolist(), strict=True))
        days, facings, mapping = float(d.sales.day().max() + 1), d.planogram.facings(), d.planogram.mapping()
        for s in d.cabinet.slots:
            if s.code in mapping:
                k = mapping[s.code]
                out.append((m, s.row, s.col, k, float(by_code.get(s.code, 0)), np.log(days / len(facings[k]))))
    return out


def pooled_fit(
    obs: list[Obs], n_m: int, n_r: int, n_c: int, e_mean: dict[tuple[int, str], float] | None = None
) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """(machine x row x col log weights, product levels, machine levels) of the fleet model."""
    skus = sorted({o[3] for o in obs})
    pairs = sorted({(o[0], o[3]) for o in obs})
    ki, pi = {k: i for i, k in enumerate(skus)}, {p: i for i, p in enumerate(pairs)}
    o_b = len(skus)
    o_e = o_b + n_m
    o_r = o_e + len(pairs)
    o_c = o_r + n_r
    o_dr = o_c + n_c
    o_dc = o_dr + n_m * n_r
    size = o_dc + n_m * n_c
    cols = [
        (ki[k], o_b + m, o_e + pi[(m, k)], o_r + r, o_c + c, o_dr + m * n_r + r, o_dc + m * n_c + c)
        for m, r, c, k, _, _ in obs
    ]
    x = sp.csr_matrix(
        (np.ones(7 * len(obs)), (np.repeat(np.arange(len(obs)), 7), np.ravel(cols))), shape=(len(obs), size)
    )
    y, off = np.array([o[4] for o in obs]), np.array([o[5] for o in obs])
    mean, prec = np.zeros(size), np.zeros(size)
    mean[:o_b], prec[:o_b] = np.log(max(y.sum() / np.exp(off).sum(), 1e-3)), 1 / 9
    prec[o_b:o_e], prec[o_e:o_r], prec[o_r:o_dr], prec[o_dr:] = 1.0, 0.6**-2, 1.0, 0.5**-2
    if e_mean is not None:
        mean[o_e:o_r] = [e_mean.get(p, 0.0) for p in pairs]
    th = fit_poisson_map(x, y, off, mean, prec, mean.copy()).theta
    rows = th[o_r:o_c][None, :] + th[o_dr:o_dc].reshape(n_m, n_r)
    colw = th[o_c:o_dr][None, :] + th[o_dc:].reshape(n_m, n_c)
    return rows[:, :, None] + colw[:, None, :], {k: float(th[i]) for k, i in ki.items()}, th[o_b:o_e]


def selection_means(
    fleet: TrueFleet, level: dict[str, float], dev: np.ndarray, sd: float = 0.64
) -> dict[tuple[int, str], float]:
    """What each product's placement implies about its local demand: expected order statistic of believed value."""
    products = {p.sku: p for p in fleet.products}
    low = min(level.values()) - 1.0
    mu = {k: level.get(k, low) + np.log(max(products[k].margin, 0.01)) for k in sorted(products)}
    quality: dict[str, list[float]] = {}  # the operators' slot order: where the fleet's best products sit
    for d in fleet.devices:
        vals = np.array([mu[k] for k in d.planogram.mapping().values()])
        for s, k in d.planogram.mapping().items():
            quality.setdefault(s, []).append((mu[k] - vals.mean()) / vals.std())
    rng, out = np.random.default_rng(0), {}
    for m, d in enumerate(fleet.devices):
        fac = d.planogram.facings()
        ranked = sorted(fac, key=lambda k: -max(np.mean(quality[s]) for s in fac[k]))
        mus = np.array([mu[k] + dev[m] for k in sorted(products)])
        order = np.sort(mus[None, :] + rng.normal(0, sd, (300, len(mus))), axis=1)[:, ::-1].mean(0)
        out.update({(m, k): float(order[j] - mu[k] - dev[m]) for j, k in enumerate(ranked)})
    return out


def main() -> None:
    """Print the Spearman of each estimate and the selection by row."""
    n, seed = (int(sys.argv[1]) if len(sys.argv) > 1 else 12), (int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    fleet = generate_true_fleet(n, seed)
    cab = fleet.devices[0].cabinet
    truth = np.array(
        [[[np.log(d.weight[s.code]) for s in cab.slots if s.row == r] for r in range(cab.rows)] for d in fleet.devices]
    )
    obs = observations(fleet)
    plain, level, dev = pooled_fit(obs, n, cab.rows, cab.cols)
    corrected, _, _ = pooled_fit(obs, n, cab.rows, cab.cols, selection_means(fleet, level, dev))
    oracle = plain - plain.mean(0) + truth.mean(0)
    products = {p.sku: p for p in fleet.products}
    rates = rates_of(fleet)
    engine = [
        fit_model(d.cabinet, products, d.sales, d.planogram, priors=rates.priors(d.cabinet.device_id))
        for d in fleet.devices
    ]
    engine_w = np.array([np.log(m.pos_weight).reshape(cab.rows, cab.cols) for m in engine])

    def rho(est: np.ndarray) -> str:
        r = [float(spearmanr(e.ravel(), t.ravel())[0]) for e, t in zip(est, truth, strict=True)]
        return f"{np.mean(r):.2f} (min {np.min(r):.2f})"

    print(
        f"heat-zone Spearman, {n} machines, seed {seed}: engine {rho(engine_w)}; pooled {rho(plain)}; "
        f"pooled + selection {rho(corrected)}; oracle fleet curve + pooled deviations {rho(oracle)}"
    )
    skus = sorted(products)
    lg = np.array([[np.log(d.base[k]) for k in skus] for d in fleet.devices])
    gap = lg - lg.mean(0) - (lg - lg.mean(0)).mean(1, keepdims=True)
    rows = {s.code: s.row for s in cab.slots}
    sel = [
        np.mean(
            [
                gap[m, skus.index(k)]
                for m, d in enumerate(fleet.devices)
                for s, k in d.planogram.mapping().items()
                if rows[s] == r
            ]
        )
        for r in range(cab.rows)
    ]
    print(
        "selection by row (true local log demand above the product and machine levels): "
        + ", ".join(f"{chr(65 + r)} {v:+.2f}" for r, v in enumerate(sel))
    )
    print(
        "fleet row curve, true: "
        + ", ".join(f"{v:+.2f}" for v in truth.mean((0, 2)) - truth.mean())
        + "; pooled: "
        + ", ".join(f"{v:+.2f}" for v in plain.mean((0, 2)) - plain.mean())
    )


if __name__ == "__main__":
    main()
