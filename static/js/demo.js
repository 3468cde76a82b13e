// Fleet page, admins only: remove the demo fleet after an explicit confirmation (DELETE /api/admin/demo).
import { api } from "./api.js";

const ask = document.getElementById("demo-remove");
const confirmBox = document.getElementById("demo-confirm");
const yes = document.getElementById("demo-remove-yes");
const no = document.getElementById("demo-remove-no");
const result = document.getElementById("demo-result");

const showConfirm = (open) => {
  confirmBox.hidden = !open;
  ask.hidden = open;
  (open ? no : ask).focus();
};

ask.addEventListener("click", () => showConfirm(true));
no.addEventListener("click", () => showConfirm(false));

yes.addEventListener("click", async () => {
  yes.disabled = no.disabled = true;
  result.className = "";
  result.textContent = "Removing the demo fleet…";
  try {
    const done = await api("/api/admin/demo", { method: "DELETE" });
    const parts = Object.entries(done.removed).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind.replaceAll("_", " ")}`);
    result.className = "ok";
    result.textContent = `Demo fleet removed: ${parts.join(", ") || "nothing left to remove"}. Reloading…`;
    setTimeout(() => window.location.reload(), 1200);
  } catch (error) {
    result.className = "error";
    result.textContent = `Could not remove the demo fleet: ${error.message}`;
    yes.disabled = no.disabled = false;
  }
});
