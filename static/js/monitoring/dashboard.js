// Usage and cost dashboard: budget gauge, KPIs and charts from the monitoring API, refreshed in place.
import { api, COLORS, drawChart, el, fmtDay, fmtInt, fmtMs, fmtPct, fmtUsd, renderAlerts, setText, startDashboard, windowQuery } from "./common.js";

const root = document.getElementById("mon-root");
const thresholds = { error: Number(root.dataset.errorThreshold), fallback: Number(root.dataset.fallbackThreshold) };
const TOP = 8;

function levelColor(pct) {
  if (pct == null) return COLORS.muted;
  return pct >= 100 ? COLORS.bad : pct >= 80 ? COLORS.warn : COLORS.ok;
}

function gauge(budget) {
  const pct = budget.used_pct;
  const shown = Math.min(pct ?? 0, 100);
  drawChart("chart-gauge", {
    type: "doughnut",
    data: { labels: ["spent", "left"], datasets: [{ data: [shown, 100 - shown], backgroundColor: [levelColor(pct), COLORS.line], borderWidth: 0 }] },
    options: { rotation: -90, circumference: 180, cutout: "72%", plugins: { legend: { display: false }, tooltip: { enabled: false } } },
  });
  setText("gauge-pct", pct == null ? "no budget" : `${pct.toFixed(pct < 10 ? 1 : 0)}%`);
  setText("gauge-amount", `${fmtUsd(Math.max(budget.spent_usd, budget.ledger_spent_usd))} of ${fmtUsd(budget.budget_usd)}`);
  setText("gauge-sub", `${fmtUsd(budget.remaining_usd)} left today (UTC day)`);
  document.getElementById("gauge-sub").title = `ledger ${fmtUsd(budget.ledger_spent_usd)} settled; budget counter `
    + `${fmtUsd(budget.spent_usd)} including open reservations`;
}

function kpis(usage, cache) {
  const t = usage.totals;
  setText("kpi-requests", fmtInt(t.requests));
  setText("kpi-requests-sub", `${fmtInt(t.cached)} from cache · ${fmtInt(t.fallbacks)} rule-based`);
  setText("kpi-cost", fmtUsd(t.cost_usd));
  setText("kpi-cost-sub", `${fmtInt(t.input_tokens)} in (${fmtInt(t.cached_tokens)} provider-cached) · ${fmtInt(t.output_tokens)} out tokens sent`);
  setText("kpi-cache", fmtPct(t.cache_hit_rate));
  setText("kpi-cache-sub", `saved by cache ${fmtUsd(t.saved_usd)} · ${fmtInt(t.saved_input_tokens + t.saved_output_tokens)} tokens in this window`);
  document.getElementById("kpi-cache-sub").title = `since the counters began: saved ${fmtUsd(cache.usd_saved)} · ${fmtInt(cache.tokens_saved)} tokens; ${cache.similarity?.mode ?? ""}`;
  setText("kpi-errors", `${fmtPct(t.error_rate)} · ${fmtPct(t.fallback_rate)}`);
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;
  setText("kpi-errors-sub", `${plural(t.errors, "error")} · ${plural(t.fallbacks, "fallback")}`);
  setText("kpi-latency", fmtMs(t.latency_ms.p95));
  setText("kpi-latency-sub", `p50 ${fmtMs(t.latency_ms.p50)} · p99 ${fmtMs(t.latency_ms.p99)}`);
}

