// 警情队列: open incidents by level, urgency and age with ticking timers; overdue orders in red;
// 警情清零 (backlog) for supervisors.
import { html, useState, useEffect } from "/static/vendor/preact-htm.mjs";
import { api } from "../api.js";
import { t, fmtDuration, fmtTime } from "../i18n.js";
import { typeColour } from "./map.js";
import { useNow } from "../widgets.js";
import { categoryLabel } from "./categories.js";
import { can } from "./roles.js";

export function sortQueue(list) {
  return [...list].sort((a, b) =>
    (a.status === "received" ? 0 : 1) - (b.status === "received" ? 0 : 1)
    || a.level - b.level
    || (b.urgent ? 1 : 0) - (a.urgent ? 1 : 0)
    || Date.parse(a.received_at) - Date.parse(b.received_at));
}

function Row({ inc, now, overdue, selected, onSelect }) {
  const age = (now - Date.parse(inc.received_at)) / 1000;
  const leaf = categoryLabel(inc.category_code, inc.category_label, { leaf: true });
  const cls = ["qrow", `lvl${inc.level}`, inc.status === "received" ? "waiting" : "", overdue ? "overdue" : "",
    selected ? "selected" : ""].join(" ");
  const onKey = (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(inc.id); }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const rows = [...document.querySelectorAll("[data-testid=queue-row]")];
      const i = rows.indexOf(e.currentTarget);
      const next = rows[i + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
    }
  };
  return html`<li class=${cls} tabindex="0" role="option" data-testid="queue-row" data-incident-id=${inc.id} data-status=${inc.status}
    aria-selected=${selected ? "true" : "false"} onClick=${() => onSelect(inc.id)} onKeyDown=${onKey}>
    <span class="swatch" style=${{ background: typeColour(inc.category_code) }}></span>
    <div class="qmain">
      <div class="qtop"><span class=${"badge lvl" + inc.level}>${t("level." + inc.level)}</span>
        ${inc.urgent && html`<span class="badge urgent">${t("urgent")}</span>`}
        ${overdue && html`<span class="badge overdue">${t("overdue")}</span>`}
        <b class="qtype">${leaf}</b></div>
      <div class="qaddr">${inc.address || "—"}</div>
      <div class="qmeta"><span class=${"st st-" + inc.status}>${t("status." + inc.status)}</span>
        <span>${fmtTime(inc.received_at, { seconds: false })}</span>
        <span class="num">${inc.number.slice(-5)}</span></div>
    </div>
    <span class=${"timer" + (age > 600 && inc.status === "received" ? " late" : "")} data-testid="queue-timer">${fmtDuration(age)}</span>
  </li>`;
}

// 指令跟踪: every order not yet answered, the nearest deadline first (sign-off, then feedback).
function nextDeadline(o) {
  return o.status === "sent" ? o.sign_deadline : o.feedback_deadline;
}

function OrderRow({ o, inc, now, onSelect }) {
  const left = (Date.parse(nextDeadline(o)) - now) / 1000;
  const late = o.sign_overdue || o.feedback_overdue || left < 0;
  return html`<li class=${"orow" + (late ? " overdue" : "")} tabindex="0" data-testid="order-row" data-instruction-id=${o.id}
    data-status=${o.status} onClick=${() => onSelect(o.incident_id)}
    onKeyDown=${(e) => { if (e.key === "Enter") onSelect(o.incident_id); }}>
    <div class="qmain">
      <div class="qtop"><b>${o.unit_call_sign || "—"}</b>&nbsp;<span class=${"st ist-" + o.status}>${t("istatus." + o.status)}</span>
        ${o.sign_overdue && html`<span class="badge overdue">${t("event.instruction.sign_overdue")}</span>`}
        ${o.feedback_overdue && html`<span class="badge overdue">${t("event.instruction.feedback_overdue")}</span>`}</div>
      <div class="qaddr">${inc ? `${categoryLabel(inc.category_code, inc.category_label, { leaf: true })} · ${inc.address || ""}` : o.content}</div>
      <div class="qmeta">${o.kind_label} · ${fmtTime(o.issued_at, { seconds: false })}
        · ${o.status === "sent" ? t("detail.sign_by") : t("detail.feedback_by")}</div>
    </div>
    <span class=${"timer" + (late ? " late" : "")}>${fmtDuration(left)}</span>
  </li>`;
}

