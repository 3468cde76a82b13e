"""The pure engine work of an optimisation stream and of a fleet opportunity, as child processes run it.

This module imports only the engine (numpy/scipy), never flask, the database or the LLM SDKs: a new child
process that resolves a function here starts in under a second instead of three, which is most of what the
first Optimise after a start-up used to wait for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.planogram import (
    Cabinet,
    Constraints,
    DemandModel,
    Move,
    OptimizationResult,
    Planogram,
    ProductSpec,
    ValueParams,
    diff_planograms,
    evaluate,
    fit_model,
    optimize,
    optimize_steps,
)
from services.planogram.optimize import point_value

# The quick plan shown before the exact one: the floor (today's planogram repaired for the request) and a few
# improving swaps from it, without the MILP (``exact=False``: the same preview on an idle or a busy machine);
# that costs ~0.1 s of CPU instead of the exact MILP's 0.4-1 s.
QUICK_SWAPS = 10


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One published improvement: the slots it changes and the true objective of the result."""

    moves: tuple[Move, ...]
    objective: float
    planogram: Planogram


@dataclass(frozen=True, slots=True)
class OptimisationPlan:
    """Everything the stream publishes, computed up front by the pure engine (CPU only, no I/O)."""

    steps: tuple[PlanStep, ...]
    current: Planogram
    final: Planogram
    current_objective: float
    objective: float
    revenue_before: float
    revenue_after: float
    margin_before: float
    margin_after: float
    optimal: bool
    change_values: tuple[tuple[Move, float], ...]  # each changed slot with the value it adds, best first


@dataclass(frozen=True, slots=True)
class QuickPlan:
    """The early answer streamed before the exact one: never below the floor; ``floor_objective`` is the
    floor's value (the engine's step 1)."""

    planogram: Planogram
    objective: float
    floor_objective: float | None


def quick_plan(
    model: DemandModel,
    cabinet: Cabinet,
    products: Mapping[str, ProductSpec],
    current: Planogram,
    constraints: Constraints,
    params: ValueParams,
) -> QuickPlan | None:
    """The floor plus a few improving swaps, in a fraction of the exact plan's time; None when the engine
    gives no quick answer (an incomplete floor: the exact MILP decides, and names what is infeasible)."""
    try:
        steps = list(
            optimize_steps(model, cabinet, products, current, constraints, params, max_swaps=QUICK_SWAPS, exact=False)
        )
    except Exception:  # noqa: BLE001 (a preview only: the exact run reports every problem)
        return None
    floor = steps[1] if len(steps) > 1 and steps[1].phase == "milp" and not steps[1].milp_optimal else None
    last = steps[-1]
    return QuickPlan(last.planogram, last.objective, floor.objective if floor is not None else None)


def compute_plan(
    model: DemandModel,
    cabinet: Cabinet,
    products: Mapping[str, ProductSpec],
    current: Planogram,
    constraints: Constraints,
    params: ValueParams,
    time_limit_s: float,
    shown: Planogram | None = None,
) -> OptimisationPlan:
    """Run the optimiser and turn its steps into the ones the editor animates (pure; raises InfeasibleError).

    ``shown``: the planogram the client already shows (a quick plan); the steps then lead from it to the answer."""

    def objective(p: Planogram) -> float:
        return point_value(model, cabinet, products, p, params)

    engine = list(optimize_steps(model, cabinet, products, current, constraints, params, time_limit_s=time_limit_s))
    first, last = engine[0], engine[-1]
    steps: list[PlanStep] = []
    final = current
    start = shown if shown is not None else current
    if shown is not None and last.planogram.mapping() == shown.mapping():
        final = last.planogram  # the quick plan was the answer: nothing left to show
    # The engine never answers below today's planogram repaired for the request (its floor): propose any change.
    elif last.planogram.mapping() != start.mapping():
        final, previous = last.planogram, start
        for item in engine[1:]:
            stages = (
                stage_by_row(cabinet, previous, item.planogram, objective)
                if item.phase == "milp"
                else [(item.planogram, item.objective)]
            )
            for planogram, value in stages:
                moves = diff_planograms(previous, planogram)
                if moves:
                    steps.append(PlanStep(moves, value, planogram))
                previous = planogram
    before = evaluate(model, cabinet, products, current, params)
    after = evaluate(model, cabinet, products, final, params)
    final_value = objective(final)
    values = [
        (m, final_value - objective(final.with_slot(m.slot, m.from_sku))) for m in diff_planograms(current, final)
    ]
    values.sort(key=lambda mv: -mv[1])
    return OptimisationPlan(
        tuple(steps),
        current,
        final,
        first.objective,
        final_value,
        before.revenue_per_day,
        after.revenue_per_day,
        before.margin_per_day,
        after.margin_per_day,
        bool(last.milp_optimal),
        tuple(values),
    )


