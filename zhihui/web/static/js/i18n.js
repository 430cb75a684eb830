// Chinese first, English on a switch. Times are shown in Asia/Shanghai whatever the browser's zone;
// the server stores and sends UTC.
import { platformNow } from "./clock.js";

const TEXT = {};
let lang = localStorage.getItem("zhihui.lang") === "en" ? "en" : "zh";
const listeners = new Set();

// register({key: ["中文", "English"]}); each screen adds its own words.
export function register(entries) {
  Object.assign(TEXT, entries);
}

export function t(key, vars) {
  const entry = TEXT[key];
  let s = entry ? entry[lang === "en" ? 1 : 0] : key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

export function getLang() {
  return lang;
}

export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  localStorage.setItem("zhihui.lang", lang);
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  listeners.forEach((fn) => fn(lang));
}

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const TZ = "Asia/Shanghai";
const fmtCache = {};
function fmt(opts) {
  const key = lang + JSON.stringify(opts);
  if (!fmtCache[key]) {
    fmtCache[key] = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", { timeZone: TZ, hour12: false, ...opts });
  }
  return fmtCache[key];
}

// 14:03:27 (today) or 11-24 14:03 (another day), in Beijing time.
export function fmtTime(iso, { seconds = true } = {}) {
  if (!iso) return "";
  const d = new Date(iso);
  const day = fmt({ year: "numeric", month: "2-digit", day: "2-digit" });
  const sameDay = day.format(d) === day.format(new Date(platformNow()));
  const time = fmt({ hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) }).format(d);
  if (sameDay) return time;
  return fmt({ month: "2-digit", day: "2-digit" }).format(d) + " " + time;
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  return fmt({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit" }).format(new Date(iso));
}

// Elapsed or remaining time as m:ss or h:mm:ss.
export function fmtDuration(seconds) {
  const neg = seconds < 0;
  let s = Math.floor(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const body = h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
  return (neg ? "-" : "") + body;
}

export function fmtDistance(m) {
  if (m === null || m === undefined) return "";
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

register({
  "app.title": ["智慧指挥 · 情指行一体化平台", "zhihui · Integrated Command Platform"],
  "login.title": ["登录", "Sign in"],
  "login.username": ["用户名", "Username"],
  "login.password": ["密码", "Password"],
  "login.seat": ["席位", "Seat"],
  "login.submit": ["登录", "Sign in"],
  "login.failed": ["登录失败：{msg}", "Sign-in failed: {msg}"],
  "logout": ["退出", "Sign out"],
  "lang.switch": ["English", "中文"],
  "conn.live": ["实时", "Live"],
  "conn.reconnecting": ["重连中…", "Reconnecting…"],
  "conn.connecting": ["连接中…", "Connecting…"],
  "err.generic": ["操作失败：{msg}", "Failed: {msg}"],
  "status.received": ["待派警", "Awaiting dispatch"],
  "status.dispatched": ["已派警", "Dispatched"],
  "status.on_scene": ["已到场", "On scene"],
  "status.handled": ["已反馈", "Handled"],
  "status.closed": ["已结案", "Closed"],
  "status.merged": ["已合并", "Merged"],
  "status.diverted": ["已分流", "Diverted"],
  "status.cancelled": ["已撤销", "Cancelled"],
  "istatus.sent": ["待签收", "Awaiting sign-off"],
  "istatus.signed": ["已签收", "Signed"],
  "istatus.en_route": ["已出发", "En route"],
  "istatus.on_scene": ["已到场", "On scene"],
  "istatus.handled": ["处置完毕", "Handled"],
  "istatus.feedback": ["已反馈", "Feedback given"],
  "istatus.cancelled": ["已撤回", "Withdrawn"],
  "ustatus.available": ["空闲", "Available"],
  "ustatus.assigned": ["已派", "Assigned"],
  "ustatus.en_route": ["途中", "En route"],
  "ustatus.on_scene": ["现场", "On scene"],
  "ustatus.off_duty": ["下线", "Off duty"],
  "ustatus.busy": ["忙碌", "Busy"],
});