function spend(byDay) {
  const days = byDay.groups;
  const budget = byDay.budget.budget_usd;
  drawChart("chart-spend", {
    type: "bar",
    data: {
      labels: days.map((d) => fmtDay(d.key)),
      datasets: [
        { label: "Spend (USD)", data: days.map((d) => d.cost_usd), backgroundColor: days.map((d) => levelColor(d.budget_used_pct)), order: 2 },
        { type: "line", label: "Daily budget", data: days.map(() => budget), borderColor: COLORS.bad, borderDash: [6, 4], pointRadius: 0, borderWidth: 2, order: 1 },
        { type: "line", label: "80 % of budget", data: days.map(() => budget * 0.8), borderColor: COLORS.warn, borderDash: [2, 4], pointRadius: 0, borderWidth: 1.5, order: 1 },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, title: { display: true, text: "USD" } } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtUsd(c.parsed.y)}` } } },
    },
  }, byDay.totals.requests ? null : "No AI calls in this window");
}

function topGroups(groups) {
  if (groups.length <= TOP) return groups;
  const rest = groups.slice(TOP - 1);
  const other = rest.reduce((acc, g) => ({ ...acc, requests: acc.requests + g.requests, cost_usd: acc.cost_usd + g.cost_usd }),
    { label: `${rest.length} others`, requests: 0, cost_usd: 0 });
  return [...groups.slice(0, TOP - 1), other];
}

function byGroup(id, usage) {
  const groups = topGroups(usage.groups);
  drawChart(id, {
    type: "bar",
    data: {
      labels: groups.map((g) => String(g.label)),
      datasets: [
        { label: "Requests", data: groups.map((g) => g.requests), backgroundColor: COLORS.accentSoft, borderColor: COLORS.accent, borderWidth: 1, yAxisID: "y" },
        { label: "Cost (USD)", data: groups.map((g) => g.cost_usd), backgroundColor: COLORS.teal, yAxisID: "y1" },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, position: "left", title: { display: true, text: "requests" }, ticks: { precision: 0 } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "USD" } },
        x: { ticks: { autoSkip: false, maxRotation: 40, minRotation: 0 } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => (c.dataset.yAxisID === "y1" ? `Cost: ${fmtUsd(c.parsed.y)}` : `Requests: ${fmtInt(c.parsed.y)}`) } } },
    },
  }, groups.length ? null : "No AI calls in this window");
}

function latency(byDay) {
  const days = byDay.groups;
  const line = (key, label, color) => ({ label, data: days.map((d) => d.latency_ms[key]), borderColor: color, backgroundColor: color, tension: 0.2, spanGaps: true, pointRadius: 3 });
  drawChart("chart-latency", {
    type: "line",
    data: { labels: days.map((d) => fmtDay(d.key)), datasets: [line("p50", "p50", COLORS.ok), line("p95", "p95", COLORS.warn), line("p99", "p99", COLORS.bad)] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  }, byDay.totals.requests ? null : "No AI calls in this window");
}

function rates(byDay) {
  const days = byDay.groups;
  const pct = (key) => days.map((d) => (d.requests ? +(d[key] * 100).toFixed(2) : null));
  const flat = (value) => days.map(() => value * 100);
  drawChart("chart-rates", {
    type: "line",
    data: {
      labels: days.map((d) => fmtDay(d.key)),
      datasets: [
        { label: "Error rate %", data: pct("error_rate"), borderColor: COLORS.bad, backgroundColor: COLORS.bad, spanGaps: true, pointRadius: 3 },
        { label: "Fallback rate %", data: pct("fallback_rate"), borderColor: COLORS.violet, backgroundColor: COLORS.violet, spanGaps: true, pointRadius: 3 },
        { label: "Error alert", data: flat(thresholds.error), borderColor: COLORS.bad, borderDash: [4, 4], pointRadius: 0, borderWidth: 1 },
        { label: "Fallback alert", data: flat(thresholds.fallback), borderColor: COLORS.violet, borderDash: [4, 4], pointRadius: 0, borderWidth: 1 },
      ],
    },
    options: { scales: { y: { beginAtZero: true, suggestedMax: 50, title: { display: true, text: "% of calls" } } } },
  }, byDay.totals.requests ? null : "No AI calls in this window");
}

function cacheChart(cache) {
  const features = Object.entries(cache.by_feature).filter(([, f]) => f.hits + f.misses > 0);
  drawChart("chart-cache", {
    type: "bar",
    data: {
      labels: features.map(([name]) => name),
      datasets: [{ label: "Hit rate %", data: features.map(([, f]) => +(f.hit_rate * 100).toFixed(1)), backgroundColor: COLORS.ok }],
    },
    options: {
      scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "% of lookups" } }, x: { ticks: { autoSkip: false, maxRotation: 40 } } },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { afterLabel: (c) => { const f = features[c.dataIndex][1]; return `${f.hits} hits · ${f.misses} misses · saved ${fmtUsd(f.usd_saved)}`; } } },
      },
    },
  }, features.length ? null : "No cache lookups yet");
}

function cacheFacts(cache) {
  const facts = [
    ["Entries", fmtInt(cache.entries)], ["Size", `${(cache.memory_bytes / 1024).toFixed(1)} KB`],
    ["Hits · misses", `${fmtInt(cache.hits)} · ${fmtInt(cache.misses)}`], ["Hit rate", fmtPct(cache.hit_rate)],
    ["Saved", `${fmtUsd(cache.usd_saved)} · ${fmtInt(cache.tokens_saved)} tokens`], ["Entries live for", `${cache.ttl_hours} h`],
    ["Today (ledger)", `${fmtInt(cache.ledger.cached)} of ${fmtInt(cache.ledger.requests)} calls cached`],
  ];
  document.getElementById("cache-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const select = document.getElementById("clear-feature");
  const names = [...new Set([...Object.keys(cache.by_feature), ...cache.ledger.by_feature.map((f) => f.key)])].sort();
  const current = select.value;
  select.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === current }, n)));
}

async function load(days) {
  const q = windowQuery(days);
  const [byDay, byFeature, byModel, cache, alerts] = await Promise.all([
    api(`/api/planogram/ai-usage?group_by=day&${q}`),
    api(`/api/planogram/ai-usage?group_by=feature&${q}`),
    api(`/api/planogram/ai-usage?group_by=model&${q}`),
    api("/api/planogram/cache-stats"),
    api("/api/monitoring/alerts"),
  ]);
  renderAlerts(alerts.alerts);
  gauge(byDay.budget);
  kpis(byDay, cache);
  spend(byDay);
  byGroup("chart-feature", byFeature);
  byGroup("chart-model", byModel);
  latency(byDay);
  rates(byDay);
  cacheChart(cache);
  cacheFacts(cache);
}

const refresh = startDashboard(load);

const scope = document.getElementById("clear-scope");
scope.addEventListener("change", () => {
  document.getElementById("clear-feature-label").hidden = scope.value !== "feature";
  document.getElementById("clear-tag-label").hidden = scope.value !== "tag";
});
document.getElementById("clear-cache").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {};
  if (scope.value === "feature") body.feature = document.getElementById("clear-feature").value;
  else if (scope.value === "tag") body.tag = document.getElementById("clear-tag").value.trim();
  else body[scope.value] = true;
  if (scope.value === "all" && !window.confirm("Clear every cached AI answer?")) return;
  try {
    const result = await api("/api/planogram/clear-cache", { method: "POST", json: body });
    setText("clear-result", `Removed ${result.removed} ${result.removed === 1 ? "entry" : "entries"} (${result.scope}).`);
    refresh();
  } catch (error) {
    setText("clear-result", `Not cleared: ${error.message}`);
  }
});
