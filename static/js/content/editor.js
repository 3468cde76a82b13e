// Draft editor: edit, approve / reject / mark used with feedback, and continue the draft as a chat.
import { api } from "../api.js";
import { el, errorMessage, flagList, pct, sourceBadge, usd, when } from "./common.js";

const root = document.getElementById("editor");
const id = root.dataset.draftId;
const canWrite = root.dataset.canWrite === "true";
const text = document.getElementById("draft-text");
const feedback = document.getElementById("draft-feedback");
const message = document.getElementById("draft-message");
const buttons = Object.fromEntries(["save-edit", "approve", "reject", "use"].map((b) => [b, document.getElementById(b)]));
const chatForm = document.getElementById("chat-form");
let draft = null;

function say(textValue, cls = "") {
  message.textContent = textValue;
  message.className = cls;
}

function render(next) {
  draft = next;
  const status = document.getElementById("draft-status");
  status.textContent = draft.status;
  status.className = `status status-${draft.status}`;
  const meta = document.getElementById("draft-meta");
  const ai = draft.ai;
  meta.replaceChildren(sourceBadge(draft.fallback_used, draft.label),
    el("span", ` ${draft.content_type.replaceAll("_", " ")} · confidence ${pct(draft.confidence)}` +
      (ai ? ` · ${ai.model ?? "no model"} · ${ai.tokens_in}/${ai.tokens_out} tokens · ${usd(ai.cost_usd)}` : "") +
      ` · v${draft.version}`, "sub"));
  if (draft.needs_review) meta.append(el("span", " needs review", "badge warn"));
  document.getElementById("draft-flags").replaceWith(Object.assign(flagList(draft.flags), { id: "draft-flags" }));
  text.value = draft.content;
  const trail = [`created ${when(draft.created_at)} by ${draft.created_by ?? "?"}`];
  if (draft.edited_at) trail.push(`edited ${when(draft.edited_at)} by ${draft.edited_by}`);
  if (draft.approved_at) trail.push(`approved ${when(draft.approved_at)} by ${draft.reviewed_by}`);
  if (draft.rejected_at) trail.push(`rejected ${when(draft.rejected_at)} by ${draft.reviewed_by}`);
  if (draft.used_at) trail.push(`used ${when(draft.used_at)} by ${draft.used_by}`);
  if (draft.feedback) trail.push(`feedback: “${draft.feedback}”`);
  trail.push(`edit distance from the AI text: ${draft.edit_distance ?? 0}`);
  document.getElementById("draft-edits").replaceChildren(...trail.map((line) => el("li", line)));
  const subject = document.getElementById("draft-subject");
  subject.hidden = !draft.structured?.subject;
  subject.replaceChildren(el("strong", "Subject: "), document.createTextNode(draft.structured?.subject ?? ""));
  document.getElementById("draft-structured").textContent = JSON.stringify(
    { output: draft.structured, checks: draft.checks, input: draft.input?.params }, null, 2);
  const isDraft = draft.status === "draft";
  text.readOnly = !(canWrite && isDraft);
  buttons["save-edit"].disabled = !(canWrite && isDraft);
  buttons.approve.disabled = !(canWrite && isDraft);
  buttons.reject.disabled = !(canWrite && isDraft);
  buttons.use.disabled = !(canWrite && draft.status === "approved");
  chatForm.querySelector("button").disabled = !(canWrite && isDraft);
  chatForm.elements.message.disabled = !(canWrite && isDraft);
  document.getElementById("chat-hint").textContent = isDraft
    ? "Ask for a revision; the AI rewrites the draft with the same rules and checks."
    : `This item is ${draft.status}: only drafts can be revised. The conversation is kept below.`;
  if (draft.conversation_id) loadChat(draft.conversation_id);
}

function renderChat(conversation) {
  const log = document.getElementById("chat-log");
  log.replaceChildren();
  for (const m of conversation.messages) {
    const item = el("li", undefined, `turn turn-${m.role}`);
    item.append(el("span", m.role === "user" ? "You" : "Assistant", "who"), el("pre", m.content));
    log.append(item);
  }
  log.append(el("li", `Chat cost so far: ${usd(conversation.cost_usd)}`, "hint"));
}

async function loadChat(conversationId) {
  renderChat(await api(`/api/conversations/${conversationId}`));
}

async function run(request, done) {
  for (const b of Object.values(buttons)) b.disabled = true;
  say("Saving…");
  try {
    render(await request());
    say(done, "ok");
  } catch (error) {
    say(errorMessage(error), "error");
    render(await api(`/api/drafts/${id}`));
  }
}

const review = (action) => () => api(`/api/drafts/${id}/${action}`, {
  method: "POST", json: { version: draft.version, ...(feedback.value.trim() ? { feedback: feedback.value.trim() } : {}) } });

buttons["save-edit"].addEventListener("click", () => run(() => api(`/api/drafts/${id}`,
  { method: "PATCH", json: { content: text.value, version: draft.version } }), "Edit saved."));
buttons.approve.addEventListener("click", async () => {
  if (text.value !== draft.content) {  // approve exactly what is on screen
    try {
      draft = await api(`/api/drafts/${id}`, { method: "PATCH", json: { content: text.value, version: draft.version } });
    } catch (error) {
      say(errorMessage(error), "error");
      return;
    }
  }
  run(review("approve"), "Approved. Nothing is sent: copy the text and use it, then mark it used.");
});
buttons.reject.addEventListener("click", () => run(review("reject"), "Rejected."));
buttons.use.addEventListener("click", () => run(review("use"), "Marked as used."));

chatForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (text.value !== draft.content && !confirm("Your unsaved edit will be replaced by the AI revision. Continue?")) return;
  const input = chatForm.elements.message;
  const button = chatForm.querySelector("button");
  button.disabled = true;
  say("Asking for a revision…");
  try {
    const turn = await api(`/api/drafts/${id}/chat`, { method: "POST", json: { message: input.value } });
    input.value = "";
    render(turn.draft);
    renderChat(turn.conversation);
    say(turn.revised ? "Draft revised by the AI." : turn.text, turn.revised ? "ok" : "error");
  } catch (error) {
    say(errorMessage(error), "error");
  } finally {
    button.disabled = !(canWrite && draft.status === "draft");
  }
});

api(`/api/drafts/${id}`).then(render).catch((error) => say(errorMessage(error), "error"));
