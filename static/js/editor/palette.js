// Product palette: search and category filter over the catalogue; tiles are buttons (Enter picks one up).
import { el, categoryColour, money } from "./format.js";

export class Palette {
  constructor({ list, search, category, count }, products, { onPick }) {
    this.list = list;
    this.search = search;
    this.category = category;
    this.count = count;
    this.products = products;
    this.onPick = onPick;
    this.placed = new Map();
    const categories = [...new Set([...products.values()].map((p) => p.category))].sort();
    for (const c of categories) this.category.append(el("option", { value: c, text: c }));
    search.addEventListener("input", () => this.render());
    category.addEventListener("change", () => this.render());
    list.addEventListener("click", (event) => {
      const tile = event.target.closest(".tile");
      if (tile && Date.now() - (this.dragEndedAt ?? 0) > 400) this.onPick(tile.dataset.sku);
    });
  }

  // How many slots each sku holds in the editor state (shown on the tile).
  setPlaced(mapping) {
    this.placed = new Map();
    for (const sku of Object.values(mapping)) if (sku) this.placed.set(sku, (this.placed.get(sku) ?? 0) + 1);
    this.render();
  }

  matches(p) {
    const q = this.search.value.trim().toLowerCase();
    const cat = this.category.value;
    return (!cat || p.category === cat) && (!q || p.name.toLowerCase().includes(q) || p.sku.toLowerCase().includes(q));
  }

  render() {
    const shown = [...this.products.values()].filter((p) => this.matches(p));
    const groups = new Map();
    for (const p of shown) {
      if (!groups.has(p.category)) groups.set(p.category, []);
      groups.get(p.category).push(p);
    }
    const nodes = [];
    for (const [category, items] of groups) {
      const colour = categoryColour(category);
      nodes.push(el("p", { class: "cat-head", style: { "--cat": colour.strong }, text: category }));
      for (const p of items) nodes.push(this.tile(p, colour));
    }
    if (!nodes.length) nodes.push(el("p", { class: "hint", text: "No product matches this search." }));
    this.list.replaceChildren(...nodes);
    this.count.textContent = `${shown.length} of ${this.products.size} products`;
  }

  tile(p, colour) {
    const facings = this.placed.get(p.sku) ?? 0;
    return el("button", {
      type: "button", class: `tile ptile${facings ? " in-use" : ""}`, dataset: { sku: p.sku },
      style: { "--cat": colour.strong, "--cat-soft": colour.soft },
      title: `${p.name} (${p.sku}) · ${p.category} · ${money(p.price)}, margin ${money(p.margin)} · ` +
        `${p.width_mm}×${p.height_mm}×${p.depth_mm} mm · ${p.temperature}`,
      "aria-label": `${p.name}, ${money(p.price)}, ${p.temperature}${facings ? `, in ${facings} slot${facings > 1 ? "s" : ""}` : ""}`,
    },
    el("span", { class: "t-name", text: p.name }),
    el("span", { class: "t-meta" },
      el("span", { class: "t-price", text: money(p.price) }),
      el("span", { class: "t-margin", text: `margin ${money(p.margin)}` }),
      el("span", { class: `t-temp ${p.temperature}`, text: p.temperature === "chilled" ? "chilled" : "ambient" }),
      facings ? el("span", { class: "t-facings", text: `in ${facings}` }) : null));
  }

  focusSku(sku) {
    const tile = [...this.list.querySelectorAll(".tile")].find((t) => t.dataset.sku === sku);
    (tile ?? this.search).focus();
  }
}
