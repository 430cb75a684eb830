// 民警移动端: the officer's phone page. Orders for the officer's unit arrive live; the officer signs
// (签收), reports en route / on scene / handled, and sends feedback with a result code; the phone can
// share its position (browser geolocation is WGS-84).
import { html, render, useState, useEffect, useRef, useCallback } from "/static/vendor/preact-htm.mjs";
import { api, current, login, logout, onSession } from "./api.js";
import { connect } from "./stream.js";
import { t, register, setLang, getLang, onLang, fmtTime, fmtDuration } from "./i18n.js";

register({
  "field.title": ["民警移动端", "Officer"],
  "field.orders": ["当前指令", "Current orders"],
  "field.none": ["暂无指令，保持待命", "No orders: stand by"],
  "field.done": ["已完成 ({n})", "Done ({n})"],
  "field.new": ["收到新指令！", "New order!"],
  "field.share": ["共享我的位置", "Share my position"],
  "field.sharing": ["位置共享中 · 上次 {t}", "Sharing position · last {t}"],
  "field.sharing.wait": ["位置共享中 · 等待定位…", "Sharing position · waiting for a fix…"],
  "field.geo.denied": ["无法获取位置：{msg}", "No position: {msg}"],
  "field.ack": ["签收", "Sign for it"],
  "field.en_route": ["出发", "En route"],
  "field.on_scene": ["到场", "On scene"],
  "field.handled": ["处置完毕", "Handled"],
  "field.feedback": ["反馈", "Feedback"],
  "field.feedback.code": ["处置结果", "Result"],
  "field.feedback.text": ["反馈内容", "Report"],
  "field.feedback.send": ["提交反馈", "Send feedback"],
  "field.cancel": ["取消", "Cancel"],
  "field.sign_in": ["签收剩余", "Sign within"],
  "field.answer_in": ["反馈剩余", "Report within"],
  "field.caller": ["报警人", "Caller"],
  "field.unit": ["警力", "Unit"],
  "field.no_unit": ["此账号未绑定警力，无法接收指令", "This account has no unit: it cannot receive orders"],
  "field.navigate": ["导航", "Navigate"],
  "field.error": ["失败：{msg}", "Failed: {msg}"],
  "field.level": ["{n}类", "Level {n}"],
  "field.urgent": ["紧急", "Urgent"],
});

const ACTIVE = new Set(["sent", "signed", "en_route", "on_scene", "handled"]);
const NEXT = { signed: ["en_route", "btn-en-route"], en_route: ["on_scene", "btn-on-scene"], on_scene: ["handled", "btn-handled"] };