export function Queue({ incidents, byId, orders, overdue, overdueIncidents, selectedId, onSelect, user }) {
  const now = useNow(1000);
  const [tab, setTab] = useState("open");
  const [backlog, setBacklog] = useState(null);
  useEffect(() => {
    if (tab !== "backlog") return;
    let alive = true;
    const load = () => api("/incidents/backlog").then((r) => alive && setBacklog(r)).catch((e) => alive && setBacklog({ error: e.status }));
    load();
    const id = setInterval(load, 15000);
    return () => { alive = false; clearInterval(id); };
  }, [tab, incidents]);

  const [filter, setFilter] = useState("");
  // Filter by any part of the number, address, type, caller number or description.
  const q = filter.trim().toLowerCase();
  const matches = (inc) => !q || [inc.number, inc.address, inc.category_label, inc.caller_phone, inc.description,
    categoryLabel(inc.category_code, inc.category_label)].some((v) => v && String(v).toLowerCase().includes(q));
  let rows;
  if (tab === "open") rows = sortQueue(incidents.filter(matches));
  else if (tab === "overdue") rows = sortQueue(incidents.filter((i) => overdueIncidents.has(i.id) && matches(i)));
  else if (tab === "backlog") rows = backlog && !backlog.error ? sortQueue(backlog.filter(matches)) : [];
  else rows = [];

  return html`<aside class="queue" aria-label=${t("queue.title")}>
    <nav class="tabs" role="tablist">
      <button role="tab" data-testid="queue-tab-open" aria-selected=${tab === "open"} onClick=${() => setTab("open")}>${t("queue.open")} <b>${incidents.length}</b></button>
      <button role="tab" data-testid="queue-tab-overdue" aria-selected=${tab === "overdue"} class=${overdue.length ? "alarm" : ""} onClick=${() => setTab("overdue")}>${t("queue.overdue")} <b>${overdue.length}</b></button>
      <button role="tab" data-testid="queue-tab-orders" aria-selected=${tab === "orders"} onClick=${() => setTab("orders")}>${t("queue.orders")} <b>${orders.length}</b></button>
      ${can(user, "backlog") && html`<button role="tab" data-testid="queue-tab-backlog" aria-selected=${tab === "backlog"} onClick=${() => setTab("backlog")}>${t("queue.backlog")}</button>`}
    </nav>
    ${tab !== "orders" && html`<input class="qfilter" type="search" data-testid="queue-filter" value=${filter}
      placeholder=${t("queue.filter")} aria-label=${t("queue.filter")} onInput=${(e) => setFilter(e.target.value)} />`}
    ${tab === "overdue" && overdue.length > 0 && html`<ul class="overdue-list" data-testid="overdue-list">
      ${overdue.map((o) => html`<li key=${o.id} onClick=${() => onSelect(o.incident_id)}>
        <b>${o.unit_call_sign || ""}</b> ${o.sign_overdue ? t("event.instruction.sign_overdue") : t("event.instruction.feedback_overdue")}
        · ${t("istatus." + o.status)}</li>`)}</ul>`}
    ${tab === "backlog" && backlog && backlog.error && html`<p class="muted pad">${t("queue.forbidden")}</p>`}
    ${tab === "orders" && html`<ul class="qlist" data-testid="queue-orders">
      ${[...orders].sort((a, b) => Date.parse(nextDeadline(a)) - Date.parse(nextDeadline(b))).map((o) =>
        html`<${OrderRow} key=${o.id} o=${o} inc=${byId[o.incident_id]} now=${now} onSelect=${onSelect} />`)}
    </ul>`}
    <ul class="qlist" role="listbox" aria-label=${t("queue.title")} data-testid=${"queue-" + tab} hidden=${tab === "orders"}>
      ${rows.map((inc) => html`<${Row} key=${inc.id} inc=${inc} now=${now} overdue=${overdueIncidents.has(inc.id)}
        selected=${inc.id === selectedId} onSelect=${onSelect} />`)}
    </ul>
    ${rows.length === 0 && tab !== "orders" && !(backlog && backlog.error && tab === "backlog") && html`<p class="muted pad">${t("queue.empty")}</p>`}
  </aside>`;
}
