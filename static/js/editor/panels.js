// Analysis tabs: revenue of the editor state, heat zones, affinity pairs, demand forecast (each loads on demand),
// and the backtest ("how far to trust the numbers", run by its own button).
import { api } from "../api.js";
import { el, headRow, money, number, signClass, signedMoney } from "./format.js";
import { forecastChart } from "./chart.js";
import { BacktestPanel } from "./backtest.js";

export class Panels {
  constructor({ tablist, deviceId, products, device, state, onHeat }) {
    Object.assign(this, { deviceId, products, device, state, onHeat });
    this.tabs = [...tablist.querySelectorAll('[role="tab"]')];
    this.loaded = new Set();
    this.heat = null;
    this.revenue = null;
    this.order = new Map(device.slots.map((s) => [s.slot, s.row * 1000 + s.column]));
    for (const tab of this.tabs) tab.addEventListener("click", () => this.open(tab));
    tablist.addEventListener("keydown", (event) => {
      const i = this.tabs.indexOf(document.activeElement);
      if (i < 0 || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
      event.preventDefault();
      const n = this.tabs.length;
      const next = { ArrowLeft: (i - 1 + n) % n, ArrowRight: (i + 1) % n, Home: 0, End: n - 1 }[event.key];
      this.open(this.tabs[next]);
      this.tabs[next].focus();
    });
  }

  panel(name) {
    return document.getElementById(`panel-${name}`);
  }

  name(sku) {
    return this.products.get(sku)?.name ?? sku;
  }

  open(tab) {
    for (const t of this.tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
    }
    const name = tab.id.replace("tab-", "");
    if (!this.loaded.has(name)) {
      this.loaded.add(name);
      this.load(name);
    }
  }

  async load(name) {
    const target = this.panel(name);
    if (name === "revenue" || name === "history") return;
    if (name === "backtest") {
      new BacktestPanel(target, { deviceId: this.deviceId, post: (path, json) => this.post(path, json) }).render();
      return;
    }
    target.replaceChildren(el("p", { class: "hint", text: "Loading…" }));
    try {
      if (name === "heat") this.renderHeat(await this.loadHeat());
      else if (name === "affinity") this.renderAffinity(await this.loadAffinity());
      else if (name === "forecast") this.renderForecast(await this.post("demand-forecast", { device_id: this.deviceId, horizon_days: 14 }));
    } catch (error) {
      this.loaded.delete(name);
      target.replaceChildren(el("p", { class: "error", text: `Could not load: ${error.message}` }));
    }
  }

  post(path, json) {
    return api(`/api/planogram/${path}`, { method: "POST", json });
  }

  async loadHeat() {
    this.heat ??= await this.post("heat-zone-analysis", { device_id: this.deviceId });
    return this.heat;
  }

  // --- revenue of the editor state (fed by the scoring module's totals) ---
  renderRevenue(r) {
    this.revenue = r;
    const ci = (pair) => (pair ? `${money(pair[0])} – ${money(pair[1])}` : "");
    const summary = el("table", { class: "grid-table compact" },
      el("thead", {}, headRow("", ["Editor state"], ["90 % interval"], ["Saved version"], ["Change"], ["Change interval"])),
      el("tbody", {},
        el("tr", {}, el("th", { text: "Revenue / day" }), el("td", { class: "num", text: money(r.revenue_per_day) }),
          el("td", { class: "num", text: ci(r.revenue_interval) }), el("td", { class: "num", text: money(r.current_revenue_per_day) }),
          el("td", { class: `num ${signClass(r.delta_revenue_per_day)}`, text: signedMoney(r.delta_revenue_per_day) }),
          el("td", { class: "num", text: ci(r.delta_revenue_interval) })),
        el("tr", {}, el("th", { text: "Margin / day" }), el("td", { class: "num", text: money(r.margin_per_day) }),
          el("td", { class: "num", text: ci(r.margin_interval) }), el("td", { class: "num", text: money(r.current_margin_per_day) }),
          el("td", { class: `num ${signClass(r.delta_margin_per_day)}`, text: signedMoney(r.delta_margin_per_day) }),
          el("td", { class: "num", text: ci(r.delta_margin_interval) }))));
    const rows = [...r.per_slot].sort((a, b) => (this.order.get(a.slot) ?? 0) - (this.order.get(b.slot) ?? 0));
    const detail = el("table", { class: "grid-table compact per-slot" },
      el("thead", {}, headRow("Slot", "Product", ["Units / day"], ["Revenue / day"], ["Margin / day"])),
      el("tbody", {}, rows.map((s) => el("tr", {},
        el("td", { text: s.slot }), el("td", { text: this.name(s.sku) }),
        el("td", { class: "num", text: number(s.units_per_day, 2) }),
        el("td", { class: "num", text: money(s.revenue_per_day) }), el("td", { class: "num", text: money(s.margin_per_day) })))));
    this.panel("revenue").replaceChildren(summary, el("h3", { text: "Per slot (editor state)" }), el("div", { class: "scroll" }, detail));
  }

  // --- heat zones ---
  renderHeat(h) {
    const head = el("tr", {}, el("th", { text: "" }), h.col_labels.map((c) => el("th", { class: "num", text: String(c) })), el("th", { class: "num", text: "row" }));
    const body = h.weights.map((row, r) => el("tr", {}, el("th", { text: h.row_labels[r] }),
      row.map((w, c) => el("td", { class: `num heat-cell conf-${h.confidence[r][c]}`, style: { background: heatColour(w) },
        title: `${h.row_labels[r]}${h.col_labels[c]}: ${number(w, 2)} (${number(h.lower[r][c], 2)}–${number(h.upper[r][c], 2)}, ${h.confidence[r][c]} confidence, ${h.observed_slot_days[r][c]} slot-days)`,
        text: number(w, 2) })),
      el("td", { class: "num", text: number(h.row_weights[r], 2) })));
    const foot = el("tr", {}, el("th", { text: "column" }), h.col_weights.map((w) => el("td", { class: "num", text: number(w, 2) })), el("td"));
    this.panel("heat").replaceChildren(
      el("p", { class: "hint", text: "Position weight = demand multiplier of a slot against the cabinet mean (1.00), learned from this machine's sales. " +
        "Pale cells have low confidence. Turn on “Heat zones” above the cabinet to overlay them on the grid." }),
      el("table", { class: "grid-table compact heat-table" }, el("thead", {}, head), el("tbody", {}, body, foot)));
  }

  // --- affinity: this machine first, the fleet when it has too few multi-item baskets ---
  async loadAffinity() {
    const own = await this.post("affinity-analysis", { device_id: this.deviceId, min_count: 3, min_lift: 1.2 });
    if (own.pairs.length) return { ...own, scope: "this machine" };
    const fleet = await this.post("affinity-analysis", { min_count: 5, min_lift: 1.5 });
    return { ...fleet, scope: `the whole fleet (this machine has ${own.n_multi_item_baskets} multi-item baskets, too few on its own)` };
  }

  renderAffinity(a) {
    const where = (sku) => this.state.codes.filter((c) => this.state.get(c) === sku);
    const rows = a.pairs.map((p) => {
      const sa = where(p.sku_a);
      const sb = where(p.sku_b);
      return el("tr", {},
        el("td", { text: this.name(p.sku_a) }), el("td", { text: this.name(p.sku_b) }),
        el("td", { class: "num", text: String(p.count) }), el("td", { class: "num", text: number(p.lift, 1) }),
        el("td", { class: "num", text: `${number(100 * p.confidence_ab, 0)} % / ${number(100 * p.confidence_ba, 0)} %` }),
        el("td", { text: sa.length && sb.length ? `${sa.join(" ")} · ${sb.join(" ")}` : sa.length || sb.length ? "only one stocked" : "neither stocked" }));
    });
    this.panel("affinity").replaceChildren(
      el("p", { class: "hint", text: `Products bought together, from ${a.n_baskets} baskets of ${a.scope}. Lift > 1: together more often than chance.` }),
      rows.length ? el("table", { class: "grid-table compact", id: "affinity-table" },
        el("thead", {}, headRow("Product", "Bought with", ["Baskets"], ["Lift"], ["Confidence A→B / B→A"], "Slots now")),
        el("tbody", {}, rows)) : el("p", { class: "empty", text: "No product pairs are bought together more than chance." }));
  }

  // --- demand forecast and restock list (saved planogram) ---
  renderForecast(f) {
    const stock = new Map(f.per_sku.map((s) => [s.sku, s]));
    const horizon = f.days.length;
    const rows = f.restock.map((r) => {
      const days = r.days_to_stockout;
      const width = days === null ? 100 : Math.min(100, (100 * days) / horizon);
      return el("tr", { class: r.urgent ? "urgent" : "" },
        el("td", { text: this.name(r.sku) }), el("td", { text: r.slots.join(" ") }),
        el("td", { class: "num", text: number(stock.get(r.sku)?.stock_now ?? null, 0) }),
        el("td", { class: "bar-cell" }, el("span", { class: `bar ${r.urgent ? "urgent" : ""}`, style: { width: `${width}%` } }),
          el("span", { class: "bar-text", text: days === null ? `> ${horizon} days` : `${number(days, 1)} days` })),
        el("td", { class: "num", text: String(r.units) }),
        el("td", {}, r.urgent ? el("span", { class: "badge urgent", text: "before next visit" }) : null));
    });
    const canvas = el("canvas", { id: "forecast-chart", role: "img", "aria-label": "Daily demand against expected sales over the forecast horizon" });
    this.panel("forecast").replaceChildren(
      el("p", { class: "hint", text: `Next ${horizon} days for the saved planogram. Expected sales fall below demand when a product sells out before the next refill.` }),
      el("div", { class: "chart-box" }, canvas),
      el("table", { class: "grid-table compact", id: "forecast-table" },
        el("thead", {}, headRow("Product", "Slots", ["Stock"], "Days to stockout", ["Restock units"], "")),
        el("tbody", {}, rows)));
    forecastChart(canvas, f);
  }
}

function heatColour(w) {
  const t = Math.max(-1, Math.min(1, (w - 1) / 0.6));
  return t >= 0 ? `rgba(220, 60, 30, ${0.08 + 0.45 * t})` : `rgba(40, 110, 220, ${0.08 + 0.45 * -t})`;
}
