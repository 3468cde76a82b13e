// Keyboard alternative to dragging: Enter picks up / drops, arrows move, Delete empties, Escape cancels, L locks.
const NAV_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);
const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);

export function enableKeyboard({ grid, palette, state, products, onDrop, onSelect, onLock, announce, isEnabled, undo, redo }) {
  const name = (sku) => products.get(sku)?.name ?? sku;

  function pick(picked) {
    grid.setPicked(picked);
    announce(`Picked up ${name(picked.sku)}${picked.from ? ` from ${picked.from}` : ""}. ` +
      "Arrow keys choose a slot, Enter drops it there, Escape cancels.");
  }

  function cancel() {
    const picked = grid.picked;
    if (!picked) return;
    grid.setPicked(null);
    announce("Move cancelled.");
    if (!picked.from) palette.focusSku(picked.sku);
  }

  function drop(slot) {
    const { sku, from } = grid.picked;
    grid.setPicked(null);
    onDrop({ sku, from, to: slot });
  }

  grid.root.addEventListener("keydown", (event) => {
    const cell = event.target.closest(".cell");
    if (!cell) return;
    const slot = cell.dataset.slot;
    if (NAV_KEYS.has(event.key)) {
      event.preventDefault();
      const next = grid.neighbour(slot, event.key);
      grid.focusSlot(next);
      if (grid.picked) announce(`${next}: ${state.get(next) ? name(state.get(next)) : "empty"}`);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (!isEnabled()) return announce("Editing is paused while an optimisation result is on the grid.");
      if (grid.picked) drop(slot);
      else if (state.locked.has(slot)) announce(`${slot} is locked; press L to unlock it.`);
      else if (state.get(slot)) pick({ from: slot, sku: state.get(slot) });
      else announce(`${slot} is empty: pick a product in the palette first.`);
    } else if (event.key === "Escape") {
      cancel();
    } else if ((event.key === "Delete" || event.key === "Backspace") && isEnabled() && state.get(slot)) {
      event.preventDefault();
      onDrop({ sku: state.get(slot), from: slot, to: null });
    } else if ((event.key === "l" || event.key === "L") && !event.ctrlKey && !event.metaKey) {
      onLock(slot);
    }
  });

  grid.root.addEventListener("focusin", (event) => {
    const cell = event.target.closest(".cell");
    if (cell) {
      grid.active = cell.dataset.slot;
      onSelect(cell.dataset.slot);
    }
  });

  grid.root.addEventListener("click", (event) => {
    const cell = event.target.closest(".cell");
    if (!cell) return;
    if (grid.picked && isEnabled()) drop(cell.dataset.slot);
    grid.focusSlot(cell.dataset.slot);
  });

  palette.onPick = (sku) => {
    if (!isEnabled()) return;
    pick({ from: null, sku });
    const target = grid.selected ?? state.codes.find((c) => !state.get(c)) ?? grid.active;
    grid.focusSlot(target);
  };

  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || TYPING.has(event.target.tagName)) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) {
      event.preventDefault();
      undo();
    } else if ((key === "z" && event.shiftKey) || key === "y") {
      event.preventDefault();
      redo();
    }
  });
}
