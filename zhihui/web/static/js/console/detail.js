// 警情详情 and 派警: the full timeline, callers, instructions with their deadlines and feedback,
// recommended units by road travel time (routes drawn on the map), one-click point-to-point
// dispatch of one or several units, nearby cameras, and 结案.
import { html, useState, useEffect, useCallback, useRef } from "/static/vendor/preact-htm.mjs";
import { api } from "../api.js";
import { t, fmtTime, fmtDuration, fmtDistance, getLang } from "../i18n.js";
import { toast } from "./ui.js";
import { useNow } from "../widgets.js";
import { categoryLabel } from "./categories.js";
import { can } from "./roles.js";

const OPEN = new Set(["received", "dispatched", "on_scene", "handled"]);
let resultCodes = null;

function Countdown({ deadline, done, now }) {
  if (!deadline || done) return null;
  const left = (Date.parse(deadline) - now) / 1000;
  return html`<span class=${"countdown" + (left < 0 ? " late" : left < 30 ? " soon" : "")}>${fmtDuration(left)}</span>`;
}

const NEXT_STEP = { signed: "en_route", en_route: "on_scene", on_scene: "handled" };

// A unit without a phone (fire engines, traffic on the radio) answers by voice: the desk records its
// steps on its behalf (代签收 / 代反馈), and may withdraw (撤回) an order with a reason.
function DeskActions({ i, codes, onDone }) {
  const [mode, setMode] = useState(null); // "feedback" | "cancel"
  const [code, setCode] = useState("");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const post = async (path, body) => {
    setBusy(true);
    try {
      await api(`/instructions/${i.id}/${path}`, { method: "POST", body });
      setMode(null);
      setText("");
      await onDone();
    } catch (e) {
      toast(t("err.generic", { msg: e.message }), "error");
    } finally {
      setBusy(false);
    }
  };
  const next = i.kind === "dispatch" ? NEXT_STEP[i.status] : null;
  const canAnswer = ["signed", "en_route", "on_scene", "handled"].includes(i.status);
  return html`<div class="desk-actions">
    ${i.status === "sent" && html`<button class="small" data-testid="desk-ack" disabled=${busy} onClick=${() => post("acknowledge")}>${t("desk.ack")}</button>`}
    ${next && html`<button class="small" data-testid="desk-step" disabled=${busy} onClick=${() => post("status", { status: next })}>${t("desk.step", { s: t("istatus." + next) })}</button>`}
    ${canAnswer && html`<button class="small" data-testid="desk-feedback" disabled=${busy} onClick=${() => setMode(mode === "feedback" ? null : "feedback")}>${t("desk.feedback")}</button>`}
    <button class="small" data-testid="desk-cancel" disabled=${busy} onClick=${() => setMode(mode === "cancel" ? null : "cancel")}>${t("desk.cancel")}</button>
    ${mode && html`<form class="desk-form" onSubmit=${(e) => {
      e.preventDefault();
      if (mode === "feedback") post("feedback", { result_code: code, text: text.trim() });
      else post("cancel", { reason: text.trim() });
    }}>
      ${mode === "feedback" && html`<label>${t("field.result")}<select data-testid="desk-feedback-code" value=${code} required
        onChange=${(e) => setCode(e.target.value)}><option value="">—</option>
        ${Object.entries(codes || {}).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select></label>`}
      <label>${t(mode === "feedback" ? "desk.feedback.text" : "desk.cancel.reason")}<input data-testid="desk-text" value=${text}
        required maxlength=${mode === "feedback" ? 4000 : 2000} onInput=${(e) => setText(e.target.value)} /></label>
      <button class="small primary" data-testid="desk-submit" disabled=${busy || !text.trim() || (mode === "feedback" && !code)}>${t("desk.submit")}</button>
    </form>`}
  </div>`;
}

function Instruction({ i, now, codes, user, onChanged }) {
  const signed = !!i.signed_at;
  const answered = !!i.feedback_at;
  const open = !["feedback", "cancelled"].includes(i.status);
  return html`<li class=${"instr" + (i.sign_overdue || i.feedback_overdue ? " overdue" : "")} data-testid="detail-instruction"
    data-instruction-id=${i.id} data-status=${i.status}>
    <div><b>${i.unit_call_sign || "—"}</b> · ${t("kind." + i.kind) === "kind." + i.kind ? i.kind_label : t("kind." + i.kind)}
      <span class=${"st ist-" + i.status} data-testid="instruction-status">${t("istatus." + i.status)}</span></div>
    <div class="muted small">${fmtTime(i.issued_at)}
      ${!signed && i.status !== "cancelled" && html` · ${t("detail.sign_by")} <${Countdown} deadline=${i.sign_deadline} now=${now} />`}
      ${signed && !answered && i.status !== "cancelled" && html` · ${t("detail.feedback_by")} <${Countdown} deadline=${i.feedback_deadline} now=${now} />`}
    </div>
    ${i.feedback_text && html`<div class="feedback" data-testid="instruction-feedback">${t("detail.feedback")}：
      ${(codes && codes[i.result_code]) || i.result_code} — ${i.feedback_text}</div>`}
    ${open && can(user, "dispatch") && html`<${DeskActions} i=${i} codes=${codes} onDone=${onChanged} />`}
  </li>`;
}

