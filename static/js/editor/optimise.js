// Progressive optimisation: POST the stream, animate each step on the grid, stream the explanation, and resume
// the same job after a reload (job id + last event id in sessionStorage). Accept saves, Discard restores.
import { api, ApiError } from "../api.js";
import { readEventStream } from "./sse.js";
import { el, money, signedMoney } from "./format.js";

const TERMINAL = new Set(["done", "error", "cancelled"]);
const EVENTS = ["queued", "started", "progress", "explanation", "done", "error", "cancelled"];

export class Optimiser {
  constructor({ deviceId, state, grid, ui, providerConfigured, announce, setEditing, save, budget, products }) {
    Object.assign(this, { deviceId, state, grid, ui, providerConfigured, announce, setEditing, save, budget, products });
    this.key = `planogram-editor:${deviceId}:optimisation`;
    this.run = null;
    this.source = null;
    this.shown = 0;
    ui.start.addEventListener("click", () => this.start());
    ui.cancel.addEventListener("click", () => this.cancel());
    ui.accept.addEventListener("click", () => this.accept());
    ui.discard.addEventListener("click", () => this.discard());
    ui.sheetForm.addEventListener("submit", () => { ui.sheetProposal.value = JSON.stringify(this.state.snapshot()); });
  }

  get phase() {
    return this.run?.phase ?? "idle";
  }

  persist() {
    if (this.run) sessionStorage.setItem(this.key, JSON.stringify(this.run));
    else sessionStorage.removeItem(this.key);
  }

