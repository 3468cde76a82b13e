// Import page: upload the CSVs (all or nothing, or the valid rows), or check them only; show the report with
// every rejected row (file, line, column, reason), downloadable as CSV.
import { api, ApiError } from "./api.js";

const form = document.getElementById("import-form");
const out = document.getElementById("import-result");
const checkOnly = document.getElementById("check-only");

const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

function headline(report, checked) {
  const n = report.error_count;
  const rows = `${n} rejected row error${n === 1 ? "" : "s"}`;
  if (checked) {
    if (report.status === "ok") return ["Check passed: every row is valid; nothing was changed", "ok"];
    return report.mode === "valid_rows"
      ? [`Check: ${rows}; importing the valid rows would keep the rest. Nothing was changed`, "error"]
      : [`Check: ${rows}; an all-or-nothing import would be rejected. Nothing was changed`, "error"];
  }
  if (report.status === "ok") return ["Import complete", "ok"];
  if (report.status === "partial") return [`Imported the valid rows; ${rows} listed below were not imported`, "error"];
  return [`Import rejected: ${n} error(s), nothing changed`, "error"];
}

function errorsCsv(errors) {
  const cell = (v) => `"${String(v ?? "").replaceAll('"', '""')}"`;
  const lines = [["file", "line", "column", "reason", "value"].join(",")];
  for (const e of errors) lines.push([e.file, e.line, e.column, e.reason, e.value].map(cell).join(","));
  return `${lines.join("\n")}\n`;
}

function renderReport(report, checked = false) {
  out.replaceChildren();
  const [text, cls] = headline(report, checked);
  const h = el("h2", text, cls);
  h.id = "import-headline";
  out.dataset.status = report.status;
  out.append(h);
  const table = el("table", undefined, "grid-table");
  table.append(el("tr"));
  table.rows[0].append(...["File", "Rows", "Inserted", "Updated", "Unchanged", "Duplicates", "Rejected"].map((x) => el("th", x)));
  for (const [name, s] of Object.entries(report.files)) {
    const tr = el("tr");
    tr.dataset.file = name;
    tr.append(...[name, s.rows, s.inserted, s.updated, s.unchanged, s.duplicates, s.rejected ?? 0].map((v) => el("td", String(v))));
    table.append(tr);
  }
  out.append(table);
  // Demo data beside the operator's: say so plainly (it is kept apart; an admin can remove it).
  if (report.demo?.present) out.append(el("p", report.demo.message, "flash demo-note"));
  if (report.errors.length) {
    const link = el("a", `Download the ${report.errors.length} rejected row error(s) as CSV`);
    link.href = URL.createObjectURL(new Blob([errorsCsv(report.errors)], { type: "text/csv" }));
    link.download = "rejected-rows.csv";
    const para = el("p");
    para.append(link);
    out.append(para);
    if (report.errors_truncated) out.append(el("p", `Only the first ${report.errors.length} of ${report.error_count} are listed.`, "hint"));
  }
  const list = el("ul");
  list.id = "import-errors";
  for (const e of report.errors) {
    const li = el("li", `${e.file} line ${e.line}, column ${e.column ?? "-"}: ${e.reason}`);
    Object.assign(li.dataset, { file: e.file, line: String(e.line), column: e.column ?? "" });
    list.append(li);
  }
  for (const d of report.defaults) list.append(el("li", `Default used: ${d.file} ${d.column} = ${d.default} for ${d.rows} row(s) (${d.reason})`));
  for (const n of report.notes) if (n !== report.demo?.message) list.append(el("li", n));
  out.append(list);
}

async function send(path, checked) {
  const data = new FormData();
  for (const file of form.querySelector('input[type="file"]').files) data.append(file.name, file, file.name);
  const mode = form.querySelector('input[name="mode"]:checked').value;
  out.replaceChildren(el("p", checked ? "Checking…" : "Importing…"));
  try {
    renderReport(await api(`${path}?mode=${encodeURIComponent(mode)}`, { method: "POST", body: data }), checked);
  } catch (error) {
    if (error instanceof ApiError && error.details?.files) renderReport(error.details, checked);
    else out.replaceChildren(el("p", error.message, "error"));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send("/api/imports", false);
});
checkOnly.addEventListener("click", () => {
  if (form.reportValidity()) send("/api/planogram/validate-data", true);
});
