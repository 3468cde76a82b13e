// Forecast chart with Chart.js (the vendored UMD build sets window.Chart); skipped quietly if it is missing.
export function forecastChart(canvas, forecast) {
  const Chart = window.Chart;
  if (!Chart) return null;
  const labels = forecast.days.map((d) => new Date(d * 86400000).toLocaleDateString(undefined, { month: "short", day: "numeric" }));
  const sum = (key) => forecast.days.map((_, i) => forecast.per_sku.reduce((s, p) => s + (p[key][i] ?? 0), 0));
  return new Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Demand (units)", data: sum("demand"), borderColor: "#2156d9", backgroundColor: "rgba(33,86,217,.08)", fill: true, tension: 0.25 },
        { label: "Expected sales (units)", data: sum("expected_sales"), borderColor: "#167a3e", backgroundColor: "rgba(22,122,62,.12)", fill: true, tension: 0.25 },
      ],
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "units / day" } } },
    },
  });
}
