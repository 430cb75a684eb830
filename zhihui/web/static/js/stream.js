// The live stream (Server-Sent Events) with catch-up. The client remembers the last event id it
// saw; after a dropped connection it reconnects with ?after=<id> (and a current token) so the
// server replays what was missed, then asks the screen to re-read its lists, because on
// PostgreSQL an event can commit out of order while we were away.
import { streamUrl, current } from "./api.js";

export function connect({ onEvent, onState, onResync }) {
  let source = null;
  let lastId = null;
  let timer = null;
  let stopped = false;
  let opened = false;

  const open = () => {
    if (stopped || !current()) return;
    source = new EventSource(streamUrl(lastId));
    source.addEventListener("stream.open", (e) => {
      const info = JSON.parse(e.data);
      if (lastId === null) lastId = info.after;
      onState && onState("live");
      if (opened && onResync) onResync();
      opened = true;
    });
    source.onmessage = null;
    const handler = (e) => {
      if (e.lastEventId) {
        const id = Number(e.lastEventId);
        if (Number.isFinite(id) && (lastId === null || id > lastId)) lastId = id;
      }
      let data = null;
      try { data = JSON.parse(e.data); } catch (_) { return; }
      onEvent && onEvent(data);
    };
    // Every named event type goes through one handler: SSE needs a listener per name.
    source.addEventListener("message", handler);
    for (const t of TYPES) source.addEventListener(t, handler);
    source.onerror = () => {
      source.close();
      onState && onState("reconnecting");
      clearTimeout(timer);
      timer = setTimeout(open, 2000);
    };
  };
  open();
  return {
    close() { stopped = true; clearTimeout(timer); if (source) source.close(); },
    get lastId() { return lastId; },
  };
}

// The event names the server sends (core/events.py and the services); unknown names still count
// for the cursor on the next reconnect, they are only not pushed to the screen.
const INCIDENT = ["created", "received", "dispatched", "on_scene", "handled", "closed", "merged", "diverted",
  "cancelled", "merged_in", "merged_out", "reopened", "unmerged"];
const INSTRUCTION = ["sent", "signed", "en_route", "on_scene", "handled", "feedback", "cancelled", "sign_overdue",
  "feedback_overdue"];
const HANDOFF = ["sent", "accepted", "answered", "closed", "returned"];
export const TYPES = [
  ...INCIDENT.map((s) => `incident.${s}`), ...INSTRUCTION.map((s) => `instruction.${s}`),
  ...HANDOFF.map((s) => `handoff.${s}`), "unit.created", "unit.status", "unit.position",
];
