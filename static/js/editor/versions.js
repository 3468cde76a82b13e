// Saving (optimistic lock: a stale base version is a 409), version history, diffs and rollback.
import { api, ApiError } from "../api.js";
import { el, headRow } from "./format.js";

export class Versions {
  constructor({ deviceId, state, products, panel, alert, announce, canEdit, isEditing, onSaved }) {
    Object.assign(this, { deviceId, state, products, panel, alert, announce, canEdit, isEditing, onSaved });
    this.base = `/api/devices/${encodeURIComponent(deviceId)}/planogram`;
    this.items = [];
  }

  name(sku) {
    return sku ? this.products.get(sku)?.name ?? sku : "empty";
  }

  label(item) {
    return item ? `${this.name(item.sku)} ×${item.capacity}` : "empty";
  }

  clearAlert() {
    this.alert.hidden = true;
    this.alert.replaceChildren();
  }

  showAlert(kind, ...children) {
    this.alert.className = `alert ${kind}`;
    this.alert.replaceChildren(...children);
    this.alert.hidden = false;
  }

  // Save the editor state as a new version; returns the saved version or null (the alert says why).
  async save({ source = "editor", note = null, baseVersion = this.state.version } = {}) {
    this.clearAlert();
    try {
      const saved = await api(this.base, {
        method: "POST", json: { base_version: baseVersion, slots: this.state.toSave(), note: note || null, source },
      });
      this.state.markSaved(saved.version, saved.slots);
      this.announce(`Saved as version ${saved.version}.`);
      this.onSaved(saved);
      await this.load();
      return saved;
    } catch (error) {
      this.reportSaveError(error, { source, note });
      return null;
    }
  }

  reportSaveError(error, retry) {
    if (!(error instanceof ApiError)) {
      this.showAlert("error", el("p", { text: `Could not save: ${error.message}` }));
    } else if (error.status === 409) {
      const now = error.details?.current_version;
      const base = error.details?.base_version ?? this.state.version;
      const theirs = el("div", { class: "their-changes", id: "their-changes" }, el("p", { class: "hint", text: "Loading what they changed…" }));
      this.showAlert("conflict",
        el("p", {}, el("strong", { text: "Not saved: someone else saved this planogram while you were editing. " }),
          `You started from version ${base}; the latest is version ${now ?? "newer"}. ` +
          "Your changes are still on the grid."),
        theirs,
        el("div", { class: "alert-actions" },
          el("button", { type: "button", class: "secondary", text: `Load version ${now ?? "latest"} (drop my changes)`, onclick: () => this.loadLatest() }),
          now ? el("button", { type: "button", text: `Save mine as version ${now + 1} anyway (overwrites theirs)`, onclick: () => this.save({ ...retry, baseVersion: now }) }) : null));
      if (now && base) this.showTheirChanges(theirs, base, now);
    } else if (error.status === 422) {
      this.showAlert("error", el("p", {}, el("strong", { text: "Not saved: " }), error.message),
        el("ul", {}, (error.details ?? []).map((d) => el("li", { text: `${(d.field ?? "").replace("slots.", "")}: ${d.reason}` }))));
    } else {
      this.showAlert("error", el("p", { text: `Not saved: ${error.message}` }));
    }
  }

  // The conflict dialog lists what the other version(s) changed, marking the slots the user changed too.
  async showTheirChanges(box, base, now) {
    try {
      const d = await api(`${this.base}/diff?from=${base}&to=${now}`);
      const mine = new Set(this.state.dirtySlots());
      box.replaceChildren(el("p", {}, el("strong", { text: `Their changes (v${base} → v${now}): ${d.changes.length} slot(s)` }),
        d.changes.some((c) => mine.has(c.slot)) ? " · marked slots were changed by you too" : ""),
      d.changes.length ? el("table", { class: "grid-table compact" },
        el("thead", {}, headRow("Slot", "Was", "They put", "You have")),
        el("tbody", {}, d.changes.map((c) => el("tr", { class: mine.has(c.slot) ? "clash" : "" },
          el("td", { text: `${c.slot}${mine.has(c.slot) ? " ⚠" : ""}` }), el("td", { text: this.label(c.from) }),
          el("td", { text: this.label(c.to) }), el("td", { text: this.name(this.state.get(c.slot)) }))))) : el("p", { class: "hint", text: "No slot changed." }));
    } catch (error) {
      box.replaceChildren(el("p", { class: "hint", text: `Could not load their changes: ${error.message}` }));
    }
  }

