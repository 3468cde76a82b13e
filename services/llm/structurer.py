"""DataStructurer: domain data (plain dicts) → compact, deterministic XML/JSON within a token budget.

It knows the *shape* of planograms, vends and metrics, never the planogram engine itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any
from xml.sax.saxutils import quoteattr

from .tokens import estimate_tokens

ESSENTIAL, IMPORTANT, HISTORY = 0, 1, 2
_SLOT = re.compile(r"^([A-Za-z]+)(\d+)$")


@dataclass(frozen=True, slots=True)
class ContextBlock:
    """A named piece of context; lower priority numbers are kept first, `lines` may be cut from the end."""

    name: str
    lines: tuple[str, ...]
    priority: int = IMPORTANT
    header: str = ""
    footer: str = ""

    def render(self, keep: int | None = None) -> str:
        """The block's text, optionally keeping only the first `keep` lines (with a marker)."""
        lines = self.lines if keep is None else self.lines[:keep]
        body = list(lines)
        if keep is not None and keep < len(self.lines):
            body.append(f"<!-- {len(self.lines) - keep} more {self.name} lines truncated -->")
        return "\n".join(p for p in (self.header, *body, self.footer) if p)


@dataclass(frozen=True, slots=True)
class FittedContext:
    """Blocks rendered within a budget; `truncated` names the blocks that were cut or dropped."""

    texts: dict[str, str]
    tokens: int
    truncated: tuple[str, ...]


class DataStructurer:
    """Builds ContextBlocks from plain data and fits them into a token budget by priority."""

    def planogram(self, planogram: Mapping[str, Any], priority: int = ESSENTIAL) -> ContextBlock:
        """One line per cabinet row (so truncation keeps well-formed XML), slots in column order."""
        rows: dict[str, list[str]] = {}
        for slot in sorted(planogram.get("slots", []), key=lambda s: _slot_order(str(s.get("slot", "")))):
            rows.setdefault(_slot_order(str(slot.get("slot", "")))[0], []).append(_slot_xml(slot))
        lines = tuple(f"<row id={quoteattr(row)}>{''.join(slots)}</row>" for row, slots in rows.items())
        device = quoteattr(str(planogram.get("device_id", "")))
        return ContextBlock("planogram", lines, priority, f"<planogram device={device}>", "</planogram>")

    def baskets(
        self,
        vends: Iterable[Mapping[str, Any]],
        gap_s: float = 90.0,
        priority: int = HISTORY,
        top_pairs: int = 10,
    ) -> ContextBlock:
        """Vends grouped into baskets (transaction id, else same device within `gap_s`); newest first."""
        groups = group_baskets(vends, gap_s)
        pairs: Counter[tuple[str, str]] = Counter()
        for basket in groups:
            pairs.update(combinations(sorted(set(basket)), 2))
        summary = [f"{a}+{b}:{n}" for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]
        header = json.dumps({"baskets": len(groups), "top_pairs": summary[:top_pairs]}, separators=(",", ":"))
        lines = tuple(" ".join(sorted(b)) for b in reversed(groups))
        return ContextBlock("baskets", lines, priority, header)

    def metrics(self, metrics: Mapping[str, Any], priority: int = IMPORTANT) -> ContextBlock:
        """Summary metrics as canonical JSON (sorted keys, rounded floats), one key per line."""
        lines = tuple(
            json.dumps({key: _round(metrics[key])}, separators=(",", ":"), sort_keys=True) for key in sorted(metrics)
        )
        return ContextBlock("metrics", lines, priority)

    def text(self, name: str, text: str, priority: int = IMPORTANT) -> ContextBlock:
        """Free text as a block (cut by lines when over budget)."""
        return ContextBlock(name, tuple(text.splitlines()), priority)

    def fit(self, blocks: Sequence[ContextBlock], budget_tokens: int) -> FittedContext:
        """Keep whole blocks in priority order; cut the first one that overflows; drop the rest."""
        texts: dict[str, str] = {}
        truncated: list[str] = []
        used = 0
        for block in sorted(blocks, key=lambda b: (b.priority, b.name)):
            full = block.render()
            cost = estimate_tokens(full)
            if used + cost <= budget_tokens:
                texts[block.name], used = full, used + cost
                continue
            keep = _lines_that_fit(block, budget_tokens - used)
            text = block.render(keep) if keep > 0 or block.priority == ESSENTIAL else ""
            texts[block.name] = text
            used += estimate_tokens(text)
            truncated.append(block.name)
        return FittedContext(texts, used, tuple(truncated))


def group_baskets(vends: Iterable[Mapping[str, Any]], gap_s: float = 90.0) -> list[list[str]]:
    """Baskets of skus in time order: by transaction id when present, else by device and time gap."""
    by_txn: dict[str, list[str]] = {}
    order: list[tuple[float, str]] = []
    loose: list[tuple[str, float, str]] = []
    for vend in vends:
        at = _timestamp(vend.get("timestamp"))
        txn = vend.get("transaction_id")
        if txn:
            if str(txn) not in by_txn:
                by_txn[str(txn)] = []
                order.append((at, str(txn)))
            by_txn[str(txn)].append(str(vend["sku"]))
        else:
            loose.append((str(vend.get("device_id", "")), at, str(vend["sku"])))
    baskets = [(at, by_txn[txn]) for at, txn in order]
    last: dict[str, tuple[float, list[str]]] = {}
    for device, at, sku in sorted(loose):
        previous = last.get(device)
        if previous is not None and at - previous[0] <= gap_s:
            previous[1].append(sku)
            last[device] = (at, previous[1])
        else:
            basket: list[str] = [sku]
            baskets.append((at, basket))
            last[device] = (at, basket)
    return [skus for _, skus in sorted(baskets, key=lambda item: (item[0], item[1]))]


def _lines_that_fit(block: ContextBlock, budget: int) -> int:
    keep = len(block.lines)
    while keep > 0 and estimate_tokens(block.render(keep)) > budget:
        keep = keep // 2 if estimate_tokens(block.render(keep // 2)) > budget else keep - 1
    return keep


def _slot_order(slot: str) -> tuple[str, int]:
    match = _SLOT.match(slot)
    return (match.group(1).upper(), int(match.group(2))) if match else (slot, 0)


def _slot_xml(slot: Mapping[str, Any]) -> str:
    attrs = [f"id={quoteattr(str(slot.get('slot', '')))}"]
    for key, attr in (("sku", "sku"), ("price", "price"), ("capacity", "cap"), ("sales_per_day", "rate")):
        value = slot.get(key)
        if value is not None:
            attrs.append(f"{attr}={quoteattr(_fmt(value))}")
    name = slot.get("name")
    if not slot.get("sku"):
        return f'<slot {" ".join(attrs)} empty="1"/>'
    inner = _escape(str(name)) if name else ""
    return f"<slot {' '.join(attrs)}>{inner}</slot>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, Mapping):
        return {str(k): _round(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value).timestamp()
    return 0.0
