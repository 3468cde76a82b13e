// Narrow screens: the main menu folds behind a "Menu" button so the page content starts in the first screen.
(() => {
  const button = document.querySelector(".menu-toggle");
  const bar = button?.closest(".topbar");
  if (!button || !bar) return;
  button.addEventListener("click", () => {
    const open = !bar.classList.contains("open");
    bar.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
  });
})();
