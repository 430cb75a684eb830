// 民警移动端: the officer's phone page. Orders for the officer's unit arrive live; the officer signs
// (签收), reports en route / on scene / handled, and sends feedback with a result code; the phone can
// share its position (browser geolocation is WGS-84).
import { html, useState, useEffect, useRef, useCallback } from "/static/vendor/preact-htm.mjs";
import { api, logout } from "./api.js";
import { connect } from "./stream.js";
import { t, register, getLang, fmtTime, fmtDuration } from "./i18n.js";
import { LoginForm, toggleLang, useNow, useScreen, mount } from "./widgets.js";

register({
  "field.title": ["民警移动端", "Officer"],
  "field.orders": ["当前指令", "Current orders"],
  "field.loading": ["正在读取指令…", "Loading orders…"],
  "field.none": ["暂无指令，保持待命", "No orders: stand by"],
  "field.done": ["已完成 ({n})", "Done ({n})"],
  "field.new": ["新指令！请立即查看签收", "New order! Read and sign for it"],
  "field.new.n": ["{n} 条新指令！请立即查看签收", "{n} new orders! Read and sign for them"],
  "field.withdrawn": ["指令已被指挥中心撤回", "An order was withdrawn by the command centre"],
  "field.dismiss": ["知道了", "OK"],
  "field.share": ["共享我的位置", "Share my position"],
  "field.sharing": ["位置共享中 · 上次发送 {t}", "Sharing position · last sent {t}"],
  "field.sharing.wait": ["位置共享中 · 等待定位…", "Sharing position · waiting for a fix…"],
  "field.share.off": ["位置未共享，指挥中心看不到本警组位置", "Not sharing: the centre cannot see this unit"],
  "field.geo.denied": ["无法获取位置：{msg}", "No position: {msg}"],
  "field.geo.permission": ["未允许定位，请在浏览器设置中允许本页面使用位置", "Location not allowed: allow it for this page in the browser settings"],
  "field.geo.unavailable": ["暂时无法定位（信号弱？）", "Position unavailable (weak signal?)"],
  "field.geo.timeout": ["定位超时，继续尝试中", "Position timed out, still trying"],
  "field.geo.unsupported": ["此设备不支持定位", "This device cannot report its position"],
  "field.geo.coarse": ["定位精度差（±{m} 米），暂不发送", "Fix too coarse (±{m} m), not sent"],
  "field.geo.send": ["位置发送失败：{msg}", "Position not sent: {msg}"],
  "field.ack": ["签收", "Sign for it"],
  "field.en_route": ["出发", "En route"],
  "field.on_scene": ["到场", "On scene"],
  "field.handled": ["处置完毕", "Handled"],
  "field.feedback": ["反馈", "Feedback"],
  "field.feedback.code": ["处置结果", "Result"],
  "field.feedback.choose": ["请选择处置结果", "Choose a result"],
  "field.feedback.text": ["反馈内容", "Report"],
  "field.feedback.hint": ["简要说明现场情况和处理结果", "What you found and what was done"],
  "field.feedback.send": ["提交反馈", "Send feedback"],
  "field.cancel": ["取消", "Cancel"],
  "field.sign_in": ["签收剩余", "Sign within"],
  "field.answer_in": ["反馈剩余", "Report within"],
  "field.sign_late": ["签收超时", "Sign-off overdue"],
  "field.answer_late": ["反馈超时", "Feedback overdue"],
  "field.issued": ["下达", "Issued"],
  "field.caller": ["报警人：", "Caller: "],
  "field.conflict": ["操作未执行：该指令当前为「{state}」", "Not done: the order is now “{state}”"],
  "field.number": ["警情编号", "Incident"],
  "field.note": ["指令内容", "Order text"],
  "field.no_unit": ["此账号未绑定警力，无法接收指令", "This account has no unit: it cannot receive orders"],
  "field.error": ["失败：{msg}", "Failed: {msg}"],
  "field.load_error": ["读取指令失败：{msg}", "Could not load orders: {msg}"],
  "field.retry": ["重试", "Retry"],
  "field.level": ["{n}类", "Level {n}"],
  "field.urgent": ["紧急", "Urgent"],
  "field.result": ["处置结果：{r}", "Result: {r}"],
  "kind.dispatch": ["处警指令", "Dispatch order"],
  "kind.analysis": ["研判指令", "Analysis order"],
  "kind.verify": ["核查指令", "Verification order"],
  "kind.warning": ["预警指令", "Warning order"],
  "rc.resolved": ["现场处置完毕", "Handled on scene"],
  "rc.case_filed": ["已受案/立案", "Case filed"],
  "rc.transferred": ["移交其他部门", "Handed to another department"],
  "rc.mediated": ["调解处理", "Mediated"],
  "rc.false_alarm": ["谎报/误报", "False alarm"],
  "rc.no_trace": ["到场未发现", "Nothing found on scene"],
  "rc.referred_12345": ["转12345处理", "Referred to 12345"],
  "rc.arrested": ["抓获嫌疑人", "Suspect arrested"],
  "rc.verified_present": ["核查属实", "Verified: true"],
  "rc.verified_absent": ["核查不属实", "Verified: not true"],
  "rc.other": ["其他", "Other"],
});

