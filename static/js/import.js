// Import page: upload the CSVs, then show the report or every row error.
import { api, ApiError } from "./api.js";

const form = document.getElementById("import-form");
const out = document.getElementById("import-result");

const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

function renderReport(report) {
  out.replaceChildren();
  const ok = report.status === "ok";
  out.append(el("h2", ok ? "Import complete" : `Import rejected: ${report.error_count} error(s), nothing changed`,
    ok ? "ok" : "error"));
  const table = el("table", undefined, "grid-table");
  table.append(el("tr"));
  table.rows[0].append(...["File", "Rows", "Inserted", "Updated", "Unchanged", "Duplicates"].map((h) => el("th", h)));
  for (const [name, s] of Object.entries(report.files)) {
    const tr = el("tr");
    tr.append(...[name, s.rows, s.inserted, s.updated, s.unchanged, s.duplicates].map((v) => el("td", String(v))));
    table.append(tr);
  }
  out.append(table);
  // Demo data beside the operator's: say so plainly (it is kept apart; an admin can remove it).
  if (report.demo?.present) out.append(el("p", report.demo.message, "flash demo-note"));
  const list = el("ul");
  for (const e of report.errors) list.append(el("li", `${e.file} line ${e.line}, column ${e.column ?? "-"}: ${e.reason}`));
  for (const d of report.defaults) list.append(el("li", `Default used: ${d.file} ${d.column} = ${d.default} for ${d.rows} row(s) (${d.reason})`));
  for (const n of report.notes) if (n !== report.demo?.message) list.append(el("li", n));
  out.append(list);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData();
  for (const file of form.querySelector('input[type="file"]').files) data.append(file.name, file, file.name);
  out.replaceChildren(el("p", "Importing…"));
  try {
    renderReport(await api("/api/imports", { method: "POST", body: data }));
  } catch (error) {
    if (error instanceof ApiError && error.details?.files) renderReport(error.details);
    else out.replaceChildren(el("p", error.message, "error"));
  }
});
