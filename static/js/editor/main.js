// Planogram editor page: wires state, grid, palette, drag and drop, keyboard, scoring, optimisation and panels.
import { EditorState } from "./state.js";
import { Grid } from "./grid.js";
import { Palette } from "./palette.js";
import { enableDragAndDrop } from "./dnd.js";
import { enableKeyboard } from "./keyboard.js";
import { Scoring } from "./scoring.js";
import { Inspector } from "./inspector.js";
import { Optimiser } from "./optimise.js";
import { Versions } from "./versions.js";
import { Panels } from "./panels.js";
import { Draft } from "./draft.js";
import { Budget } from "./budget.js";
import { watchModel } from "./model.js";
import { money, number, setCurrency, signClass, signedMoney } from "./format.js";

const $ = (id) => document.getElementById(id);
const data = JSON.parse($("editor-state").textContent);
setCurrency(data.currency);
const deviceId = data.device.device_id;
const products = new Map(data.products.map((p) => [p.sku, p]));
for (const item of Object.values(data.planogram.slots)) {
  if (!products.has(item.sku)) products.set(item.sku, { sku: item.sku, name: item.name, category: "other", price: null, margin: null });
}

const state = new EditorState(data.device.slots.map((s) => s.slot), data.planogram.slots, data.planogram.version);
const grid = new Grid($("cabinet"), { device: data.device, products, state });
const palette = new Palette({ list: $("palette-list"), search: $("palette-q"), category: $("palette-cat"), count: $("palette-count") },
  products, { onPick: () => {} });
const scoring = new Scoring({ deviceId, grid, state, aiEnabled: data.ai_provider_configured });
const inspector = new Inspector({ body: $("inspector-body"), empty: $("inspector-empty") }, { products, device: data.device, state });
const draft = new Draft(deviceId);
const name = (sku) => products.get(sku)?.name ?? sku;
let editing = true;

function announce(message) {
  $("status").textContent = message;
}

// --- edits: every drop, keyboard move and palette drop-back goes through here ---
function drop(move) {
  if (!move || !editing) return;
  const { sku, from, to } = move;
  if (to === null) {
    if (state.apply([{ slot: from, sku: null }], `empty ${from}`)) announce(`${from} emptied: ${name(sku)} is back in the palette.`);
    else announce(`${from} is locked; press L on it to unlock.`);
    return;
  }
  const edits = state.planMove(from, to, sku);
  const before = state.apply(edits, `${name(sku)} to ${to}`);
  if (!before) {
    if (state.locked.has(to) || (from && state.locked.has(from))) announce(`${state.locked.has(to) ? to : from} is locked; press L on it to unlock.`);
    return;
  }
  const swapped = edits[1]?.sku;
  announce(swapped ? `Swapped: ${name(sku)} to ${to}, ${name(swapped)} to ${from}. Scoring…` : `${name(sku)} placed in ${to}. Scoring…`);
  grid.select(to);
  inspector.showSlot(to);
  scoring.score(to, sku, before);
  if (swapped) scoring.score(from, swapped, { ...before, [to]: sku, [from]: null }, "swap");
}

function select(slot) {
  grid.select(slot);
  const scored = grid.scores.get(slot);
  const fresh = scored && scored.sku === state.get(slot) ? scored : null;
  inspector.showSlot(slot, fresh);
  if (!fresh && state.get(slot)) scoring.scoreExisting(slot);
}

function toggleLock(slot) {
  if (!editing) return;
  const wasLocked = state.locked.has(slot);
  if (state.toggleLock(slot)) announce(`${slot} ${wasLocked ? "unlocked" : "locked: optimisation keeps its product"}.`);
  else announce(`Only a slot holding its saved product can be locked (save first).`);
}

function undo() {
  if (editing && state.undo()) announce("Undone.");
}

function redo() {
  if (editing && state.redo()) announce("Redone.");
}

// --- views that follow the state ---
function updateChrome() {
  const dirty = state.dirtySlots().length;
  $("version-label").textContent = state.version ? `saved version v${state.version}` : "no saved version yet";
  $("dirty-label").textContent = dirty ? `${dirty} unsaved change${dirty > 1 ? "s" : ""}` : "no unsaved changes";
  $("dirty-label").classList.toggle("dirty-text", dirty > 0);
  $("undo").disabled = !editing || !state.canUndo();
  $("redo").disabled = !editing || !state.canRedo();
  $("save").disabled = !editing || !data.can_edit || dirty === 0;
  $("save").title = data.can_edit ? "Save the grid as a new planogram version" : "Only merchandisers and admins can save";
}

state.addEventListener("change", (event) => {
  const { slots, reason } = event.detail;
  if (reason === "saved") grid.renderAll();
  else for (const slot of slots) grid.renderCell(slot);
  palette.setPlaced(state.snapshot());
  updateChrome();
  if (editing) draft.store(state);
  if (reason !== "lock" && reason !== "history") scoring.refreshSoon();
  if (inspector.slot && (reason === "saved" || slots.includes(inspector.slot)) && reason !== "edit") select(inspector.slot);
});

