// The placement panel: score, predicted units and deltas, reasons, rule checks and AI feedback of one slot.
import { el, money, number, scoreClass, signClass, signedMoney } from "./format.js";

export class Inspector {
  constructor({ body, empty }, { products, device, state }) {
    this.body = body;
    this.empty = empty;
    this.products = products;
    this.slots = new Map(device.slots.map((s) => [s.slot, s]));
    this.state = state;
    this.slot = null;
    this.feedbackBox = null;
  }

  showSlot(slot, scored) {
    this.slot = slot;
    this.empty.hidden = true;
    this.body.hidden = false;
    const spec = this.slots.get(slot);
    const sku = this.state.get(slot);
    const p = sku ? this.products.get(sku) : null;
    const head = el("div", { class: "ins-head" },
      el("span", { class: "ins-slot", text: slot }),
      el("span", { class: "ins-name", text: p ? p.name : "Empty slot" }),
      p ? el("span", { class: "hint", text: `${p.sku} · ${p.category} · ${money(p.price)}` }) : null);
    const facts = el("p", { class: "hint", text: `${spec.width_mm}×${spec.height_mm}×${spec.depth_mm} mm · ${spec.zone} · capacity ${spec.capacity}` +
      `${this.state.locked.has(slot) ? " · locked for optimisation" : ""}` });
    const parts = [head, facts];
    if (scored && scored.sku === sku) parts.push(...this.scoreParts(scored.result, scored.context));
    else if (sku) parts.push(el("p", { class: "hint", text: "Scoring…" }));
    this.feedbackBox = el("div", { class: "feedback", hidden: true });
    parts.push(this.feedbackBox);
    this.body.replaceChildren(...parts);
  }

  scoreParts(r, context) {
    const hard = r.violations.some((v) => v.severity === "hard");
    const versus = context === "existing" ? "vs leaving the slot empty" : "vs before this drop";
    // A placement that breaks a hard rule cannot be saved: its money figures do not count, so none is shown
    // in gain colours next to a score of 0 (the would-be figures stay in the tooltip).
    const money = (label, v) => (hard ? fig(label, "not allowed", "down", `would be ${signedMoney(v)} if the rule allowed it`)
      : fig(label, signedMoney(v), signClass(v)));
    const figures = el("div", { class: "ins-figures" },
      el("span", { class: `sb big ${scoreClass(r.score, hard)}`, id: "inspector-score", text: String(r.score), title: "Placement score, 0–100" }),
      fig("Units / day", number(r.predicted_units_per_day, 2)),
      money("Revenue / day", r.delta_revenue_per_day),
      money("Margin / day", r.delta_margin_per_day),
      fig("Days of supply", r.days_of_supply ? number(r.days_of_supply, 1) : "–"));
    const note = hard ? "Breaks a hard rule: the editor will not save this planogram until it is fixed." : `Changes per day ${versus}.`;
    const out = [figures, el("p", { class: hard ? "hint down" : "hint", text: note })];
    if (r.violations.length) {
      out.push(el("ul", { class: "violations" }, r.violations.map((v) =>
        el("li", { class: v.severity }, el("strong", { text: v.severity === "hard" ? "Breaks a rule: " : "Warning: " }), v.message))));
    }
    if (r.reasons.length) {
      out.push(el("ul", { class: "reasons" }, r.reasons.map((x) =>
        el("li", { class: hard && x.kind === "value" ? "void" : "" }, el("span", { class: "kind", text: x.kind }),
          hard && x.kind === "value" ? `not counted (breaks a rule): ${x.message}` : x.message))));
    }
    return out;
  }

  showFeedback({ slot, pending, hidden, result }) {
    if (slot !== this.slot || !this.feedbackBox) return;
    const box = this.feedbackBox;
    if (hidden) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    if (pending) {
      box.replaceChildren(el("h3", { text: "Placement feedback" }), el("p", { class: "hint", text: "Writing…" }));
      return;
    }
    const why = { no_provider: "no AI provider", budget: "AI budget used up", provider_error: "AI provider error",
      output_failed_checks: "AI answer failed the checks" }[result.fallback_reason];
    const label = result.fallback_used ? `rule-based${why ? ` · ${why}` : ""}`
      : `${result.model ?? "AI"}${result.cached ? " · cached" : ""}`;
    box.replaceChildren(el("h3", {}, "Placement feedback ", el("span", { class: `badge ${result.fallback_used ? "rule" : "ai"}`, text: label })),
      el("p", { text: result.feedback }));
  }
}

function fig(label, value, cls = "", title = null) {
  return el("span", { class: "fig", title }, el("span", { class: "k", text: label }), el("span", { class: `v ${cls}`, text: value }));
}
