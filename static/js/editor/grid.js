// The cabinet grid: one cell per slot, widths in true proportion to slot_width_mm, tiles, badges, overlays.
import { el, categoryColour, money, number, rowLabel, scoreClass } from "./format.js";

export class Grid {
  constructor(root, { device, products, state }) {
    this.root = root;
    this.products = products;
    this.state = state;
    this.slots = new Map(device.slots.map((s) => [s.slot, s]));
    this.rows = [];
    this.cells = new Map();
    this.scores = new Map(); // slot -> {sku, result} from the last realtime score of that slot
    this.violations = new Map(); // slot -> [violation] from the last rule check of the whole state
    this.heat = null;
    this.active = device.slots[0]?.slot;
    this.selected = null;
    this.picked = null;
    this.dragging = false;
    this.pending = new Set();
    this.build(device.slots);
  }

  build(slots) {
    const byRow = new Map();
    for (const s of slots) {
      if (!byRow.has(s.row)) byRow.set(s.row, []);
      byRow.get(s.row).push(s);
    }
    const rows = [...byRow.keys()].sort((a, b) => a - b).map((r) => byRow.get(r).sort((a, b) => a.column - b.column));
    const widest = Math.max(...rows.map((r) => r.reduce((sum, s) => sum + s.width_mm, 0)));
    this.rows = rows.map((r) => r.map((s) => s.slot));
    const rowEls = rows.map((r, i) => {
      const total = r.reduce((sum, s) => sum + s.width_mm, 0);
      const shelf = el("div", { class: "ed-shelf", role: "row", style: { width: `${(100 * total) / widest}%` } });
      shelf.append(el("span", { class: "shelf-label", "aria-hidden": "true", text: rowLabel(r[0]?.row ?? i) }));
      for (const s of r) {
        const cell = el("div", {
          class: `cell zone-${s.zone}`, role: "gridcell", tabindex: s.slot === this.active ? "0" : "-1",
          dataset: { slot: s.slot }, style: { flexGrow: String(s.width_mm) },
        });
        this.cells.set(s.slot, cell);
        shelf.append(cell);
      }
      return shelf;
    });
    this.root.replaceChildren(...rowEls);
    this.renderAll();
  }

  capacityOf(slot, sku) {
    const st = this.state;
    if (sku && st.saved.get(slot) === sku && st.savedCapacity.has(slot)) return st.savedCapacity.get(slot);
    return this.slots.get(slot).capacity;
  }

  tile(slot, sku) {
    const p = this.products.get(sku);
    const colour = categoryColour(p?.category);
    const name = p?.name ?? sku;
    const capacity = this.capacityOf(slot, sku);
    const title = p
      ? `${p.name} (${p.sku}) · ${p.category} · ${money(p.price)}, margin ${money(p.margin)} · ` +
        `${p.width_mm}×${p.height_mm}×${p.depth_mm} mm · ${p.temperature} · capacity ${capacity}`
      : sku;
    return el("div", { class: "tile", dataset: { sku, capacity: String(capacity) }, title, style: { "--cat": colour.strong, "--cat-soft": colour.soft } },
      el("span", { class: "t-name", text: name }),
      el("span", { class: "t-meta" },
        el("span", { class: "t-price", text: p ? money(p.price) : "" }),
        el("span", { class: "t-cap", text: `×${capacity}` })));
  }

  renderAll() {
    for (const slot of this.cells.keys()) this.renderCell(slot);
  }

  setDragging(dragging) {
    this.dragging = dragging;
    if (!dragging) {
      this.pending.clear();
      this.renderAll();
    }
  }