const ACTIVE = new Set(["sent", "signed", "en_route", "on_scene", "handled"]);
const CAN_ANSWER = new Set(["signed", "en_route", "on_scene", "handled"]);
// 处警 orders walk the field states; the other kinds are signed and answered only (domain.py).
const NEXT = { signed: ["en_route", "btn-en-route"], en_route: ["on_scene", "btn-on-scene"], on_scene: ["handled", "btn-handled"] };
const SEND_EVERY_MS = 10000; // one fix every 10 s is plenty for dispatch
const WORST_ACCURACY_M = 1000; // a cell-tower guess would send the wrong unit
const DONE_SHOWN = 30; // finished orders kept on the phone

// A server label, translated when we know the code, else as the server wrote it.
function label(prefix, code, fallback) {
  const key = `${prefix}.${code}`;
  const s = t(key);
  return s === key ? (fallback || code) : s;
}

function Login() {
  return html`<${LoginForm} screenClass="login" big
    heading=${html`${t("app.title")}<br /><small>${t("field.title")}</small>`} />`;
}

function Countdown({ deadline, now, sign, overdue }) {
  if (!deadline) return null;
  const left = (Date.parse(deadline) - now) / 1000;
  const late = overdue || left < 0;
  const text = late
    ? `${t(sign ? "field.sign_late" : "field.answer_late")} ${fmtDuration(Math.min(left, 0)).replace(/^-?/, "+")}`
    : `${t(sign ? "field.sign_in" : "field.answer_in")} ${fmtDuration(left)}`;
  return html`<span class=${"cd" + (late ? " late" : left < 60 ? " soon" : "")} data-testid="countdown">${text}</span>`;
}

function Feedback({ o, codes, onSend, onCancel, busy, error }) {
  const [code, setCode] = useState("");
  const [text, setText] = useState("");
  const field = error && error.field;
  const wrong = (name) => field === name || (field && field.endsWith("." + name));
  const send = (e) => {
    e.preventDefault();
    if (code && text.trim()) onSend(code, text.trim());
  };
  return html`<form class="fb" onSubmit=${send}>
    <label>${t("field.feedback.code")}
      <select data-testid="feedback-code" value=${code} onChange=${(e) => setCode(e.target.value)} required
        aria-invalid=${wrong("result_code") ? "true" : undefined} class=${wrong("result_code") ? "invalid" : ""}>
        <option value="" disabled>${t("field.feedback.choose")}</option>
        ${Object.entries(codes || {}).map(([k, v]) => html`<option value=${k}>${label("rc", k, v)}</option>`)}
      </select></label>
    <label>${t("field.feedback.text")}<textarea data-testid="feedback-text" rows="4" value=${text} required maxlength="4000"
      placeholder=${t("field.feedback.hint")} onInput=${(e) => setText(e.target.value)}
      aria-invalid=${wrong("text") ? "true" : undefined} class=${wrong("text") ? "invalid" : ""}></textarea></label>
    ${error && html`<p class="error" role="alert" data-testid="order-error">${errorText(error)}</p>`}
    <div class="row">
      <button class="primary big" data-testid="feedback-submit" data-for=${o.id} disabled=${busy || !code || !text.trim()}>${t("field.feedback.send")}</button>
      <button type="button" class="big" data-testid="feedback-cancel" onClick=${onCancel}>${t("field.cancel")}</button>
    </div>
  </form>`;
}