  async loadLatest() {
    this.clearAlert();
    const latest = await api(this.base);
    this.state.markSaved(latest.version, latest.slots);
    this.onSaved(latest);
    this.announce(`Loaded version ${latest.version}.`);
    await this.load();
  }

  async rollback(number, confirmed = false) {
    if (!this.isEditing()) {
      this.announce("Accept or discard the optimisation before rolling back.");
      return;
    }
    const dirty = this.state.dirtySlots().length;
    if (dirty && !confirmed) {
      this.showAlert("conflict", el("p", { text: `Rolling back replaces the grid: your ${dirty} unsaved change(s) will be lost.` }),
        el("div", { class: "alert-actions" },
          el("button", { type: "button", text: `Roll back to version ${number}`, onclick: () => this.rollback(number, true) }),
          el("button", { type: "button", class: "secondary", text: "Keep editing", onclick: () => this.clearAlert() })));
      return;
    }
    this.clearAlert();
    try {
      const saved = await api(`${this.base}/rollback`, { method: "POST", json: { version: number, base_version: this.state.version } });
      this.state.markSaved(saved.version, saved.slots);
      this.onSaved(saved);
      this.announce(`Rolled back: version ${saved.version} is a copy of version ${number}.`);
      await this.load();
    } catch (error) {
      this.reportSaveError(error, {});
    }
  }

  async load() {
    const data = await api(`${this.base}/versions`);
    this.items = data.items;
    this.render();
  }

  render(diff) {
    const rows = this.items.map((v) => el("tr", { class: v.status === "active" ? "active" : "" },
      el("td", { text: `v${v.version}` }),
      el("td", { text: new Date(v.created_at).toLocaleString() }),
      el("td", { text: v.source }),
      el("td", { text: v.note ?? "" }),
      el("td", { class: "num", text: String(v.slot_count) }),
      el("td", { text: v.status }),
      el("td", { class: "actions" },
        v.version > 1 ? el("button", { type: "button", class: "secondary small", text: "Diff", title: `Changes from v${v.version - 1} to v${v.version}`,
          onclick: () => this.showDiff(v.version - 1, v.version) }) : null,
        v.status !== "active" && this.canEdit ? el("button", { type: "button", class: "secondary small", text: "Roll back",
          title: `Save a copy of v${v.version} as the new version`, onclick: () => this.rollback(v.version) }) : null)));
    const table = el("table", { class: "grid-table compact", id: "history-table" },
      el("thead", {}, headRow("Version", "Saved", "Source", "Note", ["Slots"], "Status", "")),
      el("tbody", {}, rows));
    this.panel.replaceChildren(table, diff ?? el("div", { id: "diff" }));
  }

  async showDiff(from, to) {
    const d = await api(`${this.base}/diff?from=${from}&to=${to}`);
    const box = el("div", { id: "diff" }, el("h3", { text: `Changes from v${from} to v${to}: ${d.changes.length} slot(s)` }),
      d.changes.length ? el("table", { class: "grid-table compact" },
        el("thead", {}, headRow("Slot", "Before", "After")),
        el("tbody", {}, d.changes.map((c) => el("tr", {},
          el("td", { text: c.slot }), el("td", { text: this.label(c.from) }), el("td", { text: this.label(c.to) })))))
        : el("p", { class: "hint", text: "No slot changed." }));
    this.render(box);
  }
}