  async start() {
    if (this.run) return;
    this.shown = 0;
    const dirty = this.state.dirtySlots().length;
    this.run = {
      phase: "running", job_id: null, last_event_id: null, seen: [], objective_name: this.ui.objective.value,
      base_objective: null, objective: null, step: 0, progress_count: 0, explanation: "", fallback: null,
      planogram: null, result: null, message: "Starting…", changes: null, request: this.budget.request(),
      pre: { mapping: this.state.snapshot(), history: this.state.takeHistory() },
    };
    this.render();
    if (dirty) this.announce(`Optimising from saved version ${this.state.version}; your ${dirty} unsaved change(s) come back with Discard.`);
    let response;
    try {
      response = await fetch("/api/planogram/stream-optimization", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRFToken": csrf() },
        body: JSON.stringify({ device_id: this.deviceId, objective: this.run.objective_name, locked_slots: [...this.state.locked],
          ...this.run.request }),
      });
    } catch (error) {
      return this.fail(`Could not start the optimisation: ${error.message}`);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      return this.fail(new ApiError(response.status, body).message);
    }
    try {
      await readEventStream(response, (ev) => this.handle(ev));
    } catch {
      /* connection dropped: resume below */
    }
    if (this.run?.phase === "running" && this.run.job_id) this.resume();
    else if (this.run?.phase === "running") this.fail("The optimisation stream closed before it started.");
  }

  // Reconnect to a running job (after a reload or a dropped stream); EventSource re-sends Last-Event-ID itself.
  resume() {
    const run = this.run;
    const query = run.last_event_id ? `?last_event_id=${encodeURIComponent(run.last_event_id)}` : "";
    this.source?.close();
    const source = new EventSource(`/api/planogram/optimizations/${encodeURIComponent(run.job_id)}/events${query}`);
    this.source = source;
    for (const type of EVENTS) {
      source.addEventListener(type, (e) => {
        if (type === "error" && !(e instanceof MessageEvent && e.data)) return this.connectionError(source);
        this.handle({ id: e.lastEventId, event: type, data: e.data });
        return undefined;
      });
    }
  }

  connectionError(source) {
    if (source.readyState === EventSource.CLOSED && this.run?.phase === "running") {
      this.fail("Lost the optimisation stream and could not reconnect; the job may have expired.");
    }
  }

  handle({ id, event, data }) {
    const run = this.run;
    if (!run) return;
    if (id && run.seen.includes(id)) return; // replayed after a reconnect
    if (id) {
      run.seen.push(id);
      run.last_event_id = id;
    }
    const d = data ? JSON.parse(data) : {};
    if (event === "queued") {
      run.job_id = d.job_id; // from here on a dropped stream can resume the job
      run.message = d.position > 1 ? `Queued: ${d.position - 1} optimisation(s) ahead of this one…`
        : "Preparing the demand model…";
    } else if (event === "started") {
      run.job_id = d.job_id;
      run.base_objective = d.current_objective;
      run.objective = d.current_objective;
      run.planogram = d.current_planogram;
      run.message = "Searching for a better planogram…";
      this.state.replace(d.current_planogram, "optimise");
    } else if (event === "progress") {
      run.step = d.step;
      run.progress_count += 1;
      run.objective = d.objective;
      run.planogram = d.planogram;
      run.message = `Step ${d.step}: ${d.moves.map((m) => m.slot).join(", ")} changed`;
      this.state.replace(d.planogram, "optimise");
      this.grid.flash(d.moves.map((m) => m.slot));
    } else if (event === "explanation") {
      // AI prose followed by the rule-based text means the AI answer was rejected: never show it as the explanation.
      if (d.fallback_used && run.fallback === false) run.explanation = d.delta.replace(/^\s+/, "");
      else run.explanation += d.delta;
      run.fallback = d.fallback_used;
    } else if (event === "done") {
      Object.assign(run, { phase: "review", objective: d.objective, planogram: d.planogram, result: d,
        changes: (d.changes ?? []).map((c) => ({ ...c, dropped: false })) });
      run.base_objective = d.current_objective;
      run.fallback = d.explanation_fallback_used ?? run.fallback;
      run.fallbackReason = d.explanation_fallback_reason ?? null;
      run.errorKind = d.explanation_error_kind ?? null;
      run.model = d.explanation_model ?? null;
      run.message = `Done: ${d.slots_changed} slot(s) changed, ${signedMoney(d.uplift_per_day)}/day ` +
        `(${fmtPct(d.uplift_pct)}). Accept saves it as a new version; Discard restores your planogram.`;
      this.state.replace(d.planogram, "optimise");
      this.announce(run.message);
    } else if (event === "cancelled") {
      run.phase = run.progress_count ? "review" : "idle";
      run.message = run.progress_count ? `Cancelled at step ${d.step}. Accept keeps the partial result; Discard restores.`
        : "Cancelled before any improvement.";
      this.announce(run.message);
      if (run.phase === "idle") return this.finish(true);
    } else if (event === "error") {
      return this.fail(d.message ?? "The optimisation failed.");
    }
    if (TERMINAL.has(event)) this.closeSource();
    this.persist();
    this.render();
    return undefined;
  }

  async cancel() {
    if (this.phase !== "running" || !this.run.job_id) return;
    this.run.message = "Cancelling…";
    this.render();
    try {
      await api(`/api/planogram/optimizations/${encodeURIComponent(this.run.job_id)}/cancel`, { method: "POST" });
    } catch (error) {
      this.announce(`Cancel failed: ${error.message}`);
    }
  }

  async accept() {
    if (this.phase !== "review") return;
    const r = this.run.result;
    const kept = this.run.changes ? this.run.changes.filter((c) => !c.dropped).length : null;
    const dropped = this.run.changes && kept < this.run.changes.length ? `; ${kept} of ${this.run.changes.length} changes kept` : "";
    const note = r ? `Optimised for ${this.run.objective_name}: ${signedMoney(r.uplift_per_day)}/day (${fmtPct(r.uplift_pct)})${dropped}`
      : `Optimised for ${this.run.objective_name} (partial, cancelled at step ${this.run.step})`;
    const saved = await this.save({ source: "optimizer", note }); // success ends the run through saved()
    if (saved) this.showSheetLink(saved.version);
  }

  // After Accept: the route driver's sheet for the saved change is one click away.
  showSheetLink(version) {
    const href = `/devices/${encodeURIComponent(this.deviceId)}/visit-sheet?version=${version}`;
    this.ui.after.replaceChildren(`Saved as version ${version}. `, el("a", { href, id: "opt-sheet-link", text: "Visit sheet and pick list for this change" }));
    this.ui.after.hidden = false;
  }

  // Drop (or restore) one proposed change: its slot goes back to what it held before, the rest stays.
  toggleChange(index) {
    const run = this.run;
    const change = run?.changes?.[index];
    if (this.phase !== "review" || !change) return;
    change.dropped = !change.dropped;
    const mapping = this.state.snapshot();
    mapping[change.slot] = change.dropped ? change.from : change.to;
    run.planogram = mapping;
    this.state.replace(mapping, "optimise");
    this.announce(`${change.slot}: ${change.dropped ? "change dropped, keeps" : "change restored, gets"} ${this.name(change.dropped ? change.from : change.to)}.`);
    this.persist();
    this.render();
  }

  name(sku) {
    return sku ? this.products.get(sku)?.name ?? sku : "nothing (empty)";
  }

  renderChanges() {
    const { ui } = this;
    const run = this.run;
    ui.changes.hidden = !(run?.phase === "review" && run.changes);
    if (ui.changes.hidden) return;
    const budget = run.request?.max_changed_slots;
    const n = run.changes.length;
    const kept = run.changes.filter((c) => !c.dropped).length;
    ui.budgetNote.textContent = `${kept} of ${n} change${n === 1 ? "" : "s"} kept` +
      (budget === null || budget === undefined ? " (no limit on changed slots)." : ` (budget: ${budget} slot${budget === 1 ? "" : "s"}).`) +
      (budget !== null && budget !== undefined && n > budget ? " The optimiser went over the budget: drop the least valuable changes." : "") +
      " Dropping a change can break a rule (e.g. too many facings of one product): the Rules figure above says so, and saving waits until it is fixed.";
    ui.budgetNote.className = budget !== null && budget !== undefined && kept > budget ? "hint down" : "hint";
    ui.changeList.replaceChildren(...run.changes.map((c, i) => el("li", { class: c.dropped ? "dropped" : "", dataset: { slot: c.slot } },
      el("span", { class: "slot-code", text: c.slot }),
      el("span", { class: "what", text: `${this.name(c.from)} → ${this.name(c.to)}` }),
      el("span", { class: `val ${c.value_per_day > 0.005 ? "up" : c.value_per_day < -0.005 ? "down" : "flat"}`, text: `${signedMoney(c.value_per_day)}/day` }),
      el("button", { type: "button", class: "secondary small", text: c.dropped ? "Restore" : "Drop",
        "aria-label": `${c.dropped ? "Restore" : "Drop"} the change of ${c.slot}`, onclick: () => this.toggleChange(i) }))));
  }

  // A version was saved or loaded (Accept, or a choice in the conflict message): the result is settled.
  saved() {
    if (this.phase !== "review") return;
    this.run = null;
    this.persist();
    this.render();
  }

  discard() {
    if (this.phase !== "review") return;
    this.finish(true);
    this.announce("Optimisation discarded; your planogram is back.");
  }

  fail(message) {
    this.closeSource();
    if (!this.run) return;
    const kept = this.run.progress_count > 0 && this.run.planogram;
    this.run.message = kept ? `${message} Accept keeps the last improvement; Discard restores.` : message;
    this.run.phase = kept ? "review" : "idle";
    this.announce(this.run.message);
    if (!kept) {
      this.finish(true, message);
      return;
    }
    this.persist();
    this.render();
  }

  // Leave optimisation mode; restore the editor's own planogram and undo history when asked.
  finish(restore, message) {
    const run = this.run;
    this.closeSource();
    if (restore && run) {
      this.state.replace(run.pre.mapping, "discard");
      this.state.restoreHistory(run.pre.history);
    }
    this.run = null;
    this.persist();
    this.render(message);
  }

  closeSource() {
    this.source?.close();
    this.source = null;
  }

  // After a reload: pick the job (or its unaccepted result) up where it was.
  restore() {
    const raw = sessionStorage.getItem(this.key);
    if (!raw) return false;
    try {
      this.run = JSON.parse(raw);
    } catch {
      sessionStorage.removeItem(this.key);
      return false;
    }
    this.render(); // editing stops before the grid shows the optimiser's planogram
    if (this.run.planogram) this.state.replace(this.run.planogram, "optimise");
    if (this.run.phase === "running" && this.run.job_id) this.resume();
    else if (this.run.phase === "running") this.finish(true, "The optimisation had not started before the reload.");
    return true;
  }

  render(message) {
    const { ui } = this;
    const run = this.run;
    const phase = this.phase;
    ui.start.hidden = phase !== "idle";
    ui.objective.closest("label").hidden = phase !== "idle"; // the run's objective is in its messages
    if (ui.budgetBox && this.budget.editable) ui.budgetBox.hidden = phase !== "idle"; // the run keeps the budget it was sent
    ui.cancel.hidden = phase !== "running";
    ui.cancel.disabled = !run?.job_id;
    ui.accept.hidden = phase !== "review";
    ui.discard.hidden = phase !== "review";
    ui.run.hidden = !run && !message;
    ui.run.dataset.phase = phase;
    if (run) ui.after.hidden = true;
    this.renderChanges();
    this.setEditing(phase === "idle");
    if (!run) {
      if (message) ui.stateText.textContent = message;
      return;
    }
    ui.run.dataset.progressCount = String(run.progress_count);
    ui.step.textContent = String(run.step);
    this.tween(run.objective);
    const uplift = run.result?.uplift_per_day ?? (run.objective !== null && run.base_objective !== null ? run.objective - run.base_objective : null);
    ui.uplift.textContent = uplift === null ? "–" : signedMoney(uplift);
    ui.uplift.className = `v ${uplift > 0.005 ? "up" : ""}`;
    ui.stateText.textContent = run.message;
    ui.explanation.textContent = run.explanation;
    ui.explanation.setAttribute("aria-busy", String(phase === "running"));
    ui.explLabel.textContent = run.fallback === null ? ""
      : run.fallback ? `rule-based · ${fallbackReason(run.fallbackReason, run.errorKind, this.providerConfigured)}`
        : run.model ? `AI · ${run.model}` : "AI";
    ui.explLabel.className = `badge ${run.fallback ? "rule" : "ai"}`;
    ui.explLabel.hidden = run.fallback === null;
  }

  // The objective counter rises smoothly to each new value.
  tween(target) {
    const node = this.ui.objectiveValue;
    if (target === null || target === undefined) {
      node.textContent = "–";
      return;
    }
    const from = this.shown || target;
    const started = performance.now();
    const frame = (now) => {
      const t = Math.min(1, (now - started) / 350);
      this.shown = from + (target - from) * (1 - (1 - t) ** 3);
      node.textContent = money(this.shown);
      if (t < 1) requestAnimationFrame(frame);
    };
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(frame);
  }
}

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const fmtPct = (v) => (v === null || v === undefined ? "–" : `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)} %`);

// Why the explanation is rule-based, in words: the pipeline's reason category and error kind from `done`
// (before `done` only whether a provider exists).
function fallbackReason(reason, kind, providerConfigured) {
  if (reason === "no_provider" || (!reason && !providerConfigured)) return "no AI provider";
  if (reason === "budget") return "daily AI budget used up";
  if (reason === "output_failed_checks") return "AI answer failed the checks";
  if (reason === "prompt") return "AI prompt or setup problem";
  if (reason === "provider_error") return `AI provider error${kind ? ` (${kind.replaceAll("_", " ")})` : ""}`;
  return "AI unavailable";
}