scoring.addEventListener("scored", ({ detail }) => {
  if (detail.slot === inspector.slot) inspector.showSlot(detail.slot, detail);
  if (detail.context === "drop") {
    const r = detail.result;
    const hard = r.violations.find((v) => v.severity === "hard");
    const issues = r.violations.length ? `, ${r.violations.length} rule issue${r.violations.length > 1 ? "s" : ""}` : "";
    announce(hard ? `${detail.slot}: ${name(detail.sku)} breaks a rule (${hard.message}); score 0, cannot be saved like this.`
      : `${detail.slot}: ${name(detail.sku)} scores ${r.score} of 100, ${signedMoney(r.delta_margin_per_day)} margin/day${issues}.`);
  }
});
scoring.addEventListener("busy", ({ detail }) => {
  $("totals").setAttribute("aria-busy", String(detail.busy));
  document.body.dataset.busy = String(detail.busy);
});
scoring.addEventListener("feedback", ({ detail }) => inspector.showFeedback(detail));
scoring.addEventListener("error", ({ detail }) => announce(`Could not ${detail.what === "score" ? "score the drop" : "update the totals"}: ${detail.error.message}`));
scoring.addEventListener("totals", ({ detail }) => {
  const { revenue: r, rules } = detail;
  const hard = rules.violations.filter((v) => v.severity === "hard").length;
  const soft = rules.violations.length - hard;
  $("t-revenue").textContent = money(r.revenue_per_day);
  $("t-margin").textContent = money(r.margin_per_day);
  $("t-units").textContent = number(r.units_per_day, 1);
  for (const [id, delta] of [["t-revenue-delta", r.delta_revenue_per_day], ["t-margin-delta", r.delta_margin_per_day]]) {
    $(id).textContent = signedMoney(delta);
    $(id).className = `d ${signClass(delta)}`;
  }
  $("t-rules").textContent = hard ? `${hard} broken · ${soft} warnings` : `${soft} warnings`;
  $("t-rules").className = `v ${hard ? "down" : ""}`;
  $("t-note").textContent = `vs saved version v${state.version}`;
  panels.renderRevenue(r);
});

// --- saving and history ---
const versions = new Versions({
  deviceId, state, products, panel: $("panel-history"), alert: $("alert"), announce, canEdit: data.can_edit,
  isEditing: () => editing,
  onSaved: () => {
    optimiser.saved();
    draft.clear();
    panels.loaded.delete("forecast");
    if (!$("panel-forecast").hidden) panels.open($("tab-forecast"));
  },
});
$("save").addEventListener("click", async () => {
  if (await versions.save({ note: $("save-note").value.trim() })) $("save-note").value = "";
});

// --- analyses ---
const panels = new Panels({ tablist: document.querySelector('[role="tablist"]'), deviceId, products, device: data.device, state });
$("heat-toggle").addEventListener("change", async (event) => {
  if (!event.target.checked) return grid.setHeat(null);
  try {
    grid.setHeat(await panels.loadHeat());
  } catch (error) {
    event.target.checked = false;
    announce(`Could not load heat zones: ${error.message}`);
  }
  return undefined;
});

// --- optimisation ---
// Viewers (and other read-only roles) never edit: no drag, no keyboard moves, no locks; a notice says why.
function setEditing(enabled) {
  editing = enabled && data.can_edit;
  dnd.setDisabled(!editing);
  grid.setEnabled(editing);
  if (!editing) grid.setPicked(null);
  $("palette").classList.toggle("muted", !editing);
  updateChrome();
}

const dnd = enableDragAndDrop({
  grid, paletteList: $("palette-list"), isEnabled: () => editing,
  onDrop: (move) => {
    palette.dragEndedAt = Date.now();
    if (move) drop(move);
    else palette.render();
  },
});
enableKeyboard({ grid, palette, state, products, onDrop: drop, onSelect: select, onLock: toggleLock, announce, isEnabled: () => editing, undo, redo });
$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);

const budget = new Budget({
  products, editable: data.can_edit,
  ui: { slots: $("budget-slots"), newSkus: $("budget-new"), product: $("rule-product"), datalist: $("rule-products"),
    min: $("rule-min"), max: $("rule-max"), must: $("rule-must"), add: $("rule-add"), list: $("rule-list"),
    summary: $("budget-summary"), status: announce },
});
const optimiser = new Optimiser({
  deviceId, state, grid, providerConfigured: data.ai_provider_configured, announce, setEditing, budget, products,
  save: (opts) => versions.save(opts),
  ui: {
    changes: $("opt-changes"), changeList: $("opt-change-list"), budgetNote: $("opt-budget-note"), after: $("opt-after"),
    sheetForm: $("opt-sheet-form"), sheetProposal: $("opt-sheet-proposal"), budgetBox: $("opt-budget"),
    start: $("opt-start"), cancel: $("opt-cancel"), accept: $("opt-accept"), discard: $("opt-discard"), objective: $("opt-objective"),
    run: $("opt-run"), step: $("opt-step"), objectiveValue: $("opt-objective-value"), uplift: $("opt-uplift"),
    stateText: $("opt-state"), explanation: $("opt-explanation"), explLabel: $("opt-expl-label"),
  },
});
if (!data.can_edit) {
  $("opt-start").disabled = true;
  $("opt-start").title = "Only merchandisers and admins can optimise";
  $("opt-budget").hidden = true;
}
setEditing(true); // applies the role: read-only roles never get drag, keyboard moves or locks

// Leaving with unsaved edits (or an optimisation not yet accepted) asks first; the draft is also kept locally.
window.addEventListener("beforeunload", (event) => {
  if (!data.can_edit || (state.dirtySlots().length === 0 && optimiser.phase === "idle")) return;
  event.preventDefault();
  event.returnValue = "";
});

// --- start ---
const restored = draft.restore(state);
if (restored) announce(`Restored ${restored} unsaved change${restored > 1 ? "s" : ""} from before the reload.`);
palette.setPlaced(state.snapshot());
updateChrome();
if (!optimiser.restore()) scoring.refresh();
versions.load().catch((error) => announce(`Could not load the version history: ${error.message}`));
watchModel({ deviceId, ready: data.model_ready, note: $("opt-model") });
document.body.dataset.editorReady = "true";
