// Visit sheet pages: the print button opens the browser's print dialog (which also saves a PDF).
for (const button of document.querySelectorAll("[data-print]")) button.addEventListener("click", () => window.print());