function Order({ o, incident, codes, now, fresh, onChanged }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [writing, setWriting] = useState(false);
  const act = async (path, body) => {
    setBusy(true);
    setError(null);
    try {
      await api(`/instructions/${o.id}/${path}`, { method: "POST", body });
      setWriting(false);
      await onChanged(o.id);
    } catch (e) {
      // 409: someone else (the desk, 代签收) moved the order meanwhile; 422 names the field. Say so,
      // and re-read so the buttons match the order's real state.
      setError(e);
      if (e.status === 409 || e.status === 404) onChanged(o.id).catch(() => {});
    } finally {
      setBusy(false);
    }
  };
  const inc = incident || {};
  const next = o.kind === "dispatch" ? NEXT[o.status] : null;
  const active = ACTIVE.has(o.status);
  const past = (d) => d && Date.parse(d) < now;
  const overdue = (o.status === "sent" && (o.sign_overdue || past(o.sign_deadline)))
    || (active && (o.feedback_overdue || past(o.feedback_deadline)));
  const note = o.content && inc.description && !o.content.includes(inc.description) ? o.content : null;
  const category = inc.category_label ? inc.category_label.split("/").slice(-2).join(" / ") : "";
  return html`<article id=${"order-" + o.id} class=${"card" + (o.urgent ? " urgent" : "") + (overdue ? " overdue" : "")
      + (fresh ? " fresh" : "") + (active ? "" : " finished")}
    data-testid="order-card" data-instruction-id=${o.id} data-status=${o.status}>
    <header>
      <span class="kind">${label("kind", o.kind, o.kind_label)}</span>
      ${inc.level && html`<span class=${"lvl lvl" + inc.level}>${t("field.level", { n: getLang() === "en" ? inc.level : ["", "一", "二", "三", "四"][inc.level] || inc.level })}</span>`}
      ${o.urgent && html`<span class="lvl urgent">${t("field.urgent")}</span>`}
      <span class=${"status st-" + o.status} data-testid="order-status">${t("istatus." + o.status)}</span>
    </header>
    ${category && html`<h2>${category}</h2>`}
    ${inc.address && html`<p class="addr" data-testid="order-address">${inc.address}</p>`}
    <p class="desc">${inc.description || o.content}</p>
    ${note && html`<p class="note"><b>${t("field.note")}：</b>${note}</p>`}
    ${inc.caller_phone && html`<p class="caller">${t("field.caller")}${inc.caller_name ? inc.caller_name + " " : ""}<a class="tel"
      data-testid="caller-phone" href=${"tel:" + inc.caller_phone}>${inc.caller_phone}</a></p>`}
    <p class="times">
      <span>${t("field.issued")} ${fmtTime(o.issued_at)}</span>
      ${inc.number && html`<span>${t("field.number")} ${inc.number}</span>`}
      ${o.status === "sent" && html`<${Countdown} sign deadline=${o.sign_deadline} now=${now} overdue=${o.sign_overdue} />`}
      ${CAN_ANSWER.has(o.status) && html`<${Countdown} deadline=${o.feedback_deadline} now=${now} overdue=${o.feedback_overdue} />`}
    </p>
    ${error && !writing && html`<p class="error" role="alert" data-testid="order-error">${errorText(error)}</p>`}
    ${active && !writing && html`<div class="row">
      ${o.status === "sent" && html`<button class="primary big" data-testid="btn-ack" disabled=${busy} onClick=${() => act("acknowledge")}>${t("field.ack")}</button>`}
      ${next && html`<button class="primary big" data-testid=${next[1]} disabled=${busy} onClick=${() => act("status", { status: next[0] })}>${t("field." + next[0])}</button>`}
      ${CAN_ANSWER.has(o.status) && html`<button class=${"big" + (next ? "" : " primary")} data-testid="btn-feedback" disabled=${busy}
        onClick=${() => { setError(null); setWriting(true); }}>${t("field.feedback")}</button>`}
    </div>`}
    ${writing && active && html`<${Feedback} o=${o} codes=${codes} busy=${busy} error=${error}
      onCancel=${() => { setError(null); setWriting(false); }}
      onSend=${(code, text) => act("feedback", { result_code: code, text })} />`}
    ${o.result_code && html`<p class="done-text">${t("field.result", { r: label("rc", o.result_code, codes && codes[o.result_code]) })}
      ${o.feedback_text ? " · " + o.feedback_text : ""}</p>`}
  </article>`;
}

