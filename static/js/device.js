// Device page: slot widths come from data attributes (the Content-Security-Policy forbids inline styles).
for (const slot of document.querySelectorAll(".slot[data-grow]")) {
  slot.style.flexGrow = slot.dataset.grow;
}
