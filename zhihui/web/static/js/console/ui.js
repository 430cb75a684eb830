// Small shared pieces of the console: the Beijing-time clock and toasts.
import { html, useState, useEffect } from "/static/vendor/preact-htm.mjs";
import { fmtDateTime } from "../i18n.js";
import { useNow } from "../widgets.js";

export function Clock() {
  const now = useNow(1000);
  return html`<time class="clock" data-testid="clock">${fmtDateTime(new Date(now).toISOString())}</time>`;
}

const toastListeners = new Set();
let toastSeq = 0;

export function toast(text, kind = "info") {
  const item = { id: ++toastSeq, text, kind };
  toastListeners.forEach((fn) => fn(item));
}

export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    const fn = (item) => {
      setItems((prev) => [...prev.slice(-4), item]);
      setTimeout(() => setItems((prev) => prev.filter((i) => i.id !== item.id)), item.kind === "error" ? 8000 : 4000);
    };
    toastListeners.add(fn);
    return () => toastListeners.delete(fn);
  }, []);
  return html`<div class="toasts" aria-live="assertive">
    ${items.map((i) => html`<div key=${i.id} class=${"toast " + i.kind} data-testid="toast" role=${i.kind === "error" ? "alert" : "status"}>${i.text}</div>`)}
  </div>`;
}
