// Prompts and providers: A/B table with acceptance and significance, acceptance chart, breakers, fallback reasons.
import { api, COLORS, drawChart, el, fmtInt, fmtMs, fmtPct, fmtTime, fmtUsd, renderAlerts, startDashboard, windowQuery } from "./common.js";

const REASONS = {
  no_provider: "No AI provider configured", budget_exceeded: "Daily budget spent", breaker_open: "Circuit open",
  rate_limited: "Rate limited (429)", overloaded: "Provider overloaded (529)", server_error: "Provider error (5xx)",
  timeout: "Timed out", connection: "Connection failed", stream_cut: "Stream broke", rejected: "Request rejected (4xx)",
  bad_output: "Output failed validation",
};

function verdictCell(row) {
  if (row.is_control) return el("span", { class: "pill control" }, "control");
  const ab = row.ab;
  if (!ab) return el("span", { class: "sub" }, "—");
  const p = ab.p_value == null ? "" : ` (p = ${ab.p_value < 0.001 ? "<0.001" : ab.p_value.toFixed(3)})`;
  if (!ab.enough_reviews) {
    const missing = Math.max(ab.min_reviews - ab.reviews, 0) + Math.max(ab.min_reviews - ab.control_reviews, 0);
    return el("span", { class: "pill", title: `needs ${ab.min_reviews} reviews per arm${p}` }, `needs ${missing} more reviews`);
  }
  if (ab.significant) {
    const better = ab.acceptance_diff_pct > 0;
    return el("span", { class: `pill ${better ? "better" : "worse"}`, title: "significant at 95 %" },
      `${better ? "▲" : "▼"} ${Math.abs(ab.acceptance_diff_pct).toFixed(1)} pts, significant at 95 %${p}`);
  }
  return el("span", { class: "pill" }, `no significant difference${p}`);
}

function acceptanceCell(row) {
  if (row.acceptance_pct == null) return el("span", { class: "sub" }, row.pending ? `${row.pending} pending` : "no reviews");
  return el("div", { class: "accept" },
    el("div", { class: "bar" }, el("span", { style: `width:${row.acceptance_pct}%` })),
    el("strong", {}, `${row.acceptance_pct.toFixed(0)}%`));
}

function abTable(report) {
  const body = document.querySelector("#ab-table tbody");
  if (!report.prompts.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 10, class: "empty" }, "No prompt calls or reviewed drafts in this window.")));
    return;
  }
  body.replaceChildren(...report.prompts.map((row) => el("tr", {},
    el("td", {}, el("strong", {}, row.prompt_name), el("div", { class: "sub" }, row.features.join(", "))),
    el("td", {}, row.prompt_version == null ? "–" : `v${row.prompt_version}`),
    el("td", {}, row.variant ?? "–"),
    el("td", { class: "num" }, fmtInt(row.calls)),
    el("td", { class: "num" }, fmtUsd(row.cost_usd)),
    el("td", { class: "num" }, fmtMs(row.latency_ms.p95)),
    el("td", { class: "num" }, `${fmtInt(row.fallbacks)} (${fmtPct(row.fallback_rate, 0)})`),
    el("td", { class: "num" }, fmtInt(row.reviewed)),
    el("td", {}, acceptanceCell(row)),
    el("td", {}, verdictCell(row)),
  )));
}

function acceptanceChart(report) {
  const rows = report.prompts.filter((r) => r.acceptance_pct != null);
  drawChart("chart-acceptance", {
    type: "bar",
    data: {
      labels: rows.map((r) => `${r.prompt_name} ${r.variant} v${r.prompt_version}`),
      datasets: [{ label: "Acceptance %", data: rows.map((r) => r.acceptance_pct),
        backgroundColor: rows.map((r) => (r.is_control ? COLORS.accent : r.ab?.significant ? (r.ab.acceptance_diff_pct > 0 ? COLORS.ok : COLORS.bad) : COLORS.muted)) }],
    },
    options: {
      scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "% of reviewed drafts accepted" } } },
      plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: (c) => `${rows[c.dataIndex].reviewed} reviewed` } } },
    },
  }, rows.length ? null : "No reviewed drafts in this window");
}

function providers(report) {
  const entries = Object.entries(report.providers);
  document.querySelector("#provider-table tbody").replaceChildren(...(entries.length ? entries.map(([name, s]) => el("tr", {},
    el("td", {}, name), el("td", {}, el("span", { class: `pill ${s.state}` }, s.state.replace("_", "-"))),
    el("td", { class: "num" }, fmtInt(s.consecutive_failures)))) : [el("tr", {}, el("td", { colspan: 3, class: "empty" }, "No provider configured"))]));
  const calls = report.calls.reduce((n, c) => n + c.count, 0);
  document.getElementById("provider-note").textContent = report.configured
    ? `Primary: ${report.configured}. ${fmtInt(calls)} calls in the last 24 h. Prices effective ${report.prices_effective}.`
    : "No AI provider configured: features answer with labelled rule-based fallbacks.";
  const kinds = report.error_kinds;
  document.querySelector("#error-table tbody").replaceChildren(...(kinds.length ? kinds.map((k) => el("tr", {},
    el("td", {}, REASONS[k.error_kind] ?? k.error_kind, el("div", { class: "sub" }, k.error_kind + (k.is_error ? "" : " · by design"))),
    el("td", { class: "num" }, fmtInt(k.count)), el("td", {}, fmtTime(k.last_seen)))) : [el("tr", {}, el("td", { colspan: 3, class: "empty" }, "No fallbacks in the last 24 h"))]));
}

async function load(days) {
  const [report, provider, alerts] = await Promise.all([
    api(`/api/monitoring/prompts?${windowQuery(days)}`),
    api("/api/monitoring/providers?minutes=1440"),
    api("/api/monitoring/alerts"),
  ]);
  renderAlerts(alerts.alerts);
  abTable(report);
  acceptanceChart(report);
  providers(provider);
}

startDashboard(load);
