// Admin page: list users, add one, change a role, deactivate or reactivate (over /api/users).
import { api } from "./api.js";

const { roles, me } = JSON.parse(document.getElementById("users-data").textContent);
const tbody = document.querySelector("#users-table tbody");
const status = document.getElementById("users-status");
const form = document.getElementById("new-user");
const result = document.getElementById("new-user-result");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function roleSelect(user) {
  const select = document.createElement("select");
  select.setAttribute("aria-label", `Role of ${user.email}`);
  for (const role of roles) select.append(new Option(role, role, false, role === user.role));
  select.disabled = user.id === me;
  if (user.id === me) select.title = "You cannot change your own role";
  select.addEventListener("change", () => change(user, { role: select.value }, `${user.email} is now ${select.value}.`));
  return select;
}

function activeButton(user) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = user.active ? "secondary small" : "small";
  button.textContent = user.active ? "Deactivate" : "Reactivate";
  button.disabled = user.id === me;
  button.addEventListener("click", () => change(user, { active: !user.active },
    `${user.email} ${user.active ? "deactivated" : "reactivated"}.`));
  return button;
}

function render(items) {
  tbody.replaceChildren(...items.map((user) => {
    const row = document.createElement("tr");
    row.dataset.email = user.email;
    const role = document.createElement("td");
    role.append(roleSelect(user));
    const action = document.createElement("td");
    action.append(activeButton(user));
    row.append(cell(user.email), cell(user.name), role, cell(user.active ? "active" : "deactivated", user.active ? "" : "muted-text"), action);
    return row;
  }));
}

async function load() {
  try {
    render((await api("/api/users")).items);
  } catch (error) {
    status.textContent = `Could not load users: ${error.message}`;
  }
}

async function change(user, json, done) {
  try {
    await api(`/api/users/${user.id}`, { method: "PATCH", json });
    status.textContent = done;
  } catch (error) {
    status.textContent = `Not changed: ${error.message}`;
  }
  await load();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const json = Object.fromEntries(new FormData(form));
  try {
    const user = await api("/api/users", { method: "POST", json });
    result.className = "ok";
    result.textContent = `Added ${user.email} as ${user.role}.`;
    form.reset();
    await load();
  } catch (error) {
    result.className = "error";
    const details = Array.isArray(error.details) ? error.details.map((d) => `${d.field}: ${d.reason}`).join("; ") : "";
    result.textContent = `Not added: ${error.message}${details ? ` (${details})` : ""}`;
  }
});

load();