  renderCell(slot) {
    if (this.dragging) return this.pending.add(slot); // never pull a tile from under SortableJS mid-drag
    const cell = this.cells.get(slot);
    const spec = this.slots.get(slot);
    const sku = this.state.get(slot);
    const score = this.scores.get(slot);
    const fresh = score && score.sku === sku ? score.result : null;
    const issues = (this.violations.get(slot) ?? []).filter((v) => !sku || v.sku === sku);
    const hard = issues.filter((v) => v.severity === "hard");
    const locked = this.state.locked.has(slot);
    const dirty = this.state.saved.get(slot) !== sku;
    cell.classList.toggle("empty", !sku);
    cell.classList.toggle("locked", locked);
    cell.classList.toggle("dirty", dirty);
    cell.classList.toggle("has-hard", hard.length > 0);
    cell.classList.toggle("selected", this.selected === slot);
    cell.classList.toggle("picked", this.picked?.from === slot);
    const marks = el("span", { class: "marks" });
    if (fresh) {
      const cls = scoreClass(fresh.score, fresh.violations.some((v) => v.severity === "hard"));
      marks.append(el("span", { class: `sb ${cls}`, title: `Placement score ${fresh.score} of 100`, text: String(fresh.score) }));
    }
    if (issues.length) {
      marks.append(el("span", {
        class: `vio ${hard.length ? "hard" : "soft"}`, text: String(issues.length),
        title: issues.map((v) => `${v.severity === "hard" ? "Breaks" : "Warning"}: ${v.message}`).join("\n"),
      }));
    }
    if (locked) marks.append(el("span", { class: "lock", text: "locked", title: "Locked: optimisation keeps this product here" }));
    const heat = this.heat ? this.heatMark(spec) : null;
    const capacity = sku ? this.capacityOf(slot, sku) : null;
    const tiles = cell.querySelectorAll(":scope > .tile");
    if (sku && tiles.length === 1 && tiles[0].dataset.sku === sku && tiles[0].dataset.capacity === String(capacity)) {
      // Same product: keep its tile node, so a pointer already pressed on it can still start a drag.
      cell.querySelector(":scope > .marks")?.replaceWith(marks);
      cell.querySelector(":scope > .heat")?.remove();
      if (heat) cell.append(heat);
    } else {
      const body = sku ? this.tile(slot, sku) : el("span", { class: "empty-label", text: "Empty" });
      cell.replaceChildren(...[el("span", { class: "code", text: slot }), body, marks, heat].filter(Boolean));
    }
    const product = sku ? this.products.get(sku) : null;
    const words = [`${slot}`, product ? product.name : "empty", product ? money(product.price) : null,
      sku ? `capacity ${this.capacityOf(slot, sku)}` : `${spec.width_mm} mm wide`,
      spec.zone, fresh ? `score ${fresh.score}` : null,
      issues.length ? `${issues.length} rule ${issues.length === 1 ? "issue" : "issues"}` : null,
      locked ? "locked" : null, dirty ? "changed" : null];
    cell.setAttribute("aria-label", words.filter(Boolean).join(", "));
    cell.title = `${slot} · ${spec.width_mm}×${spec.height_mm}×${spec.depth_mm} mm · ${spec.zone} · slot capacity ${spec.capacity}`;
  }

  heatMark(spec) {
    const w = this.heat.weights?.[spec.row]?.[spec.column];
    if (w === undefined || w === null) return el("span", { class: "heat" });
    // Weight 1 is the cabinet mean: warmer above, cooler below (clamped at ±60 %).
    const t = Math.max(-1, Math.min(1, (w - 1) / 0.6));
    const colour = t >= 0 ? `rgba(220, 60, 30, ${0.12 + 0.4 * t})` : `rgba(40, 110, 220, ${0.12 + 0.4 * -t})`;
    const conf = this.heat.confidence?.[spec.row]?.[spec.column] ?? "";
    return el("span", { class: "heat", style: { background: colour }, title: `Position weight ${number(w, 2)} (${conf} confidence)` },
      el("span", { class: "heat-w", text: number(w, 2) }));
  }

  setScore(slot, sku, result, context) {
    this.scores.set(slot, { sku, result, context });
    this.renderCell(slot);
  }

  setViolations(list) {
    const before = new Set(this.violations.keys());
    this.violations = new Map();
    for (const v of list) {
      if (!v.slot) continue;
      if (!this.violations.has(v.slot)) this.violations.set(v.slot, []);
      this.violations.get(v.slot).push(v);
    }
    for (const slot of new Set([...before, ...this.violations.keys()])) if (this.cells.has(slot)) this.renderCell(slot);
  }

  setHeat(heat) {
    this.heat = heat;
    this.root.classList.toggle("heat-on", Boolean(heat));
    this.renderAll();
  }

  flash(slots) {
    for (const slot of slots) {
      const cell = this.cells.get(slot);
      if (!cell) continue;
      cell.classList.remove("moved");
      void cell.offsetWidth; // restart the CSS animation
      cell.classList.add("moved");
    }
  }

  select(slot) {
    const previous = this.selected;
    this.selected = slot;
    for (const s of [previous, slot]) if (s && this.cells.has(s)) this.renderCell(s);
  }

  setPicked(picked) {
    const previous = this.picked?.from;
    this.picked = picked;
    for (const s of [previous, picked?.from]) if (s && this.cells.has(s)) this.renderCell(s);
    this.root.classList.toggle("picking", Boolean(picked));
  }

  focusSlot(slot) {
    const cell = this.cells.get(slot);
    if (!cell) return;
    this.cells.get(this.active)?.setAttribute("tabindex", "-1");
    this.active = slot;
    cell.setAttribute("tabindex", "0");
    cell.focus();
  }

  // The slot next to `slot` in a direction; up/down keep the nearest column.
  neighbour(slot, key) {
    const r = this.rows.findIndex((row) => row.includes(slot));
    const c = this.rows[r].indexOf(slot);
    const row = this.rows[r];
    if (key === "ArrowLeft") return row[Math.max(0, c - 1)];
    if (key === "ArrowRight") return row[Math.min(row.length - 1, c + 1)];
    if (key === "Home") return row[0];
    if (key === "End") return row[row.length - 1];
    const target = this.rows[key === "ArrowUp" ? Math.max(0, r - 1) : Math.min(this.rows.length - 1, r + 1)];
    return target[Math.min(target.length - 1, c)];
  }

  setEnabled(enabled) {
    this.root.classList.toggle("readonly", !enabled);
  }
}
