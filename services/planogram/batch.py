"""Fleet helper: fit and optimise many devices one after another, yielding per-device results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from services.planogram.fit import fit_model
from services.planogram.optimize import OptimizationResult, optimize
from services.planogram.types import (
    Cabinet,
    Catalog,
    Constraints,
    InfeasibleError,
    Planogram,
    Priors,
    SalesData,
)
from services.planogram.value import ValueParams


@dataclass(frozen=True, slots=True)
class DeviceJob:
    """Everything one device's optimisation needs."""

    cabinet: Cabinet
    sales: SalesData
    current: Planogram
    constraints: Constraints | None = None
    priors: Priors | None = None
    candidates: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class BatchItem:
    """Result (or the reason there is none) for one device; index counts from 0."""

    index: int
    device_id: str
    ok: bool
    result: OptimizationResult | None
    error: str | None


def batch_optimize(
    jobs: Iterable[DeviceJob],
    products: Catalog,
    params: ValueParams | None = None,
    *,
    time_limit_s: float = 0.75,
) -> Iterator[BatchItem]:
    """Yield one BatchItem per job (in order) so a caller can report progress; infeasible devices
    and bad input become ok=False items instead of stopping the batch."""
    for i, job in enumerate(jobs):
        try:
            model = fit_model(job.cabinet, products, job.sales, job.current, priors=job.priors)
            res = optimize(
                model,
                job.cabinet,
                products,
                job.current,
                job.constraints,
                params,
                candidates=job.candidates,
                time_limit_s=time_limit_s,
            )
            yield BatchItem(i, job.cabinet.device_id, True, res, None)
        except (InfeasibleError, ValueError, KeyError) as exc:
            yield BatchItem(i, job.cabinet.device_id, False, None, f"{type(exc).__name__}: {exc}")