function Login() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(t("login.failed", { msg: err.message }));
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit}>
      <h1>${t("app.title")}<br /><small>${t("field.title")}</small></h1>
      <label>${t("login.username")}<input data-testid="login-username" autocomplete="username" value=${username}
        onInput=${(e) => setUsername(e.target.value)} required autocapitalize="off" /></label>
      <label>${t("login.password")}<input data-testid="login-password" type="password" autocomplete="current-password"
        value=${password} onInput=${(e) => setPassword(e.target.value)} required /></label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button class="primary big" data-testid="login-submit" disabled=${busy}>${t("login.submit")}</button>
      <button type="button" class="link" data-testid="lang-switch" onClick=${() => setLang(getLang() === "zh" ? "en" : "zh")}>${t("lang.switch")}</button>
    </form>
  </main>`;
}

function Countdown({ label, deadline, now }) {
  const left = (Date.parse(deadline) - now) / 1000;
  return html`<span class=${"cd" + (left < 0 ? " late" : left < 30 ? " soon" : "")}>${label} ${fmtDuration(left)}</span>`;
}

function Feedback({ codes, onSend, onCancel, busy }) {
  const [code, setCode] = useState("resolved");
  const [text, setText] = useState("");
  return html`<form class="fb" onSubmit=${(e) => { e.preventDefault(); if (text.trim()) onSend(code, text.trim()); }}>
    <label>${t("field.feedback.code")}<select data-testid="feedback-code" value=${code} onChange=${(e) => setCode(e.target.value)}>
      ${Object.entries(codes || {}).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select></label>
    <label>${t("field.feedback.text")}<textarea data-testid="feedback-text" rows="3" value=${text} required
      onInput=${(e) => setText(e.target.value)}></textarea></label>
    <div class="row"><button class="primary big" data-testid="feedback-submit" disabled=${busy || !text.trim()}>${t("field.feedback.send")}</button>
      <button type="button" class="big" onClick=${onCancel}>${t("field.cancel")}</button></div>
  </form>`;
}

function Order({ o, incident, codes, now, onChanged }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [writing, setWriting] = useState(false);
  const act = async (path, body) => {
    setBusy(true);
    setError(null);
    try {
      await api(`/instructions/${o.id}/${path}`, { method: "POST", body });
      setWriting(false);
      await onChanged();
    } catch (e) {
      setError(t("field.error", { msg: e.message }));
    } finally {
      setBusy(false);
    }
  };
  const inc = incident || {};
  const next = NEXT[o.status];
  const active = ACTIVE.has(o.status);
  return html`<article class=${"card" + (o.urgent ? " urgent" : "") + (o.sign_overdue || o.feedback_overdue ? " overdue" : "")}
    data-testid="order-card" data-instruction-id=${o.id} data-status=${o.status}>
    <header>
      <span class="kind">${o.kind_label}</span>
      ${inc.level && html`<span class=${"lvl lvl" + inc.level}>${t("field.level", { n: ["", "一", "二", "三"][inc.level] || inc.level })}</span>`}
      ${o.urgent && html`<span class="lvl urgent">${t("field.urgent")}</span>`}
      <span class="status" data-testid="order-status">${t("istatus." + o.status)}</span>
    </header>
    <h2>${inc.category_label ? inc.category_label.split("/").slice(-2).join(" / ") : ""}</h2>
    <p class="addr">${inc.address || ""}</p>
    <p class="desc">${inc.description || o.content}</p>
    ${inc.caller_phone && html`<p>${t("field.caller")}：${inc.caller_name || ""} <a class="tel" href=${"tel:" + inc.caller_phone}>${inc.caller_phone}</a></p>`}
    <p class="times">${fmtTime(o.issued_at)}
      ${o.status === "sent" && html` · <${Countdown} label=${t("field.sign_in")} deadline=${o.sign_deadline} now=${now} />`}
      ${active && o.status !== "sent" && html` · <${Countdown} label=${t("field.answer_in")} deadline=${o.feedback_deadline} now=${now} />`}
    </p>
    ${error && html`<p class="error" role="alert" data-testid="order-error">${error}</p>`}
    ${active && !writing && html`<div class="row">
      ${o.status === "sent" && html`<button class="primary big" data-testid="btn-ack" disabled=${busy} onClick=${() => act("acknowledge")}>${t("field.ack")}</button>`}
      ${next && html`<button class="primary big" data-testid=${next[1]} disabled=${busy} onClick=${() => act("status", { status: next[0] })}>${t("field." + next[0])}</button>`}
      ${o.status !== "sent" && html`<button class="big" data-testid="btn-feedback" disabled=${busy} onClick=${() => setWriting(true)}>${t("field.feedback")}</button>`}
    </div>`}
    ${writing && html`<${Feedback} codes=${codes} busy=${busy} onCancel=${() => setWriting(false)}
      onSend=${(code, text) => act("feedback", { result_code: code, text })} />`}
    ${o.feedback_text && html`<p class="done-text">${(codes && codes[o.result_code]) || o.result_code}：${o.feedback_text}</p>`}
  </article>`;
}

function useNow(ms) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const id = setInterval(() => setNow(Date.now()), ms); return () => clearInterval(id); }, [ms]);
  return now;
}

function Position({ unitId }) {
  // On duty the unit's position is shared unless the officer switched it off on this phone.
  const [on, setOn] = useState(localStorage.getItem("zhihui.share") !== "0");
  const [last, setLast] = useState(null);
  const [error, setError] = useState(null);
  const lastSent = useRef(0);
  useEffect(() => {
    localStorage.setItem("zhihui.share", on ? "1" : "0");
    if (!on || !unitId || !navigator.geolocation) return;
    const id = navigator.geolocation.watchPosition(async (pos) => {
      if (Date.now() - lastSent.current < 10000) return; // one fix every 10 s is plenty for dispatch
      lastSent.current = Date.now();
      const c = pos.coords;
      const body = { lat: c.latitude, lon: c.longitude, crs: "wgs84", at: new Date(pos.timestamp).toISOString() };
      if (c.speed !== null && c.speed >= 0) body.speed_kmh = Math.min(400, c.speed * 3.6);
      if (c.heading !== null && c.heading >= 0 && c.heading < 360) body.heading = c.heading;
      try {
        await api(`/units/${unitId}/position`, { method: "PUT", body });
        setLast(new Date().toISOString());
        setError(null);
      } catch (e) {
        lastSent.current = 0;
        setError(e.message);
      }
    }, (err) => setError(err.message), { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
    return () => navigator.geolocation.clearWatch(id);
  }, [on, unitId]);
  return html`<div class="share">
    <label class="switch"><input type="checkbox" data-testid="share-position" checked=${on}
      onChange=${(e) => setOn(e.target.checked)} /> ${t("field.share")}</label>
    ${on && html`<small data-testid="share-state">${last ? t("field.sharing", { t: fmtTime(last) }) : t("field.sharing.wait")}</small>`}
    ${error && html`<small class="error">${t("field.geo.denied", { msg: error })}</small>`}
  </div>`;
}

function Field({ user }) {
  const now = useNow(1000);
  const [unit, setUnit] = useState(null);
  const [orders, setOrders] = useState([]);
  const [incidents, setIncidents] = useState({});
  const [codes, setCodes] = useState(null);
  const [conn, setConn] = useState("connecting");
  const [alert, setAlert] = useState(false);
  const [showDone, setShowDone] = useState(false);
  const known = useRef(null);
  const myIncidents = useRef(new Set());

  const load = useCallback(async () => {
    const list = await api("/instructions", { query: { limit: 100 } });
    list.sort((a, b) => (ACTIVE.has(b.status) - ACTIVE.has(a.status)) || (b.urgent - a.urgent)
      || Date.parse(b.issued_at) - Date.parse(a.issued_at));
    const ids = new Set(list.map((o) => o.id));
    if (known.current && list.some((o) => !known.current.has(o.id) && o.status === "sent")) {
      setAlert(true);
      if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    }
    known.current = ids;
    setOrders(list);
    const need = [...new Set(list.filter((o) => o.incident_id).map((o) => o.incident_id))];
    myIncidents.current = new Set(need);
    const got = await Promise.all(need.map((id) => api(`/incidents/${id}`).catch(() => null)));
    setIncidents(Object.fromEntries(got.filter(Boolean).map((i) => [i.id, i])));
  }, []);

  useEffect(() => {
    if (user.unit_id) api(`/units/${user.unit_id}`).then(setUnit).catch(() => {});
    api("/instructions/result-codes").then(setCodes).catch(() => {});
    load().catch(() => {});
    let timer = null;
    const stream = connect({
      onState: setConn,
      onResync: () => load().catch(() => {}),
      onEvent: (ev) => {
        // Only what concerns this unit: its orders, and the incidents those orders are about.
        const mine = ev.unit_id === user.unit_id || (ev.incident_id && myIncidents.current.has(ev.incident_id));
        if (ev.type === "unit.position" || !mine) return;
        if (ev.type === "unit.status" && ev.unit_id === user.unit_id) api(`/units/${user.unit_id}`).then(setUnit).catch(() => {});
        clearTimeout(timer);
        timer = setTimeout(() => load().catch(() => {}), 200);
      },
    });
    return () => { stream.close(); clearTimeout(timer); };
  }, []);

  const active = orders.filter((o) => ACTIVE.has(o.status));
  const done = orders.filter((o) => !ACTIVE.has(o.status));
  return html`<div class="field">
    <header class="bar">
      <div><b>${unit ? unit.call_sign : user.full_name}</b> ${unit && html`<span class="ustatus">${t("ustatus." + unit.status)}</span>`}</div>
      <span class=${"conn conn-" + conn} data-testid="conn-state" role="status">${t("conn." + conn)}</span>
      <button class="link" data-testid="lang-switch" onClick=${() => setLang(getLang() === "zh" ? "en" : "zh")}>${t("lang.switch")}</button>
      <button class="link" data-testid="logout" onClick=${logout}>${t("logout")}</button>
    </header>
    ${!user.unit_id && html`<p class="error pad">${t("field.no_unit")}</p>`}
    ${user.unit_id && html`<${Position} unitId=${user.unit_id} />`}
    ${alert && html`<button class="newalert" data-testid="new-order-alert" role="alert" onClick=${() => setAlert(false)}>${t("field.new")}</button>`}
    <h1 class="pad">${t("field.orders")}</h1>
    ${active.length === 0 && html`<p class="pad muted" data-testid="no-orders">${t("field.none")}</p>`}
    ${active.map((o) => html`<${Order} key=${o.id} o=${o} incident=${incidents[o.incident_id]} codes=${codes} now=${now}
      onChanged=${() => { setAlert(false); return load(); }} />`)}
    ${done.length > 0 && html`<details class="done" open=${showDone} onToggle=${(e) => setShowDone(e.target.open)}>
      <summary>${t("field.done", { n: done.length })}</summary>
      ${done.map((o) => html`<${Order} key=${o.id} o=${o} incident=${incidents[o.incident_id]} codes=${codes} now=${now} onChanged=${load} />`)}
    </details>`}
  </div>`;
}

function App() {
  const [session, setSession] = useState(current());
  const [, setL] = useState(getLang());
  useEffect(() => onSession(setSession), []);
  useEffect(() => onLang(setL), []);
  useEffect(() => { document.title = `${t("field.title")} · zhihui`; });
  if (!session) return html`<${Login} />`;
  return html`<${Field} user=${session} key=${session.username} />`;
}

document.documentElement.lang = getLang() === "en" ? "en" : "zh-CN";
render(html`<${App} />`, document.getElementById("app"));
