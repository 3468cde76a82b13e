// Review queue: drafts filtered by type and status, newest first, paginated.
import { api } from "../api.js";
import { el, pct, showError, sourceBadge, when } from "./common.js";

const form = document.getElementById("queue-filters");
const tbody = document.querySelector("#queue-table tbody");
const pager = document.getElementById("queue-pager");
const counts = document.getElementById("queue-counts");

function query(page) {
  const params = new URLSearchParams();
  for (const name of ["type", "status"]) if (form.elements[name].value) params.set(name, form.elements[name].value);
  if (page > 1) params.set("page", String(page));
  return params;
}

async function load(page = 1) {
  const params = query(page);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  try {
    render(await api(`/api/drafts?${params}`));
  } catch (error) {
    showError(pager, error);
  }
}

function render(data) {
  tbody.replaceChildren();
  if (!data.items.length) {
    const row = el("tr");
    const cell = el("td", "No drafts match these filters.", "empty");
    cell.colSpan = 7;
    row.append(cell);
    tbody.append(row);
  }
  for (const draft of data.items) {
    const row = el("tr");
    const link = el("a", `#${draft.id}`);
    link.href = `/review/${draft.id}`;
    const preview = el("a", draft.content.length > 140 ? `${draft.content.slice(0, 140)}…` : draft.content, "preview");
    preview.href = link.href;
    const cells = [el("td"), el("td", draft.content_type.replaceAll("_", " ")), el("td"), el("td"), el("td"),
      el("td", pct(draft.confidence), "num"), el("td", when(draft.created_at))];
    cells[0].append(link);
    cells[2].append(el("span", draft.status, `status status-${draft.status}`));
    cells[3].append(sourceBadge(draft.fallback_used, draft.label));
    cells[4].append(preview);
    if (draft.needs_review) cells[4].append(el("span", " needs review", "badge warn"));
    row.append(...cells);
    tbody.append(row);
  }
  counts.textContent = Object.entries(data.status_counts).map(([s, n]) => `${s}: ${n}`).join(" · ");
  pager.replaceChildren();
  for (let page = 1; data.pages > 1 && page <= data.pages; page += 1) {
    const a = el("a", String(page));
    a.href = `?${query(page)}`;
    if (page === data.page) a.setAttribute("aria-current", "page");
    a.addEventListener("click", (event) => { event.preventDefault(); load(page); });
    pager.append(a);
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); load(1); });
load(Number(new URLSearchParams(location.search).get("page") || 1));
