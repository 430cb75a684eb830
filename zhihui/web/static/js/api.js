// The API client shared by the console and the phone page: bearer token, renewal while the screen is
// in use, idempotency keys, and errors that name the field the server complained about.
const BASE = "/api/v1";
const KEY = "zhihui.session";
const listeners = new Set();
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let lastActivity = Date.now();

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.message(status, body));
    this.status = status;
    this.body = body;
    this.field = ApiError.field(body);
  }
  static field(body) {
    if (!body) return null;
    if (body.field) return body.field;
    if (Array.isArray(body.detail) && body.detail.length) {
      const d = body.detail[0];
      return d.field || (d.loc || []).slice(1).join(".") || null;
    }
    return null;
  }
  static message(status, body) {
    if (!body) return `HTTP ${status}`;
    if (Array.isArray(body.detail)) {
      return body.detail.map((d) => `${d.field || (d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
    return String(body.detail || `HTTP ${status}`);
  }
}

export function current() {
  return session;
}

export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(s) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(s));
}

export function seat() {
  let s = localStorage.getItem("zhihui.seat");
  if (!s) {
    s = "web-" + Math.random().toString(36).slice(2, 8);
    localStorage.setItem("zhihui.seat", s);
  }
  return s;
}

export function setSeat(s) {
  if (s) localStorage.setItem("zhihui.seat", s.slice(0, 64));
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const r = await fetch(`${BASE}/auth/token`, {
    method: "POST", body: form, headers: { "X-Seat": seat() },
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  setSession({ ...body, issued: Date.now() });
  return body;
}

export function logout() {
  setSession(null);
}

export function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function api(path, { method = "GET", body, idem, query } = {}) {
  if (!session) throw new ApiError(401, { detail: "not logged in" });
  let url = BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === "") continue;
      (Array.isArray(v) ? v : [v]).forEach((x) => q.append(k, x));
    }
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const headers = { Authorization: `Bearer ${session.access_token}`, "X-Seat": seat() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idem) headers["Idempotency-Key"] = idem;
  lastActivity = Date.now();
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (r.status === 401) {
    setSession(null);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// Renew the 30-minute token every 10 minutes while someone used the screen in the last 30 minutes;
// an unattended screen lets it lapse and locks itself (the server decides, we only stop renewing).
["keydown", "pointerdown", "touchstart"].forEach((e) =>
  addEventListener(e, () => { lastActivity = Date.now(); }, { passive: true }));
setInterval(async () => {
  if (!session) return;
  if (Date.now() - lastActivity > 30 * 60 * 1000) return;
  if (Date.now() - session.issued < 10 * 60 * 1000) return;
  try {
    const r = await fetch(`${BASE}/auth/refresh`, {
      method: "POST", headers: { Authorization: `Bearer ${session.access_token}`, "X-Seat": seat() },
    });
    if (r.ok) setSession({ ...(await r.json()), issued: Date.now() });
    else if (r.status === 401) setSession(null);
  } catch (_) { /* offline for a moment: try again next tick */ }
}, 30 * 1000);

export function streamUrl(after) {
  const q = new URLSearchParams({ access_token: session ? session.access_token : "" });
  if (after !== null && after !== undefined) q.set("after", String(after));
  return `${BASE}/events?${q}`;
}

// A file from the API (CSV, Excel, PDF) saved under `name`; the bearer token goes along, so no plain link.
export async function download(path, query, name, format = "csv") {
  const s = current();
  const q = new URLSearchParams({ ...query, format });
  const r = await fetch(`/api/v1${path}?${q}`, { headers: { Authorization: `Bearer ${s.access_token}` } });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
