// "Optimise selected" on the fleet page: start the batch job, show its progress, then a review list where each
// proposal can be looked at (visit sheet) and accepted (saved as a new planogram version).
import { api, ApiError } from "./api.js";
import { el, signedMoney } from "./editor/format.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 800;

export async function runBatch(deviceIds, fleet) {
  if (!deviceIds.length) return;
  const names = new Map(fleet.items.map((d) => [d.device_id, d]));
  const box = $("batch");
  box.hidden = false;
  $("optimise-selected").disabled = true;
  $("batch-table").tBodies[0].replaceChildren();
  $("batch-links").replaceChildren();
  setProgress(0, deviceIds.length, "Starting…");
  let job;
  try {
    job = await api("/api/planogram/batch-optimize", { method: "POST", json: { device_ids: deviceIds, objective: "margin" } });
  } catch (error) {
    setProgress(0, deviceIds.length, `Could not start: ${error.message}`);
    $("optimise-selected").disabled = false;
    return;
  }
  box.dataset.job = job.job_id;
  let status;
  do {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      status = await api(`/api/jobs/${encodeURIComponent(job.job_id)}`);
    } catch (error) {
      setProgress(0, deviceIds.length, `Lost the job: ${error.message}`);
      break;
    }
    const { completed, total } = status.progress;
    setProgress(completed, total, status.status === "finished" ? `Done: ${total} machine${total === 1 ? "" : "s"} optimised.`
      : `${status.status}: ${completed} of ${total} machines`);
    renderResults(status.results, names, job.job_id);
  } while (!["finished", "cancelled", "failed"].includes(status.status));
  box.dataset.status = status?.status ?? "failed";
  const ids = deviceIds.map(encodeURIComponent).join(",");
  $("batch-links").replaceChildren(el("a", { href: `/route?job=${encodeURIComponent(job.job_id)}&devices=${ids}`,
    text: "Visit sheets and pick list of these proposals" }));
  $("optimise-selected").disabled = false;
}

function setProgress(done, total, text) {
  $("batch-progress").max = Math.max(total, 1);
  $("batch-progress").value = done;
  $("batch-label").textContent = text;
}

function renderResults(results, names, jobId) {
  const rows = results.map((item) => {
    const d = names.get(item.device_id);
    const sheet = `/devices/${encodeURIComponent(item.device_id)}/visit-sheet?job=${encodeURIComponent(jobId)}`;
    if (!item.ok) {
      return el("tr", {}, el("td", { text: d?.name ?? item.device_id }), el("td", { class: "error", text: item.error }),
        el("td"), el("td"), el("td"));
    }
    const r = item.result;
    const gain = r.slots_changed ? r.margin_per_day - r.current_margin_per_day : 0;
    const action = el("td", { class: "actions" });
    if (r.slots_changed) {
      action.append(el("a", { href: sheet, text: "Visit sheet" }), " ",
        el("button", { type: "button", class: "small", text: "Accept", onclick: (e) => accept(e.target, item, d) }));
    }
    return el("tr", { dataset: { device: item.device_id } }, el("td", { text: d?.name ?? item.device_id }),
      el("td", { text: r.slots_changed ? (r.optimal ? "proposal (optimal)" : "proposal") : "already the best within the budget" }),
      el("td", { class: `num ${gain > 0.005 ? "up" : ""}`, text: signedMoney(gain) }),
      el("td", { class: "num", text: String(r.slots_changed) }), action);
  });
  $("batch-table").tBodies[0].replaceChildren(...rows);
}

// Save the proposal as the device's new version (409 when someone saved meanwhile: say so, change nothing).
async function accept(button, item, device) {
  button.disabled = true;
  const slots = Object.fromEntries(Object.entries(item.result.planogram)
    .map(([slot, v]) => [slot, v.capacity ? { sku: v.sku, capacity: v.capacity } : v.sku]));
  const cell = button.parentElement;
  try {
    const saved = await api(`/api/devices/${encodeURIComponent(item.device_id)}/planogram`, {
      method: "POST",
      json: { base_version: device.planogram_version, slots, source: "optimizer",
        note: `Fleet optimisation: ${signedMoney(item.result.margin_per_day - item.result.current_margin_per_day)} margin/day` },
    });
    cell.replaceChildren(el("span", { class: "ok", text: `Saved v${saved.version} ` }),
      el("a", { href: `/devices/${encodeURIComponent(item.device_id)}/visit-sheet?version=${saved.version}`, text: "Visit sheet" }));
  } catch (error) {
    const why = error instanceof ApiError && error.status === 409 ? "someone saved this machine meanwhile; re-run" : error.message;
    cell.append(el("span", { class: "error", text: ` Not saved: ${why}` }));
  }
}