def stage_by_row(
    cabinet: Cabinet, before: Planogram, after: Planogram, objective: Callable[[Planogram], float]
) -> list[tuple[Planogram, float]]:
    """Split one big jump into row-by-row stages, best row first, each with its true objective.

    Presentation only: the last stage is exactly ``after``; intermediate stages are real planograms
    (so a product moving between rows may briefly appear twice or not at all) valued honestly.
    """
    row_of = {s.code: s.row for s in cabinet.slots}
    groups: dict[int, list[str]] = {}
    for move in diff_planograms(before, after):
        groups.setdefault(row_of.get(move.slot, -1), []).append(move.slot)
    if len(groups) <= 1:
        return [(after, objective(after))]
    target, target_caps = after.mapping(), after.capacity_map()
    mapping, caps = before.mapping(), before.capacity_map()

    def applied(slots: list[str]) -> tuple[dict[str, str], dict[str, int]]:
        m, c = dict(mapping), dict(caps)
        for slot in slots:
            m.pop(slot, None)
            c.pop(slot, None)
            if slot in target:
                m[slot] = target[slot]
            if slot in target_caps:
                c[slot] = target_caps[slot]
        return m, c

    remaining = [groups[row] for row in sorted(groups)]
    stages: list[tuple[Planogram, float]] = []
    while len(remaining) > 1:
        scored = []
        for i, slots in enumerate(remaining):
            m, c = applied(slots)
            candidate = Planogram.of(m, c)
            scored.append((objective(candidate), -i, candidate, m, c))
        value, neg_i, best, mapping, caps = max(scored, key=lambda t: (t[0], t[1]))
        stages.append((best, value))
        remaining.pop(-neg_i)
    stages.append((after, objective(after)))
    return stages


def solve_margin(
    model: DemandModel,
    cabinet: Cabinet,
    products: Mapping[str, ProductSpec],
    current: Planogram,
    constraints: Constraints,
    time_limit_s: float,
) -> OptimizationResult:
    """The engine call of one fleet opportunity: the best margin planogram within the constraints."""
    return optimize(
        model, cabinet, products, current, constraints, ValueParams(objective="margin"), time_limit_s=time_limit_s
    )


def ready() -> None:
    """Called once in a new child process (its imports are the work)."""


@dataclass(frozen=True, slots=True)
class FitInputs:
    """What fitting a device's model needs besides the cabinet (the fleet priors come from the database)."""

    args: tuple[Any, ...]
    priors: Any
    history: Any


def fit_and_value(
    model: DemandModel | None,
    inputs: FitInputs | None,
    cabinet: Cabinet,
    products: Mapping[str, ProductSpec],
    current: Planogram,
    params: ValueParams,
) -> tuple[DemandModel, float]:
    """The demand model (fitted from ``inputs`` unless given) and the current planogram's objective (pure)."""
    if model is None:
        assert inputs is not None
        model = fit_model(*inputs.args, priors=inputs.priors, history=inputs.history)
    return model, point_value(model, cabinet, products, current, params)
