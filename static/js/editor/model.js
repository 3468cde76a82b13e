// The device's demand model: fitted in the background after start-up and imports. Until it is ready the
// editor says "fitting…" (Optimise still works; it then waits for the fit), and <body data-model> tells tests.
import { api } from "../api.js";

const POLL_MS = 500;

export function watchModel({ deviceId, ready, note }) {
  const show = (isReady) => {
    document.body.dataset.model = isReady ? "ready" : "fitting";
    note.hidden = isReady;
  };
  show(ready);
  if (ready) return;
  const poll = async () => {
    try {
      const status = await api(`/api/planogram/model-status?device_id=${encodeURIComponent(deviceId)}`);
      if (status.ready) return show(true);
    } catch {
      /* a failed poll is retried: the note stays until the model is known to be ready */
    }
    setTimeout(poll, POLL_MS);
    return undefined;
  };
  poll();
}