// Geolocation failures as [key, vars], translated when shown (the language can change meanwhile).
function geoProblem(err) {
  if (err.code === 1) return ["field.geo.permission"];
  if (err.code === 2) return ["field.geo.unavailable"];
  if (err.code === 3) return ["field.geo.timeout"];
  return ["field.geo.denied", { msg: err.message }];
}

// What the server said, with the order's real state in words when it refused a step (409).
function errorText(e) {
  const state = e.status === 409 && e.body && e.body.state;
  if (state) return `${t("field.conflict", { state: t("istatus." + state) })} (${e.message})`;
  return t("field.error", { msg: e.message });
}

function Position({ unitId, onSent }) {
  // On duty the unit's position is shared unless the officer switched it off on this phone.
  const [on, setOn] = useState(localStorage.getItem("zhihui.share") !== "0");
  const [last, setLast] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    localStorage.setItem("zhihui.share", on ? "1" : "0");
    setProblem(null);
    if (!on || !unitId) return;
    if (!navigator.geolocation) { setProblem(["field.geo.unsupported"]); return; }
    // Throttled, but the newest fix is never lost: a fix inside the 10 s window waits for its end.
    let lastSent = 0;
    let pending = null;
    let timer = null;
    let sending = false;
    let stopped = false;
    const flush = async () => {
      timer = null;
      if (stopped || sending || !pending) return;
      const c = pending;
      pending = null;
      sending = true;
      lastSent = Date.now();
      // No `at`: the phone's clock may be off, the server stamps the fix on arrival (seconds old).
      const body = { lat: c.latitude, lon: c.longitude, crs: "wgs84" };
      if (c.speed !== null && c.speed >= 0) body.speed_kmh = Math.min(400, c.speed * 3.6);
      if (c.heading !== null && c.heading >= 0 && c.heading < 360) body.heading = c.heading;
      try {
        await api(`/units/${unitId}/position`, { method: "PUT", body });
        if (!stopped) { setLast(new Date().toISOString()); setProblem(null); onSent && onSent(); }
      } catch (e) {
        if (!stopped) setProblem(["field.geo.send", { msg: e.message }]);
        lastSent = 0;
      } finally {
        sending = false;
      }
    };
    const id = navigator.geolocation.watchPosition((pos) => {
      const c = pos.coords;
      if (c.accuracy && c.accuracy > WORST_ACCURACY_M) {
        setProblem(["field.geo.coarse", { m: Math.round(c.accuracy) }]);
        return;
      }
      pending = c;
      const wait = lastSent + SEND_EVERY_MS - Date.now();
      if (wait <= 0 && !sending) flush();
      else if (!timer) timer = setTimeout(flush, Math.max(wait, 500));
    }, (err) => setProblem(geoProblem(err)), { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
    return () => { stopped = true; clearTimeout(timer); navigator.geolocation.clearWatch(id); };
  }, [on, unitId]);
  return html`<div class=${"share" + (on ? " on" : "")}>
    <label class="switch"><input type="checkbox" role="switch" data-testid="share-position" checked=${on}
      onChange=${(e) => setOn(e.target.checked)} /> <span>${t("field.share")}</span></label>
    ${!(on && problem && !last) && html`<small class="state" data-testid="share-state">${on ? (last ? t("field.sharing", { t: fmtTime(last) })
      : t("field.sharing.wait")) : t("field.share.off")}</small>`}
    ${problem && html`<small class="error" role="alert" data-testid="share-error">${t(problem[0], problem[1])}</small>`}
  </div>`;
}

