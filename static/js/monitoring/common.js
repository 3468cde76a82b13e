// Shared by the monitoring pages: formatting, DOM building, Chart.js create-or-update, alerts, auto-refresh.
import { api } from "../api.js";

export { api };
export const COLORS = {
  accent: "#2156d9", accentSoft: "rgba(33,86,217,.18)", ok: "#167a3e", warn: "#d98e04", bad: "#b3261e",
  muted: "#8a93a6", line: "#dde1e8", teal: "#0f8b8d", violet: "#7a4cc2",
};

export const fmtInt = (n) => (n ?? 0).toLocaleString();
export const fmtPct = (rate, digits = 1) => (rate == null ? "–" : `${(rate * 100).toFixed(digits)}%`);
export const fmtMs = (ms) => (ms == null ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
export function fmtUsd(value) {
  const v = value ?? 0;
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.01) return `$${v.toFixed(5)}`;
  return `$${v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
export const fmtDay = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

// el("td", {class: "num"}, "12") — text children are text nodes, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") node.setAttribute("style", value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const setText = (id, text) => { const node = document.getElementById(id); if (node) node.textContent = text; };

// The window as a `from=` query: the last `days` UTC days including today.
export function windowQuery(days) {
  const start = new Date(Date.now() - (days - 1) * 86400000).toISOString().slice(0, 10);
  return `from=${start}`;
}

const charts = new Map();

// Create the chart once, then swap its data and options in place (no flicker on auto-refresh).
export function drawChart(id, config, emptyText = null) {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart) return null;
  const box = canvas.parentElement;
  box.querySelector(".chart-empty")?.remove();
  if (emptyText) box.append(el("div", { class: "chart-empty" }, emptyText));
  const options = {
    responsive: true, maintainAspectRatio: false, animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    ...config.options,
  };
  let chart = charts.get(id);
  if (chart && chart.config.type === config.type) {
    chart.data = config.data;
    chart.options = options;
    chart.update("none");
  } else {
    chart?.destroy();
    chart = new window.Chart(canvas, { ...config, options });
    charts.set(id, chart);
  }
  return chart;
}

export function renderAlerts(alerts) {
  const box = document.getElementById("mon-alerts");
  if (!box) return;
  box.replaceChildren(...alerts.map((a) =>
    el("div", { class: `alert ${a.severity}`, role: a.severity === "critical" ? "alert" : null },
      el("strong", {}, a.severity), el("span", {}, a.message))));
}

// Load now, on window change, on the Refresh button, and every `data-refresh` seconds while the box is ticked
// and the tab is visible.
export function startDashboard(load) {
  const root = document.getElementById("mon-root");
  const select = document.getElementById("mon-window");
  const auto = document.getElementById("mon-auto");
  const seconds = Number(root?.dataset.refresh || 30);
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      await load(Number(select.value));
      setText("mon-updated", `Updated ${new Date().toLocaleTimeString()}`);
      root.dataset.loaded = "true";
    } catch (error) {
      setText("mon-updated", `Could not refresh: ${error.message}`);
    } finally {
      busy = false;
    }
  };
  select.addEventListener("change", run);
  document.getElementById("mon-refresh")?.addEventListener("click", run);
  setInterval(() => { if (auto.checked && document.visibilityState === "visible") run(); }, seconds * 1000);
  run();
  return run;
}
