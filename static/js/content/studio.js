// Content studio: suggestion, caption, hashtags and performance forms → drafts.
import { api } from "../api.js";
import { el, renderResult, showError } from "./common.js";

const result = document.getElementById("result");
const skus = (value) => value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);

const bodies = {
  suggestion: (f) => ({ platform: f.get("platform"), ...(f.get("occasion") ? { occasion: f.get("occasion") } : {}) }),
  caption: (f) => ({ products: skus(f.get("products")), media_description: f.get("media_description"),
    style: f.get("style"), platform: f.get("platform") }),
  hashtags: (f) => ({ products: skus(f.get("products")), platform: f.get("platform"),
    max_hashtags: Number(f.get("max_hashtags") || 10) }),
  performance: (f) => ({ from: f.get("from"), to: f.get("to") }),
};

// Default performance range: the last 7 full days.
const perf = document.querySelector('[data-tool="performance"]');
const day = (offset) => new Date(Date.now() - offset * 86400000).toISOString().slice(0, 10);
perf.elements.from.value = day(7);
perf.elements.to.value = day(1);

for (const form of document.querySelectorAll("form.tool")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tool = form.dataset.tool;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    result.replaceChildren(el("p", "Working…", "hint"));
    try {
      renderResult(result, await api(`/api/content/${tool}`, { method: "POST", json: bodies[tool](new FormData(form)) }));
    } catch (error) {
      showError(result, error);
    } finally {
      button.disabled = false;
    }
  });
}