export function DetailPanel({ id, version, user, map, cameras, units, active }) {
  const now = useNow(1000);
  const [inc, setInc] = useState(null);
  const [recs, setRecs] = useState(null);
  const [chosen, setChosen] = useState(new Set());
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState("");
  const [codes, setCodes] = useState(resultCodes);

  useEffect(() => {
    if (!codes) api("/instructions/result-codes").then((c) => { resultCodes = c; setCodes(c); }).catch(() => {});
  }, []);

  const load = useCallback(async () => {
    if (!id) { setInc(null); return; }
    try {
      setInc(await api(`/incidents/${id}`));
    } catch (e) {
      toast(t("err.generic", { msg: e.message }), "error");
    }
  }, [id]);
  useEffect(() => { load(); }, [id, version]);
  useEffect(() => { setResult(""); setChosen(new Set()); setRecs(null); }, [id]);

  // Recommendations follow the incident and the units' availability.
  const freeKey = Object.values(units).filter((u) => u.status === "available").map((u) => u.id).join(",");
  useEffect(() => {
    if (!inc || !OPEN.has(inc.status) || inc.lat === null || inc.status === "handled" || !can(user, "recommend")) {
      setRecs(null);
      map.current && map.current.setRoutes(null, null);
      return;
    }
    let alive = true;
    api(`/incidents/${inc.id}/recommendations`, { query: { k: 5 } }).then((r) => {
      if (!alive) return;
      setRecs(r);
      setChosen((prev) => (prev.size ? new Set([...prev].filter((u) => r.units.some((x) => x.unit_id === u)))
        : new Set(r.units.length ? [r.units[0].unit_id] : [])));
      map.current && map.current.setRoutes(inc, r.units);
    }).catch((e) => { if (alive) setRecs({ error: e.message, units: [] }); });
    return () => { alive = false; };
  }, [inc && inc.id, inc && inc.status, freeKey]);
  useEffect(() => () => map.current && map.current.setRoutes(null, null), []);

  const dispatch = async () => {
    if (!chosen.size || busy) return;
    setBusy(true);
    try {
      const out = await api(`/incidents/${inc.id}/dispatch`, { method: "POST", body: { unit_ids: [...chosen] } });
      toast(t("detail.dispatched", { n: out.length }), "ok");
      setChosen(new Set());
      await load();
    } catch (e) {
      toast(t("err.generic", { msg: e.message }), "error");
    } finally {
      setBusy(false);
    }
  };
  const close = async (e) => {
    e.preventDefault();
    if (!result.trim()) return;
    setBusy(true);
    try {
      await api(`/incidents/${inc.id}/close`, { method: "POST", body: { result: result.trim() } });
      toast(t("detail.closed"), "ok");
      await load();
    } catch (err) {
      toast(t("err.generic", { msg: err.message }), "error");
    } finally {
      setBusy(false);
    }
  };
  // One listener; it reads the current panel through a ref, so a key pressed right after the tab
  // changes sees the new state. Only while the panel is on screen: a hidden panel never sends units.
  const keys = useRef(null);
  keys.current = { active, inc, dispatch };
  useEffect(() => {
    const onKey = (e) => {
      const k = keys.current;
      if (k.active && k.inc && can(user, "dispatch") && e.altKey && e.code === "KeyD") { e.preventDefault(); k.dispatch(); }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  if (!id) return html`<p class="muted pad" data-testid="detail-empty">${t("detail.none")}</p>`;
  if (!inc) return html`<p class="muted pad">…</p>`;
  const toggle = (uid) => setChosen((prev) => {
    const next = new Set(prev);
    if (next.has(uid)) next.delete(uid); else next.add(uid);
    return next;
  });
  const evLabel = (type) => (t("event." + type) === "event." + type ? type : t("event." + type));
  const en = getLang() === "en";

  return html`<article class="detail" data-testid="incident-detail" data-incident-id=${inc.id} data-status=${inc.status}>
    <header>
      <h2><span class=${"badge lvl" + inc.level}>${t("level." + inc.level)}</span>
        ${inc.urgent && html`<span class="badge urgent">${t("urgent")}</span>`} ${categoryLabel(inc.category_code, inc.category_label)}</h2>
      <div class="muted">${inc.number} · <span class=${"st st-" + inc.status} data-testid="detail-status">${t("status." + inc.status)}</span></div>
    </header>
    <dl class="facts">
      <dt>${t("intake.address")}</dt><dd>${inc.address || "—"}</dd>
      <dt>${t("detail.caller")}</dt><dd>${inc.caller_name || ""} ${inc.caller_phone ? html`<a href=${"tel:" + inc.caller_phone}>${inc.caller_phone}</a>` : ""}</dd>
      <dt>${t("detail.received")}</dt><dd>${fmtTime(inc.received_at)} (${fmtDuration((now - Date.parse(inc.received_at)) / 1000)})</dd>
    </dl>
    <p class="desc">${inc.description}</p>

    ${recs && html`<section class="box" data-testid="recommendations"><h4>${t("detail.recommend")}</h4>
      ${recs.error && html`<p class="field-error">${recs.error}</p>`}
      ${!recs.error && recs.units.length === 0 && html`<p class="muted">${t("detail.recommend.none")}</p>`}
      <ul class="recs">${recs.units.map((r, i) => html`<li key=${r.unit_id}>
        <label class="rec" data-testid="recommendation" data-unit-id=${r.unit_id}>
          ${can(user, "dispatch") && html`<input type="checkbox" checked=${chosen.has(r.unit_id)} onChange=${() => toggle(r.unit_id)} />`}
          <b>${i + 1}. ${r.call_sign}</b>
          <span class="eta">${r.eta_s !== null ? t("detail.eta", { t: fmtDuration(r.eta_s) }) : t("detail.recommend.straight")}</span>
          <span class="muted">${fmtDistance(r.road_distance_m ?? r.straight_line_m)}</span>
          ${r.streets && r.streets.length > 0 && html`<span class="muted small">${t("detail.via", { s: r.streets.slice(0, 3).join("→") })}</span>`}
        </label></li>`)}</ul>
      ${can(user, "dispatch") && html`<button class="primary" data-testid="dispatch-selected" disabled=${!chosen.size || busy} onClick=${dispatch}>
        ${t("detail.dispatch.selected", { n: chosen.size })}</button>`}
    </section>`}

    <section class="box" data-testid="cameras"><h4>${t("detail.cameras")}</h4>
      ${cameras.length === 0 ? html`<p class="muted">${t("detail.cameras.none")}</p>` : html`<ul class="cams">
        ${cameras.slice(0, 6).map((c) => html`<li>◉ ${c.name} <span class="muted">${fmtDistance(c.distance_m)}</span></li>`)}</ul>`}
    </section>

    <section><h4>${t("detail.instructions")}</h4>
      <ul class="instrs">${inc.instructions.map((i) => html`<${Instruction} key=${i.id} i=${i} now=${now} codes=${codes}
        user=${user} onChanged=${load} />`)}</ul>
    </section>

    ${inc.callers && inc.callers.length > 1 && html`<section><h4>${t("detail.callers")} (${inc.callers.length})</h4>
      <ul class="callers">${inc.callers.map((c) => html`<li>${fmtTime(c.received_at)} ${c.caller_name || ""} ${c.caller_phone || ""} — ${c.description}</li>`)}</ul></section>`}

    ${inc.handoffs && inc.handoffs.length > 0 && html`<section><h4>${t("detail.handoffs")}</h4>
      <ul>${inc.handoffs.map((h) => html`<li>${h.department} · ${h.status_label}</li>`)}</ul></section>`}

    ${OPEN.has(inc.status) && can(user, "close") && html`<form class="close-form" onSubmit=${close} data-testid="close-form">
      <label>${t("detail.close.result")}<textarea data-testid="close-result" rows="2" value=${result}
        onInput=${(e) => setResult(e.target.value)}></textarea></label>
      <button class="primary" data-testid="close-incident" disabled=${busy || !result.trim()}>${t("detail.close")}</button>
    </form>`}
    ${inc.close_result && html`<p class="box" data-testid="close-text">${t("detail.closed")}：${inc.close_result}</p>`}

    <section><h4>${t("detail.timeline")}</h4>
      <ol class="timeline" data-testid="timeline">${inc.events.map((e) => html`<li key=${e.id}>
        <time>${fmtTime(e.at)}</time> <b>${evLabel(e.type)}</b>
        <span class="muted">${e.user || ""}${e.seat ? "@" + e.seat : ""}</span>
        ${e.data && e.data.result_code && html` · ${(codes && codes[e.data.result_code]) || e.data.result_code}`}
        ${e.data && e.data.text && html` · ${e.data.text}`}
      </li>`)}</ol>
    </section>
    <span hidden>${en}</span>
  </article>`;
}
