// Fleet view: machines ranked by opportunity, sortable, figures filled in as the background job computes them,
// "optimise selected" as a batch job with a progress bar and a review list, visit sheets and pick list links.
import { api } from "./api.js";
import { el, money, setCurrency, signedMoney } from "./editor/format.js";

const $ = (id) => document.getElementById(id);
let fleet = JSON.parse($("fleet-data").textContent);
setCurrency(fleet.currency);
const table = $("fleet-table");
const canOptimise = $("fleet-form")?.dataset.canOptimise === "true";
const selected = new Set();
let sort = { key: "opportunity", dir: -1 };
const POLL_MS = 1500;

// Sort values: figures still computing (or failed) sort after every known value, whatever the direction.
const VALUES = {
  name: (d) => d.name.toLowerCase(),
  venue_type: (d) => d.venue_type,
  margin: (d) => d.figures?.margin_per_day ?? null,
  opportunity: (d) => d.figures?.opportunity?.gain_per_day ?? null,
  stockouts: (d) => d.figures?.stockout_slots?.length ?? null,
  days_since_change: (d) => d.days_since_change,
  planogram_version: (d) => d.planogram_version,
  sales_count: (d) => d.sales_count,
};

function compare(a, b) {
  const va = VALUES[sort.key](a);
  const vb = VALUES[sort.key](b);
  if (va === null || vb === null) return va === vb ? a.name.localeCompare(b.name) : va === null ? 1 : -1;
  if (va < vb) return -sort.dir;
  if (va > vb) return sort.dir;
  return a.name.localeCompare(b.name);
}

const computing = () => el("span", { class: "computing", text: "computing…" });

function figureCells(d) {
  const f = d.figures;
  if (f?.error) {
    const failed = () => el("td", { class: "num" }, el("span", { class: "sub", title: f.error, text: "no figure" }));
    return [failed(), failed(), failed()];
  }
  const margin = el("td", { class: "num", dataset: { col: "margin", value: f?.margin_per_day ?? "" } }, f ? money(f.margin_per_day) : computing());
  const opp = f?.opportunity;
  const opportunity = el("td", { class: "num", dataset: { col: "opportunity", value: opp?.gain_per_day ?? "" } },
    opp ? [el("strong", { class: opp.gain_per_day > 0.005 ? "up" : "", text: signedMoney(opp.gain_per_day) }),
      el("div", { class: "sub", text: `${opp.slots_changed} slot${opp.slots_changed === 1 ? "" : "s"} to change` })] : computing());
  const slots = f?.stockout_slots;
  const stockouts = el("td", { class: "num", dataset: { col: "stockouts" }, title: slots?.length ? slots.join(" ") : null },
    slots ? String(slots.length) : computing());
  return [margin, opportunity, stockouts];
}

function row(d) {
  const id = encodeURIComponent(d.device_id);
  const box = el("input", { type: "checkbox", value: d.device_id, "aria-label": `Select ${d.name}`, checked: selected.has(d.device_id),
    onchange: (e) => { e.target.checked ? selected.add(d.device_id) : selected.delete(d.device_id); updateTools(); } });
  return el("tr", { dataset: { device: d.device_id } },
    el("td", { class: "sel" }, box),
    el("td", {}, el("a", { href: `/devices/${id}`, text: d.name }),
      el("div", { class: "sub" }, `${d.device_id} `, d.is_demo ? el("span", { class: "badge demo", text: "demo data" }) : null),
      el("div", { class: "row-links" }, el("a", { href: `/devices/${id}/editor`, text: "Editor" }), " · ",
        el("a", { href: `/devices/${id}/visit-sheet`, text: "Visit sheet" }))),
    el("td", { text: d.venue_type }),
    ...figureCells(d),
    el("td", { class: "num", text: d.days_since_change === null ? "–" : String(d.days_since_change) }),
    el("td", { text: d.planogram_version ? `v${d.planogram_version}` : "none" }),
    el("td", { class: "num", text: d.sales_count.toLocaleString() }));
}

function render() {
  const items = [...fleet.items].sort(compare);
  table.tBodies[0].replaceChildren(...items.map(row));
  for (const th of table.tHead.querySelectorAll("th[data-key]")) {
    th.setAttribute("aria-sort", th.dataset.key === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  $("fleet-status").textContent = fleet.pending
    ? `Computing figures for ${fleet.pending} machine${fleet.pending === 1 ? "" : "s"}…` : "All figures are up to date.";
  table.dataset.pending = String(fleet.pending);
}

function updateTools() {
  const ids = [...selected];
  $("selected-count").textContent = ids.length ? `${ids.length} selected` : "Select machines for a route day.";
  const link = $("pick-list-link");
  if (ids.length) {
    link.href = `/route?devices=${ids.map(encodeURIComponent).join(",")}`;
    link.removeAttribute("aria-disabled");
  } else {
    link.removeAttribute("href");
    link.setAttribute("aria-disabled", "true");
  }
  if (canOptimise) $("optimise-selected").disabled = ids.length === 0;
  $("select-all").checked = ids.length === fleet.items.length;
}

async function poll() {
  try {
    fleet = await api("/api/fleet");
    render();
  } catch (error) {
    $("fleet-status").textContent = `Could not refresh the figures: ${error.message}`;
  }
  if (fleet.pending) setTimeout(poll, POLL_MS);
}

for (const th of table.tHead.querySelectorAll("th[data-key]")) {
  th.querySelector("button").addEventListener("click", () => {
    const key = th.dataset.key;
    sort = { key, dir: sort.key === key ? -sort.dir : (key === "name" || key === "venue_type" ? 1 : -1) };
    render();
  });
}
$("select-all").addEventListener("change", (e) => {
  for (const d of fleet.items) e.target.checked ? selected.add(d.device_id) : selected.delete(d.device_id);
  render();
  updateTools();
});
if (canOptimise) $("optimise-selected").addEventListener("click", () => import("./fleet_batch.js").then((m) => m.runBatch([...selected], fleet)));

render();
updateTools();
if (fleet.pending) setTimeout(poll, POLL_MS);
