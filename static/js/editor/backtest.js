// "How far to trust the numbers": runs the backtest of this machine on demand and shows its figures.
import { el, headRow, money, number, signClass, signedMoney } from "./format.js";

const TRUST_TEXT = { good: "numbers held", fair: "numbers roughly held", poor: "numbers did not hold", unknown: "not enough data" };

const pct = (value, digits = 1) => (value === null || value === undefined ? "–" : `${value > 0 ? "+" : value < 0 ? "−" : "±"}${number(Math.abs(value), digits)} %`);
const day = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

export class BacktestPanel {
  constructor(target, { deviceId, post }) {
    Object.assign(this, { target, deviceId, post });
    this.chart = null;
  }

  // The intro and the controls; nothing is computed until the button is pressed.
  render() {
    this.holdout = el("select", { id: "bt-holdout" }, [7, 14, 28].map((n) => el("option", { value: String(n), selected: n === 14, text: `${n} days` })));
    this.button = el("button", { type: "button", id: "bt-run", onclick: () => this.run() }, "Run backtest");
    this.result = el("div", { id: "bt-result", "aria-live": "polite", "aria-busy": "false" });
    this.target.replaceChildren(
      el("h3", { text: "How far to trust the numbers" }),
      el("p", { class: "hint", text: "Fits the model on this machine's sales up to a cut-off, predicts the held-out days after it and compares " +
        "with what sold; past planogram changes are checked the same way (the uplift predicted before the change against what followed)." }),
      el("div", { class: "bt-controls" }, el("label", { class: "inline", for: "bt-holdout" }, "Held-out days", this.holdout), this.button),
      this.result);
  }

  async run() {
    this.button.disabled = true;
    this.result.setAttribute("aria-busy", "true");
    this.result.replaceChildren(el("p", { class: "hint", text: "Fitting and predicting…" }));
    try {
      const body = await this.post("backtest", { device_id: this.deviceId, holdout_days: Number(this.holdout.value) });
      this.show(body.devices[0]);
    } catch (error) {
      this.result.replaceChildren(el("p", { class: "error", text: `Could not run the backtest: ${error.message}` }));
    } finally {
      this.button.disabled = false;
      this.result.setAttribute("aria-busy", "false");
    }
  }

  show(d) {
    this.chart?.destroy();
    this.chart = null;
    const verdict = el("p", { class: "bt-verdict", id: "bt-verdict" },
      el("span", { class: `badge trust-${d.trust}`, text: TRUST_TEXT[d.trust] ?? d.trust }), " ", d.verdict);
    if (d.status !== "ok") {
      this.result.replaceChildren(verdict, this.changesBlock(d));
      return;
    }
    const canvas = el("canvas", { id: "bt-chart", role: "img", "aria-label": "Takings per held-out day against the predicted range" });
    this.result.replaceChildren(verdict,
      el("p", { class: "hint", text: `Fitted on ${d.train_days} days up to ${day(d.cutoff_day)}; held out ${d.holdout_days} days to ${day(d.last_day)}.` +
        (d.planogram_changed_in_holdout ? " The planogram changed inside the held-out days: each day is predicted with the planogram of that day." : "") }),
      this.figures(d), el("div", { class: "chart-box" }, canvas), this.changesBlock(d));
    this.chart = backtestChart(canvas, d.days);
  }

  figures(d) {
    const f = d.forecast;
    const level = Math.round(d.coverage.level * 100);
    const row = (label, ...cells) => el("tr", {}, el("th", { text: label }), cells.map((c) => el("td", { class: c.cls ?? "num", text: c.text })));
    return el("table", { class: "grid-table compact", id: "bt-figures" },
      el("thead", {}, headRow("", ["Predicted"], ["Actual / reference"], ["Difference"])),
      el("tbody", {},
        row(`Revenue over ${d.holdout_days} days`, { text: money(d.revenue.predicted) }, { text: money(d.revenue.actual) },
          { cls: `num ${signClass(d.revenue.bias_pct)}`, text: pct(d.revenue.bias_pct) }),
        row(`Days inside the ${level} % day range`, { text: `${level} % (nominal)` },
          { text: `${d.coverage.days_inside} of ${d.coverage.days} (${number(100 * d.coverage.share, 0)} %)` }, { text: "" }),
        row("Forecast error, product × day (WAPE)", { text: number(f.wape_model, 2) },
          { text: `${number(f.wape_naive, 2)} same weekday last week` }, { text: `${number(f.wape_ratio, 2)}×` })));
  }

  changesBlock(d) {
    const skipped = d.changes_without_enough_data
      ? el("p", { class: "hint", text: `${d.changes_without_enough_data} more change(s) lack a full week of sales on one side and are not checked.` }) : null;
    if (!d.changes.length) {
      return el("div", {}, el("h3", { text: "Past planogram changes" }),
        el("p", { class: "empty", text: "No saved planogram change with at least a week of sales before and after." }), skipped);
    }
    const rows = d.changes.map((c) => el("tr", {},
      el("td", { text: c.version === null ? "–" : `v${c.version}` }), el("td", { text: day(c.date) }),
      el("td", { class: "num", text: String(c.slots_changed) }), el("td", { class: "num", text: String(c.window_days) }),
      el("td", { class: `num ${signClass(c.predicted.revenue_per_day)}`, text: `${signedMoney(c.predicted.revenue_per_day)} (${pct(c.predicted.revenue_pct)})` }),
      el("td", { class: `num ${signClass(c.realised.revenue_per_day)}`, text: `${signedMoney(c.realised.revenue_per_day)} (${pct(c.realised.revenue_pct)})` }),
      el("td", { class: "num", text: signedMoney(c.predicted.margin_per_day) }),
      el("td", { class: "num", text: signedMoney(c.realised.margin_per_day) }),
      el("td", { text: c.same_direction ? "yes" : "no" })));
    return el("div", {}, el("h3", { text: "Past planogram changes: predicted before the change vs what followed (per day)" }),
      el("div", { class: "scroll" }, el("table", { class: "grid-table compact", id: "bt-changes" },
        el("thead", {}, headRow("Version", "From", ["Slots"], ["Days each side"], ["Predicted revenue"], ["Realised revenue"],
          ["Predicted margin"], ["Realised margin"], "Same direction")),
        el("tbody", {}, rows))), skipped);
  }
}

// Actual takings per held-out day against the predicted value and its day range (Chart.js; skipped without it).
function backtestChart(canvas, days) {
  const Chart = window.Chart;
  if (!Chart) return null;
  return new Chart(canvas, {
    type: "line",
    data: {
      labels: days.map((d) => day(d.date)),
      datasets: [
        { label: "Predicted range (low)", data: days.map((d) => d.low), borderColor: "rgba(33,86,217,.25)", pointRadius: 0, fill: false },
        { label: "Predicted range", data: days.map((d) => d.high), borderColor: "rgba(33,86,217,.25)", backgroundColor: "rgba(33,86,217,.12)", pointRadius: 0, fill: "-1" },
        { label: "Predicted", data: days.map((d) => d.predicted_revenue), borderColor: "#2156d9", borderDash: [5, 4], pointRadius: 0 },
        { label: "Actual", data: days.map((d) => d.actual_revenue), borderColor: "#167a3e",
          pointBackgroundColor: days.map((d) => (d.inside ? "#167a3e" : "#b3261e")), pointRadius: 4 },
      ],
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { filter: (item) => item.text !== "Predicted range (low)" } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "revenue / day" } } },
    },
  });
}