function byUrgency(a, b) {
  return (b.urgent - a.urgent) || ((b.status === "sent") - (a.status === "sent"))
    || Date.parse(b.issued_at) - Date.parse(a.issued_at);
}

function byRecent(a, b) {
  return Date.parse(b.feedback_at || b.issued_at) - Date.parse(a.feedback_at || a.issued_at);
}

function Field({ user }) {
  const now = useNow(1000);
  const [unit, setUnit] = useState(null);
  const [orders, setOrders] = useState(null);
  const [incidents, setIncidents] = useState({});
  const [codes, setCodes] = useState(null);
  const [conn, setConn] = useState("connecting");
  const [fresh, setFresh] = useState([]); // new orders not looked at yet
  const [withdrawn, setWithdrawn] = useState(false);
  const [loadError, setLoadError] = useState(null);
  const [showDone, setShowDone] = useState(false);
  const known = useRef(null); // id -> status at the last read
  const cache = useRef(new Map()); // incident id -> incident
  const stale = useRef(new Set()); // incidents changed since they were read
  const myIncidents = useRef(new Set());
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    if (!user.unit_id) { setOrders([]); return; } // a desk account on the phone page: nothing to show
    let list;
    try {
      // Every open order, however old, and the latest finished ones.
      const [open, finished] = await Promise.all([
        api("/instructions", { query: { status: [...ACTIVE], limit: 1000 } }),
        api("/instructions", { query: { status: ["feedback", "cancelled"], limit: DONE_SHOWN } }),
      ]);
      list = [...open, ...finished];
    } catch (e) {
      if (mine === seq.current) setLoadError(e);
      throw e;
    }
    if (mine !== seq.current) return; // a newer read is under way
    setLoadError(null);
    const before = known.current;
    if (before) {
      const added = list.filter((o) => !before.has(o.id) && o.status === "sent").map((o) => o.id);
      if (added.length) {
        setFresh((f) => [...new Set([...f, ...added])]);
        if (navigator.vibrate) navigator.vibrate([300, 120, 300]);
      }
      if (list.some((o) => o.status === "cancelled" && ACTIVE.has(before.get(o.id)))) {
        setWithdrawn(true);
        if (navigator.vibrate) navigator.vibrate(200);
      }
    }
    known.current = new Map(list.map((o) => [o.id, o.status]));
    myIncidents.current = new Set(list.filter((o) => o.incident_id).map((o) => o.incident_id));
    setOrders(list);
  }, []);

  // The incidents behind the orders on screen: each read once, again when an event says it changed.
  useEffect(() => {
    if (!orders) return;
    const shown = orders.filter((o) => o.incident_id && (showDone || ACTIVE.has(o.status))).map((o) => o.incident_id);
    const need = [...new Set(shown)].filter((id) => !cache.current.has(id) || stale.current.has(id));
    if (!need.length) return;
    need.forEach((id) => stale.current.delete(id));
    Promise.all(need.map((id) => api(`/incidents/${id}`).catch(() => null))).then((got) => {
      got.filter(Boolean).forEach((i) => cache.current.set(i.id, i));
      setIncidents(Object.fromEntries(cache.current));
    });
  }, [orders, showDone]);

  const reloadUnit = useCallback(() => {
    if (user.unit_id) api(`/units/${user.unit_id}`).then(setUnit).catch(() => {});
  }, [user.unit_id]);

  useEffect(() => {
    reloadUnit();
    api("/instructions/result-codes").then(setCodes).catch((e) => setLoadError(e));
    load().catch(() => {});
    let timer = null;
    const soon = () => { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 150); };
    const stream = connect({
      onState: setConn,
      onResync: () => { cache.current.forEach((_, id) => stale.current.add(id)); soon(); reloadUnit(); },
      onEvent: (ev) => {
        if (ev.type === "unit.position") return;
        if (ev.type === "unit.status") { if (ev.unit_id === user.unit_id) reloadUnit(); return; }
        // Only what concerns this unit: its orders, and the incidents those orders are about.
        const forMe = ev.unit_id === user.unit_id;
        const myIncident = ev.incident_id && myIncidents.current.has(ev.incident_id);
        if (!forMe && !myIncident) return;
        if (ev.incident_id && ev.type.startsWith("incident.")) stale.current.add(ev.incident_id);
        if (forMe && ev.type.startsWith("instruction.")) reloadUnit();
        soon();
      },
    });
    return () => { stream.close(); clearTimeout(timer); };
  }, []);

  const seen = (id) => setFresh((f) => f.filter((x) => x !== id));
  const showFresh = () => {
    const first = fresh[0];
    setFresh([]);
    const el = first && document.getElementById("order-" + first);
    if (el) el.scrollIntoView({ behavior: "smooth", block: "start" });
  };
  const list = orders || [];
  const active = list.filter((o) => ACTIVE.has(o.status)).sort(byUrgency);
  const done = list.filter((o) => !ACTIVE.has(o.status)).sort(byRecent);
  const card = (o) => html`<${Order} key=${o.id} o=${o} incident=${incidents[o.incident_id]} codes=${codes} now=${now}
    fresh=${fresh.includes(o.id)} onChanged=${(id) => { seen(id); return load(); }} />`;
  return html`<div class="field">
    <header class="bar">
      <div class="who">
        <b data-testid="unit-call-sign">${unit ? unit.call_sign : (user.full_name || user.username)}</b>
        ${unit && html`<span class=${"ustatus us-" + unit.status} data-testid="unit-status">${label("ustatus", unit.status, unit.status_label)}</span>`}
      </div>
      <span class=${"conn conn-" + conn} data-testid="conn-state" role="status">${t("conn." + conn)}</span>
      <button class="link" data-testid="lang-switch" onClick=${toggleLang}>${t("lang.switch")}</button>
      <button class="link" data-testid="logout" onClick=${logout}>${t("logout")}</button>
    </header>
    ${!user.unit_id && html`<p class="error pad" role="alert">${t("field.no_unit")}</p>`}
    ${user.unit_id && html`<${Position} unitId=${user.unit_id} />`}
    ${fresh.length > 0 && html`<div class="alert new" data-testid="new-order-alert" role="alert">
      <button onClick=${showFresh}>${fresh.length > 1 ? t("field.new.n", { n: fresh.length }) : t("field.new")}</button></div>`}
    ${withdrawn && html`<div class="alert withdrawn" role="alert" data-testid="withdrawn-alert">
      <span>${t("field.withdrawn")}</span><button class="link" onClick=${() => setWithdrawn(false)}>${t("field.dismiss")}</button></div>`}
    ${loadError && html`<div class="alert failed" role="alert" data-testid="load-error">
      <span>${t("field.load_error", { msg: loadError.message })}</span>
      <button class="link" onClick=${() => load().catch(() => {})}>${t("field.retry")}</button></div>`}
    <h1 class="pad">${t("field.orders")}${active.length ? ` (${active.length})` : ""}</h1>
    ${orders === null && !loadError && html`<p class="pad muted">${t("field.loading")}</p>`}
    ${orders !== null && active.length === 0 && html`<p class="pad muted none" data-testid="no-orders">${t("field.none")}</p>`}
    ${active.map(card)}
    ${done.length > 0 && html`<details class="done" data-testid="done-orders" open=${showDone} onToggle=${(e) => setShowDone(e.target.open)}>
      <summary>${t("field.done", { n: done.length })}</summary>
      ${showDone && done.map(card)}
    </details>`}
  </div>`;
}

function App() {
  const session = useScreen(() => `${t("field.title")} · ${t("app.title")}`);
  const [me, setMe] = useState(null);
  const username = session && session.username;
  // The token names the officer's unit; /auth/me is the current binding (a session survives a reload).
  useEffect(() => {
    setMe(null);
    if (username) api("/auth/me").then(setMe).catch(() => {});
  }, [username]);
  if (!session) return html`<${Login} />`;
  const user = me && me.username === username ? { ...session, unit_id: me.unit_id, full_name: me.full_name } : session;
  return html`<${Field} user=${user} key=${username + ":" + user.unit_id} />`;
}

mount(App);
