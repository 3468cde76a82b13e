// Unsaved edits survive a reload of this tab (sessionStorage), as long as the saved version has not moved on.
export class Draft {
  constructor(deviceId) {
    this.key = `planogram-editor:${deviceId}:draft`;
  }

  store(state) {
    const dirty = state.dirtySlots();
    if (!dirty.length && !state.locked.size) return this.clear();
    sessionStorage.setItem(this.key, JSON.stringify({ version: state.version, mapping: state.snapshot(), locked: [...state.locked] }));
    return undefined;
  }

  // Put a stored draft back on the grid; returns the number of restored changes (0 when stale or absent).
  restore(state) {
    const raw = sessionStorage.getItem(this.key);
    if (!raw) return 0;
    try {
      const draft = JSON.parse(raw);
      if (draft.version !== state.version) return this.clear() ?? 0;
      for (const slot of draft.locked ?? []) state.toggleLock(slot);
      const known = Object.fromEntries(state.codes.map((c) => [c, draft.mapping[c] ?? null]));
      state.replace(known, "draft");
      return state.dirtySlots().length;
    } catch {
      return this.clear() ?? 0;
    }
  }

  clear() {
    sessionStorage.removeItem(this.key);
  }
}
