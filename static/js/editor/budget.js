// Change budget and product rules sent with an optimisation: changed slots and new products at most,
// must-stock products and min/max facings per product.
import { el } from "./format.js";

export class Budget {
  constructor({ products, ui, editable = true }) {
    Object.assign(this, { products, ui, editable });
    this.rules = new Map(); // sku -> {must, min, max}
    this.bySearch = new Map();
    for (const p of products.values()) {
      const label = `${p.name} (${p.sku})`;
      this.bySearch.set(label.toLowerCase(), p.sku);
      this.bySearch.set(p.sku.toLowerCase(), p.sku);
      ui.datalist.append(el("option", { value: label }));
    }
    ui.add.addEventListener("click", () => this.addRule());
    for (const input of [ui.slots, ui.newSkus]) input.addEventListener("input", () => this.summarise());
    this.summarise();
  }

  limit(input) {
    const raw = input.value.trim();
    if (raw === "") return null; // no limit
    const n = Number.parseInt(raw, 10);
    return Number.isFinite(n) && n >= 0 ? n : null;
  }

  get maxChangedSlots() {
    return this.limit(this.ui.slots);
  }

  addRule() {
    const { product, min, max, must, status } = this.ui;
    const sku = this.bySearch.get(product.value.trim().toLowerCase());
    if (!sku) {
      status(`Pick a product from the list (name or sku).`);
      return;
    }
    const lo = min.value === "" ? null : Number(min.value);
    const hi = max.value === "" ? null : Number(max.value);
    if (lo !== null && hi !== null && lo > hi) {
      status("Min facings cannot be above max facings.");
      return;
    }
    if (lo === null && hi === null && !must.checked) {
      status("Set min or max facings, or tick “must stay stocked”.");
      return;
    }
    this.rules.set(sku, { must: must.checked, min: lo, max: hi });
    product.value = "";
    min.value = "";
    max.value = "";
    must.checked = false;
    this.render();
  }

  render() {
    const name = (sku) => this.products.get(sku)?.name ?? sku;
    this.ui.list.replaceChildren(...[...this.rules].map(([sku, r]) => {
      const parts = [r.must ? "must stay stocked" : null, r.min !== null ? `at least ${r.min} facing(s)` : null,
        r.max !== null ? `at most ${r.max} facing(s)` : null].filter(Boolean);
      return el("li", { dataset: { sku } }, `${name(sku)}: ${parts.join(", ")} `,
        el("button", { type: "button", class: "link-button", text: "remove", "aria-label": `Remove the rule for ${name(sku)}`,
          onclick: () => { this.rules.delete(sku); this.render(); } }));
    }));
    this.summarise();
  }

  summarise() {
    const slots = this.limit(this.ui.slots);
    const fresh = this.limit(this.ui.newSkus);
    const parts = [slots === null ? "any number of slots" : `≤ ${slots} slots`, fresh === null ? null : `≤ ${fresh} new`];
    if (this.rules.size) parts.push(`${this.rules.size} rule${this.rules.size > 1 ? "s" : ""}`);
    this.ui.summary.textContent = `(${parts.filter(Boolean).join(", ")})`;
  }

  // The constraint fields of the stream request (limits always sent: an empty box means "no limit").
  request() {
    const out = { max_changed_slots: this.limit(this.ui.slots), max_new_skus: this.limit(this.ui.newSkus),
      must_stock: [], min_facings: {}, max_facings: {} };
    for (const [sku, r] of this.rules) {
      if (r.must) out.must_stock.push(sku);
      if (r.min !== null) out.min_facings[sku] = r.min;
      if (r.max !== null) out.max_facings[sku] = r.max;
    }
    return out;
  }
}
