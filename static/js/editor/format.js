// Small DOM and number helpers shared by the editor modules (text only: never innerHTML).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith("--")) node.style.setProperty(prop, v);
        else node.style[prop] = v;
      }
    }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}

let currencyFormat = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });

export function setCurrency(code) {
  try {
    currencyFormat = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
  } catch {
    /* unknown code: keep the default */
  }
}

export const money = (value) => (value === null || value === undefined ? "–" : currencyFormat.format(value));

export function signedMoney(value) {
  if (value === null || value === undefined) return "–";
  const rounded = Math.round(value * 100) / 100;
  if (rounded === 0) return `±${currencyFormat.format(0)}`;
  return `${rounded > 0 ? "+" : "−"}${currencyFormat.format(Math.abs(rounded))}`;
}

export const number = (value, digits = 1) =>
  value === null || value === undefined ? "–" : value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const signClass = (value) => (Math.abs(value ?? 0) < 0.005 ? "flat" : value > 0 ? "up" : "down");

// One colour per category, derived from its name (FNV-1a hash -> hue) so it is the same on every page load.
const colourCache = new Map();
export function categoryColour(category) {
  const name = String(category ?? "").toLowerCase();
  if (!colourCache.has(name)) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) {
      hash ^= name.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    const hue = hash % 360;
    colourCache.set(name, { strong: `hsl(${hue} 62% 42%)`, soft: `hsl(${hue} 70% 94%)` });
  }
  return colourCache.get(name);
}

export function scoreClass(score, hard) {
  if (hard || score === 0) return "bad";
  if (score >= 70) return "good";
  if (score >= 40) return "fair";
  return "poor";
}

export const rowLabel = (index) => String.fromCharCode(65 + index);

// A table header row; a label given as [label] is a numeric (right-aligned) column.
export const headRow = (...cols) =>
  el("tr", {}, cols.map((c) => (Array.isArray(c) ? el("th", { class: "num", text: c[0] }) : el("th", { text: c }))));
