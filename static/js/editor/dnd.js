// Drag and drop with SortableJS: palette -> slot (place), slot -> slot (move or swap), slot -> palette (empty).
// SortableJS moves DOM nodes; the editor state is the truth, so after every drop the grid and palette re-render.
import Sortable from "../../vendor/sortable.esm.js";

const GROUP = "planogram";

export function enableDragAndDrop({ grid, paletteList, onDrop, onDragStart = () => {}, isEnabled }) {
  const common = {
    draggable: ".tile",
    forceFallback: true, // pointer-driven drag: same behaviour in every browser and under test automation
    fallbackOnBody: true,
    fallbackTolerance: 3,
    animation: 0,
    ghostClass: "drop-preview",
    chosenClass: "drag-chosen",
    fallbackClass: "drag-ghost",
    emptyInsertThreshold: 0,
    onStart: (evt) => {
      grid.setDragging(true);
      onDragStart(evt.item.dataset.sku);
    },
    onMove: (evt) => isEnabled() && !evt.to.classList.contains("locked"),
    onEnd: (evt) => {
      const sku = evt.item.dataset.sku;
      const from = evt.from.dataset.slot ?? null;
      const to = evt.to.dataset.slot ?? null;
      // Let SortableJS finish its own clean-up before the DOM is rebuilt from the state.
      setTimeout(() => {
        grid.setDragging(false);
        if (evt.from !== evt.to) onDrop({ sku, from, to });
        else onDrop(null);
      });
    },
  };
  const cells = [...grid.cells.values()].map((cell) =>
    Sortable.create(cell, {
      ...common,
      group: { name: GROUP, pull: () => isEnabled(), put: () => isEnabled() },
      filter: ".locked .tile",
      sort: false,
    }),
  );
  const palette = Sortable.create(paletteList, {
    ...common,
    group: { name: GROUP, pull: () => (isEnabled() ? "clone" : false), put: () => isEnabled() },
    sort: false,
  });
  return {
    setDisabled(disabled) {
      for (const s of [...cells, palette]) s.option("disabled", disabled);
    },
  };
}
