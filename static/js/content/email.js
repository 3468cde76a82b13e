// Email assistant: paste an email, pick order/type/tone → a reply draft (never sent).
import { api } from "../api.js";
import { el, renderResult, showError } from "./common.js";

const form = document.getElementById("email-form");
const result = document.getElementById("result");

async function loadOrders() {
  if (form.dataset.canWrite !== "true") return; // orders are the agents' data: read-only roles are not asked
  try {
    const orders = await api("/api/email/orders?per_page=100");
    const list = document.getElementById("order-list");
    for (const order of orders.items) {
      const option = el("option", `${order.status} · ${order.customer_name}`);
      option.value = order.order_number;
      list.append(option);
    }
  } catch {
    // Not allowed (read-only role) or no orders: the field still accepts a typed number.
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = { subject: data.get("subject"), body: data.get("body"), response_type: data.get("response_type"),
    tone: data.get("tone") };
  if (data.get("order_number")) body.order_number = data.get("order_number").trim();
  if (data.get("customer_name")) body.customer_name = data.get("customer_name").trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  result.replaceChildren(el("p", "Drafting…", "hint"));
  try {
    renderResult(result, await api("/api/email/draft", { method: "POST", json: body }));
  } catch (error) {
    showError(result, error);
  } finally {
    button.disabled = false;
  }
});

loadOrders();
