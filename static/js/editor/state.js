// The editor's unsaved planogram (slot -> sku), the saved version it started from, and undo/redo.

export class EditorState extends EventTarget {
  constructor(slotCodes, saved, version) {
    super();
    this.codes = slotCodes;
    this.undoStack = [];
    this.redoStack = [];
    this.locked = new Set();
    this.markSaved(version, saved);
  }

  // saved: {slot: {sku, capacity}} as the API returns it.
  markSaved(version, saved) {
    this.version = version;
    this.saved = new Map(this.codes.map((c) => [c, saved[c]?.sku ?? null]));
    this.savedCapacity = new Map(Object.entries(saved).map(([c, v]) => [c, v.capacity]));
    this.current = new Map(this.saved);
    this.undoStack = [];
    this.redoStack = [];
    for (const slot of this.locked) if (!this.saved.get(slot)) this.locked.delete(slot);
    this.emit({ reason: "saved", slots: this.codes });
  }

  get(slot) {
    return this.current.get(slot) ?? null;
  }

  snapshot() {
    return Object.fromEntries(this.current);
  }

  // Slots for the save API: unchanged products keep their saved capacity, moved ones take the slot's.
  toSave() {
    const slots = {};
    for (const [slot, sku] of this.current) {
      if (!sku) continue;
      const keep = this.saved.get(slot) === sku && this.savedCapacity.has(slot);
      slots[slot] = keep ? { sku, capacity: this.savedCapacity.get(slot) } : sku;
    }
    return slots;
  }

  dirtySlots() {
    return this.codes.filter((c) => this.current.get(c) !== this.saved.get(c));
  }

  canUndo() {
    return this.undoStack.length > 0;
  }

  canRedo() {
    return this.redoStack.length > 0;
  }

  // The edits of putting `sku` (from a slot, or from the palette when `from` is null) into `to`.
  planMove(from, to, sku) {
    if (from === to) return [];
    const displaced = this.get(to);
    const edits = [{ slot: to, sku }];
    if (from) edits.push({ slot: from, sku: displaced }); // slot to slot: the two products swap
    return edits;
  }

  // Apply edits as one undoable step; returns the state before it (what the realtime score compares with).
  apply(edits, label) {
    if (edits.some((e) => this.locked.has(e.slot))) return null;
    const changed = edits.filter((e) => this.get(e.slot) !== e.sku);
    if (changed.length === 0) return null;
    const before = this.snapshot();
    const inverse = changed.map((e) => ({ slot: e.slot, sku: this.get(e.slot) }));
    for (const e of changed) this.current.set(e.slot, e.sku);
    this.undoStack.push({ edits: changed, inverse, label });
    this.redoStack = [];
    this.emit({ reason: "edit", slots: changed.map((e) => e.slot), label });
    return before;
  }

  undo() {
    const step = this.undoStack.pop();
    if (!step) return null;
    for (const e of step.inverse) this.current.set(e.slot, e.sku);
    this.redoStack.push(step);
    this.emit({ reason: "undo", slots: step.inverse.map((e) => e.slot), label: step.label });
    return step;
  }

  redo() {
    const step = this.redoStack.pop();
    if (!step) return null;
    for (const e of step.edits) this.current.set(e.slot, e.sku);
    this.undoStack.push(step);
    this.emit({ reason: "redo", slots: step.edits.map((e) => e.slot), label: step.label });
    return step;
  }

  // Replace the whole planogram outside the undo history (optimisation preview, discard, reload).
  replace(mapping, reason) {
    const slots = [];
    for (const code of this.codes) {
      const sku = mapping[code] ?? null;
      if (this.current.get(code) !== sku) slots.push(code);
      this.current.set(code, sku);
    }
    this.emit({ reason, slots });
    return slots;
  }

  // Park / restore the undo history around an optimisation run.
  takeHistory() {
    const history = { undo: this.undoStack, redo: this.redoStack };
    this.undoStack = [];
    this.redoStack = [];
    return history;
  }

  restoreHistory(history) {
    this.undoStack = history?.undo ?? [];
    this.redoStack = history?.redo ?? [];
    this.emit({ reason: "history", slots: [] });
  }

  toggleLock(slot) {
    if (this.locked.has(slot)) this.locked.delete(slot);
    else if (this.saved.get(slot) && this.get(slot) === this.saved.get(slot)) this.locked.add(slot);
    else return false;
    this.emit({ reason: "lock", slots: [slot] });
    return true;
  }

  emit(detail) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }
}
