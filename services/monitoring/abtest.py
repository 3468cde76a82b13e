"""A/B verdicts for prompt variants: each variant against the control of the same prompt (Fisher's exact test)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from scipy.stats import fisher_exact

CONTROL_NAMES = ("control", "A")
ALPHA = 0.05


def _reviewed(row: dict[str, Any]) -> tuple[int, int]:
    """(accepted, rejected) drafts of one row; pending drafts are not reviews."""
    accepted = int(row.get("approved") or 0) + int(row.get("used") or 0)
    return accepted, int(row.get("rejected") or 0)


def choose_control(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The variant called 'control' (else 'A', else the alphabetically first); its most-reviewed version."""
    if not rows:
        return None
    variants = {str(r.get("variant")) for r in rows}
    name = next((c for c in CONTROL_NAMES if c in variants), min(variants))
    candidates = [r for r in rows if str(r.get("variant")) == name]
    return max(candidates, key=lambda r: (sum(_reviewed(r)), r.get("prompt_version") or 0))


def compare(variant: dict[str, Any], control: dict[str, Any], min_reviews: int) -> dict[str, Any]:
    """Acceptance difference and Fisher's exact p-value; a verdict only when both arms have `min_reviews`."""
    acc_v, rej_v = _reviewed(variant)
    acc_c, rej_c = _reviewed(control)
    reviews_v, reviews_c = acc_v + rej_v, acc_c + rej_c
    out: dict[str, Any] = {
        "control_version": control.get("prompt_version"),
        "control_variant": control.get("variant"),
        "reviews": reviews_v,
        "control_reviews": reviews_c,
        "min_reviews": min_reviews,
        "enough_reviews": reviews_v >= min_reviews and reviews_c >= min_reviews,
        "acceptance_diff_pct": None,
        "p_value": None,
        "significant": False,
        "verdict": "not enough reviews",
    }
    if reviews_v and reviews_c:
        out["acceptance_diff_pct"] = round(100.0 * (acc_v / reviews_v - acc_c / reviews_c), 2)
        _, p_value = fisher_exact([[acc_v, rej_v], [acc_c, rej_c]])
        out["p_value"] = round(float(p_value), 6)
    if out["enough_reviews"] and out["p_value"] is not None:
        out["significant"] = out["p_value"] < ALPHA
        if not out["significant"]:
            out["verdict"] = "no significant difference"
        else:
            out["verdict"] = "better than control" if out["acceptance_diff_pct"] > 0 else "worse than control"
    return out


def annotate(rows: list[dict[str, Any]], min_reviews: int) -> list[dict[str, Any]]:
    """Add `is_control` and `ab` (comparison with the control) to rows of prompts that have several variants."""
    by_prompt: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_prompt[row.get("prompt_name")].append(row)
    for group in by_prompt.values():
        control = choose_control(group) if len({r.get("variant") for r in group}) > 1 else None
        for row in group:
            row["is_control"] = row is control
            row["ab"] = compare(row, control, min_reviews) if control is not None and row is not control else None
    return rows
