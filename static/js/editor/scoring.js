// Realtime scoring of drops, running totals and rule checks of the unsaved state, optional AI feedback.
import { api } from "../api.js";

const REFRESH_DELAY_MS = 200;

export class Scoring extends EventTarget {
  constructor({ deviceId, grid, state, aiEnabled }) {
    super();
    this.deviceId = deviceId;
    this.grid = grid;
    this.state = state;
    this.aiEnabled = aiEnabled;
    this.scoreSeq = new Map(); // slot -> sequence number of its newest score request
    this.refreshSeq = 0;
    this.timer = null;
    this.feedbackSeq = 0;
    this.inflight = 0;
  }

  // Count requests in flight so the page can say "updating" (and tests can wait for quiet).
  async call(path, json) {
    this.inflight += 1;
    this.emit("busy", { busy: true });
    try {
      return await api(path, { method: "POST", json });
    } finally {
      this.inflight -= 1;
      if (!this.inflight) this.emit("busy", { busy: false });
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // Score `sku` landing in `slot` against `before` (the state just before it landed).
  async score(slot, sku, before, context = "drop") {
    const seq = (this.scoreSeq.get(slot) ?? 0) + 1;
    this.scoreSeq.set(slot, seq);
    this.emit("scoring", { slot, sku, context });
    try {
      const result = await this.call("/api/planogram/realtime-score", { device_id: this.deviceId, sku, slot, planogram: before });
      if (this.scoreSeq.get(slot) !== seq) return null;
      this.grid.setScore(slot, sku, result, context);
      this.emit("scored", { slot, sku, result, context });
      if (context === "drop") this.feedback(slot, sku, before);
      return result;
    } catch (error) {
      if (this.scoreSeq.get(slot) === seq) this.emit("error", { slot, error, what: "score" });
      return null;
    }
  }

  // Score what already stands in a slot, compared with leaving it empty.
  scoreExisting(slot) {
    const sku = this.state.get(slot);
    if (!sku) return null;
    return this.score(slot, sku, { ...this.state.snapshot(), [slot]: null }, "existing");
  }

  // AI comment on the last drop: after the score, never blocking it, only when a provider is configured.
  async feedback(slot, sku, before) {
    if (!this.aiEnabled) return;
    const seq = ++this.feedbackSeq;
    this.emit("feedback", { slot, sku, pending: true });
    try {
      const result = await api("/api/planogram/placement-feedback", {
        method: "POST", json: { device_id: this.deviceId, sku, slot, planogram: before },
      }); // not counted as busy: AI text may take seconds and never blocks the editor
      if (seq !== this.feedbackSeq) return;
      if (!result.provider_configured) {
        this.aiEnabled = false;
        this.emit("feedback", { slot, sku, hidden: true });
        return;
      }
      this.emit("feedback", { slot, sku, result });
    } catch {
      if (seq === this.feedbackSeq) this.emit("feedback", { slot, sku, hidden: true });
    }
  }

  // Debounced: predicted totals and every rule check of the whole unsaved state.
  refreshSoon() {
    clearTimeout(this.timer);
    if (!this.timer) this.inflight += 1; // a pending refresh counts as busy
    this.emit("busy", { busy: true });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inflight -= 1;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  async refresh() {
    const seq = ++this.refreshSeq;
    const planogram = this.state.snapshot();
    const body = { device_id: this.deviceId, planogram };
    try {
      const [revenue, rules] = await Promise.all([
        this.call("/api/planogram/predict-revenue", body),
        this.call("/api/planogram/validate-constraints", body),
      ]);
      if (seq !== this.refreshSeq) return;
      this.grid.setViolations(rules.violations);
      this.emit("totals", { revenue, rules });
    } catch (error) {
      if (seq === this.refreshSeq) this.emit("error", { error, what: "totals" });
    }
  }
}
