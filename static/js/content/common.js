// Shared helpers of the content, email and review pages. User and AI text only ever goes in via textContent.
import { ApiError } from "../api.js";

export const FALLBACK_LABEL = "Rule-based draft (no AI provider)";

export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

export const usd = (value) => (value ? `$${Number(value).toFixed(6)}` : "$0");
export const pct = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

// The server's label names why a draft is rule-based (no provider, budget, provider error, failed checks).
export function sourceBadge(fallbackUsed, label) {
  return fallbackUsed ? el("span", label || FALLBACK_LABEL, "badge fallback") : el("span", "AI draft", "badge ai");
}

export function errorMessage(error) {
  if (!(error instanceof ApiError)) return error.message;
  const details = Array.isArray(error.details)
    ? error.details.map((d) => `${d.field ?? ""} ${d.reason ?? ""}`.trim()).join("; ")
    : "";
  return details ? `${error.message}: ${details}` : error.message;
}

export function showError(container, error) {
  container.replaceChildren(el("p", errorMessage(error), "error"));
}

export function flagList(flags) {
  const list = el("ul", undefined, "flags");
  for (const flag of flags ?? []) {
    const item = el("li", undefined, `flag flag-${flag.kind}`);
    item.append(el("strong", flag.kind.replaceAll("_", " ")), document.createTextNode(`: ${flag.reason}`));
    if (flag.text) item.append(el("q", flag.text));
    list.append(item);
  }
  return list;
}

function facts(result) {
  const dl = el("dl", undefined, "facts");
  const add = (term, value) => { dl.append(el("dt", term), el("dd", value)); };
  add("Confidence", pct(result.confidence));
  if (result.needs_review !== undefined && result.needs_review !== null) add("Needs review", result.needs_review ? "yes" : "no");
  // An answer that failed the checks was still written (and billed) by a model: name it.
  add("Model", !result.fallback_used ? `${result.model ?? "?"} · ${result.tier ?? ""}`
    : result.model ? `${result.model} · answer rejected, rules used` : "none (rules)");
  add("Tokens", `${result.tokens_in} in / ${result.tokens_out} out`);
  add("Cost", usd(result.cost_usd));
  add("Cached", result.cached ? "yes" : "no");
  add("Latency", `${Math.round(result.latency_ms)} ms`);
  if (result.variant) add("Prompt", `${result.prompt_name} v${result.prompt_version} · ${result.variant}`);
  return dl;
}

function extras(data) {
  const box = el("div", undefined, "extras");
  const line = (label, value) => {
    if (!value) return;
    const p = el("p");
    p.append(el("strong", `${label}: `), document.createTextNode(value));
    box.append(p);
  };
  if (!data) return box;
  line("Why", data.reasoning);
  line("When", data.recommended_time);
  if (data.recommended_products?.length) line("Products", data.recommended_products.join(", "));
  if (data.character_count !== undefined) line("Length", `${data.character_count} / ${data.max_chars} characters`);
  if (data.alt_text) line("Alt text", data.alt_text);
  if (data.suggested_actions?.length) {
    box.append(el("strong", "Suggested actions"));
    const list = el("ul");
    for (const action of data.suggested_actions) list.append(el("li", action));
    box.append(list);
  }
  return box;
}

// A generated result (AI or fallback) shown as the draft it was stored as.
export function renderResult(container, result) {
  const card = el("article", undefined, `card result ${result.fallback_used ? "is-fallback" : "is-ai"}`);
  const head = el("header", undefined, "result-head");
  head.append(sourceBadge(result.fallback_used, result.label), el("span", `Draft #${result.draft_id} · ${result.draft.status}`, "sub"));
  card.append(head);
  if (result.fallback_used) {
    const why = {
      no_provider: "no AI provider is configured",
      budget: "today's AI budget is used up",
      provider_error: `the AI provider did not answer (${result.error_kind ?? "error"})`,
      output_failed_checks: "the AI answer failed the output checks and was not used",
    }[result.fallback_reason] ?? result.error_kind ?? "fallback";
    card.append(el("p", `No AI answer was used (${why}): this is a rule-based template. Check it before use.`, "hint"));
  }
  card.append(facts(result));
  if (result.flags?.length) card.append(flagList(result.flags));
  if (result.data?.subject) {
    const subject = el("p", undefined, "subject");
    subject.append(el("strong", "Subject: "), document.createTextNode(result.data.subject));
    card.append(subject);
  }
  card.append(el("pre", result.text, "draft-text"));
  card.append(extras(result.data));
  const open = el("a", "Open in the review editor →", "button-link");
  open.href = `/review/${result.draft_id}`;
  card.append(open);
  container.replaceChildren(card);
}
