// The command-centre console: login, header, intake / incident detail, wall map and queue, kept
// current by the live stream. Every state change comes from the server (events or re-reads), so
// several screens on the wall and at the desks always agree.
import { html, useState, useEffect, useRef, useCallback } from "/static/vendor/preact-htm.mjs";
import { api, logout, setSeat, seat } from "../api.js";
import { connect } from "../stream.js";
import { t, onLang } from "../i18n.js";
import { LoginForm, toggleLang, platformNow, useSandbox, useScreen, mount } from "../widgets.js";
import "./words.js";
import { WallMap } from "./map.js";
import { categoryLabel, loadCategories } from "./categories.js";
import { IntakePanel } from "./intake.js";
import { DetailPanel } from "./detail.js";
import { Queue } from "./queue.js";
import { Clock, Toasts, toast } from "./ui.js";
import { can } from "./roles.js";

const OPEN = new Set(["received", "dispatched", "on_scene", "handled"]);
const ACTIVE_ORDERS = ["sent", "signed", "en_route", "on_scene", "handled"];

function Login() {
  const [seatName, setSeatName] = useState(seat());
  return html`<${LoginForm} heading=${t("console.title")} screenClass="login-screen" formClass="login-box"
    beforeLogin=${() => setSeat(seatName)}>
    <label>${t("login.seat")}<input data-testid="login-seat" value=${seatName}
      onInput=${(e) => setSeatName(e.target.value)} maxlength="64" /></label>
  </${LoginForm}>`;
}

function Header({ user, conn, stats, wall, setWall }) {
  const sandbox = useSandbox();
  return html`<header class="top">
    <div class="brand">${t("console.title")}</div>
    <div class="stats" aria-live="polite">
      <span class="stat s-received" data-testid="stat-received">${t("stat.received")} <b>${stats.received}</b></span>
      <span class="stat s-active">${t("stat.active")} <b>${stats.active}</b></span>
      <span class=${"stat s-overdue" + (stats.overdue ? " alarm" : "")} data-testid="stat-overdue">${t("stat.overdue")} <b>${stats.overdue}</b></span>
      <span class="stat s-units">${t("stat.units")} <b>${stats.freeUnits}</b></span>
    </div>
    ${sandbox && html`<span class="sandbox-badge" data-testid="sandbox-badge" title=${t("sandbox.title")}>${t("sandbox.badge")}</span>`}
    <${Clock} />
    <span class=${"conn conn-" + conn} data-testid="conn-state" role="status">${t("conn." + conn)}</span>
    <span class="who" data-testid="who" title=${user.full_name}>${user.full_name.split(" ").slice(-1)[0]} · ${t("role." + user.role)}</span>
    ${(can(user, "stats") || can(user, "intel")) && html`<span class="pages">
      ${can(user, "stats") && html`<a class="link" href="/stats" data-testid="stats-link" title=${t("stats.link")}>${t("stats.link")}</a>`}
      ${can(user, "intel") && html`<a class="link" href="/intel" data-testid="intel-link" title=${t("intel.link")}>${t("intel.link")}</a>`}
    </span>`}
    <button class="link" data-testid="wall-switch" aria-pressed=${wall ? "true" : "false"} onClick=${() => setWall(!wall)}>${t(wall ? "wall.off" : "wall.on")}</button>
    <button class="link" data-testid="lang-switch" onClick=${toggleLang}>${t("lang.switch")}</button>
    <button class="link" data-testid="logout" onClick=${logout}>${t("logout")}</button>
  </header>`;
}

function Console({ user }) {
  const mapEl = useRef(null);
  const mapRef = useRef(null);
  const [incidents, setIncidents] = useState({});
  const [units, setUnits] = useState({});
  const [orders, setOrders] = useState([]);
  const [cameras, setCameras] = useState([]);
  const [selectedId, setSelectedId] = useState(null);
  const [tab, setTab] = useState(can(user, "intake") ? "intake" : "detail");
  const [conn, setConn] = useState("connecting");
  const [pick, setPick] = useState({ picking: false, lat: null, lon: null });
  // 大屏 (wall display): map and queue only, larger type; ?wall=1 in the URL or the header switch.
  const [wall, setWallState] = useState(new URLSearchParams(location.search).get("wall") === "1"
    || localStorage.getItem("zhihui.wall") === "1");
  const setWall = (on) => { localStorage.setItem("zhihui.wall", on ? "1" : "0"); setWallState(on); };
  const [version, setVersion] = useState(0); // bumps when the selected incident changed on the server
  const pickRef = useRef(pick);
  pickRef.current = pick;

  const loadIncidents = useCallback(async () => {
    const rows = await api("/incidents", { query: { open_only: true, limit: 1000 } });
    setIncidents(Object.fromEntries(rows.map((r) => [r.id, r])));
  }, []);
  const loadUnits = useCallback(async () => {
    const rows = await api("/units");
    setUnits(Object.fromEntries(rows.map((r) => [r.id, r])));
  }, []);
  // Every order not yet answered (指令跟踪); the overdue ones are those the server has flagged.
  const loadOverdue = useCallback(async () => {
    setOrders(await api("/instructions", { query: { status: ACTIVE_ORDERS, limit: 1000 } }));
  }, []);
  const [, setCatsLoaded] = useState(false);
  useEffect(() => { loadCategories().then(() => setCatsLoaded(true)).catch(() => {}); }, []);
  const reloadAll = useCallback(() => {
    Promise.all([loadIncidents(), loadUnits(), loadOverdue()]).catch((e) => toast(t("err.generic", { msg: e.message }), "error"));
  }, []);

  // The map and its static layers, once.
  useEffect(() => {
    const m = new WallMap(mapEl.current, {
      onIncidentClick: (id) => { setSelectedId(id); setTab("detail"); },
      onMapClick: (lat, lon) => {
        if (pickRef.current.picking) setPick({ picking: false, lat, lon, source: "map" });
      },
      onHotspotsShown: () => (can(user, "hotspots") ? api("/analytics/hotspots")
        .then((fc) => m.setHotspots(fc)).catch((e) => toast(e.message, "error")) : toast(t("hot.denied"), "error")),
    });
    mapRef.current = m;
    window.__zhihuiMap = m; // for the browser tests and the wall operator's console
    api("/geo/basemap").then((b) => {
      m.setBasemap(b);
      if (!b.bounds) return;
      // Every camera of the mapped area (the endpoint answers by radius; 5 km covers the district).
      const [[s, w], [n, e]] = b.bounds;
      api("/geo/cameras", { query: { near: `${(s + n) / 2},${(w + e) / 2}`, radius: 5000 } })
        .then((c) => m.setCameras(c)).catch(() => {});
    }).catch((e) => toast(e.message, "error"));
    api("/geo/jurisdictions").then((fc) => m.setJurisdictions(fc)).catch(() => {});
    api("/geo/places").then((p) => m.setPlaces(p)).catch(() => {});
    const ro = new ResizeObserver(() => m.invalidate());
    ro.observe(mapEl.current);
    const offLang = onLang(() => m.buildControl());
    return () => { ro.disconnect(); offLang(); m.map.remove(); };
  }, []);

  // Data and the live stream.
  useEffect(() => {
    reloadAll();
    const pending = new Map();
    let overdueTimer = null;
    const refreshIncident = (id) => {
      if (pending.has(id)) return;
      pending.set(id, setTimeout(async () => {
        pending.delete(id);
        try {
          const inc = await api(`/incidents/${id}`);
          setIncidents((prev) => {
            const next = { ...prev };
            if (OPEN.has(inc.status)) {
              const { events, instructions, callers, handoffs, ...row } = inc;
              next[id] = row;
            } else delete next[id];
            return next;
          });
          setVersion((v) => v + 1);
        } catch (_) { /* gone or forbidden: the next resync settles it */ }
      }, 60)); // coalesces the few events one change emits
    };
    const refreshUnit = async (id) => {
      try {
        const u = await api(`/units/${id}`);
        setUnits((prev) => ({ ...prev, [id]: u }));
      } catch (_) { /* ignore */ }
    };
    const stream = connect({
      onState: setConn,
      onResync: reloadAll,
      onEvent: (ev) => {
        const type = ev.type || "";
        if (type === "unit.position") {
          setUnits((prev) => (prev[ev.unit_id] ? { ...prev, [ev.unit_id]: { ...prev[ev.unit_id], lat: ev.lat, lon: ev.lon } } : prev));
          return;
        }
        if (type === "incident.created" && ev.incident_id && ev.data && ev.data.number) {
          // Show the new call at once from the event itself; the re-read below completes the row.
          const d = ev.data;
          setIncidents((prev) => (prev[ev.incident_id] ? prev : {
            ...prev,
            [ev.incident_id]: { id: ev.incident_id, number: d.number, channel: d.channel, category_code: d.category_code,
              category_label: categoryLabel(d.category_code, d.category_code), level: d.level, urgent: d.urgent,
              address: d.address, lat: d.lat ?? null, lon: d.lon ?? null, status: "received", received_at: ev.at,
              description: "", provisional: true },
          }));
        }
        if (ev.incident_id) refreshIncident(ev.incident_id);
        if (type.startsWith("unit.") && ev.unit_id) refreshUnit(ev.unit_id);
        if (type.startsWith("instruction.")) {
          clearTimeout(overdueTimer);
          overdueTimer = setTimeout(() => loadOverdue().catch(() => {}), 300);
          if (ev.unit_id) refreshUnit(ev.unit_id);
        }
      },
    });
    // The overdue timer runs on the server; re-read now and then even without events.
    const poll = setInterval(() => loadOverdue().catch(() => {}), 30000);
    return () => { stream.close(); clearInterval(poll); pending.forEach(clearTimeout); };
  }, []);

  const list = Object.values(incidents);
  const overdue = orders.filter((o) => o.sign_overdue || o.feedback_overdue);
  const overdueIncidents = new Set(overdue.map((i) => i.incident_id));
  const selected = selectedId ? incidents[selectedId] : null;

  // Keep the map in step with the data.
  useEffect(() => {
    const m = mapRef.current;
    if (!m) return;
    m.selectedId = selectedId;
    m.setIncidents(list, platformNow(), overdueIncidents);
  }, [incidents, orders, selectedId]);
  useEffect(() => { mapRef.current && mapRef.current.setUnits(Object.values(units)); }, [units]);
  useEffect(() => {
    const m = mapRef.current;
    if (!m) return;
    m.setPick(pick.lat, pick.lon);
    if (pick.lat !== null && pick.source !== "map") m.map.panTo([pick.lat, pick.lon]);
    m.map.getContainer().classList.toggle("picking", !!pick.picking);
  }, [pick]);
  useEffect(() => {
    const id = setInterval(() => mapRef.current && mapRef.current.setIncidents(Object.values(incidents), platformNow(), overdueIncidents), 30000);
    return () => clearInterval(id);
  }, [incidents, orders]);

  // Routes belong to the incident on screen: hidden while the intake form is up.
  useEffect(() => {
    const m = mapRef.current;
    if (!m) return;
    if (tab === "detail") m.layers.routes.addTo(m.map); else m.layers.routes.remove();
  }, [tab]);

  // Cameras near the selected incident (一键调用周边视频).
  useEffect(() => {
    if (!selected || selected.lat === null) { setCameras([]); mapRef.current && mapRef.current.highlightCameras([]); return; }
    api("/geo/cameras", { query: { near: `${selected.lat},${selected.lon}`, radius: 500 } })
      .then((c) => { setCameras(c); mapRef.current && mapRef.current.highlightCameras(c.map((x) => x.id)); })
      .catch(() => setCameras([]));
  }, [selectedId, selected && selected.lat, selected && selected.lon]);

  const select = useCallback((id) => {
    setSelectedId(id);
    setTab("detail");
    const inc = incidents[id];
    if (mapRef.current) mapRef.current.select(id, inc);
  }, [incidents]);

  // Global keys: Alt+N new call, Alt+Q queue, Esc back to intake, ? help.
  useEffect(() => {
    const onKey = (e) => {
      if (!can(user, "intake")) return;
      if (e.altKey && (e.key === "n" || e.key === "N" || e.code === "KeyN")) {
        e.preventDefault();
        setTab("intake");
        setTimeout(() => document.dispatchEvent(new CustomEvent("zhihui:new-call")), 0);
      } else if (e.altKey && e.code === "KeyQ") {
        e.preventDefault();
        // The first row, or the filter when the queue is empty.
        const first = document.querySelector("[data-testid=queue-row]") || document.querySelector("[data-testid=queue-filter]");
        if (first) first.focus();
      } else if (e.key === "Escape" && !pick.picking) {
        setTab("intake");
      } else if (e.key === "Escape" && pick.picking) {
        setPick((p) => ({ ...p, picking: false }));
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [pick.picking]);

  const stats = {
    received: list.filter((i) => i.status === "received").length,
    active: list.filter((i) => i.status !== "received").length,
    overdue: overdue.length,
    freeUnits: Object.values(units).filter((u) => u.status === "available").length,
  };

  useEffect(() => { mapRef.current && mapRef.current.invalidate(); }, [wall]);

  return html`<div class=${"console" + (wall ? " wall" : "")} data-testid="console">
    <${Header} user=${user} conn=${conn} stats=${stats} wall=${wall} setWall=${setWall} />
    <section class="work" aria-label=${t("tab.intake")}>
      <nav class="tabs" role="tablist">
        ${can(user, "intake") && html`<button role="tab" data-testid="tab-intake" aria-selected=${tab === "intake"} onClick=${() => setTab("intake")}>${t("tab.intake")}</button>`}
        <button role="tab" data-testid="tab-detail" aria-selected=${tab === "detail"} onClick=${() => setTab("detail")}>${t("tab.detail")}</button>
      </nav>
      ${can(user, "intake") && html`<div class="panel" hidden=${tab !== "intake"}>
        <${IntakePanel} pick=${pick} setPick=${setPick} incidents=${incidents} onRecorded=${(inc) => {
          setIncidents((prev) => (OPEN.has(inc.status) ? { ...prev, [inc.id]: inc } : prev));
          setPick({ picking: false, lat: null, lon: null });
        }} onOpen=${select} />
      </div>`}
      <div class="panel" hidden=${tab !== "detail"}>
        <${DetailPanel} id=${selectedId} version=${version} user=${user} map=${mapRef} cameras=${cameras}
          units=${units} active=${tab === "detail"} />
      </div>
    </section>
    <section class="mapwrap" aria-label="map"><div class="map" ref=${mapEl} data-testid="map"></div>
      ${pick.picking && html`<div class="pick-hint" role="status">${t("intake.point.picking")}</div>`}
    </section>
    <${Queue} incidents=${list} byId=${incidents} orders=${orders} overdue=${overdue} overdueIncidents=${overdueIncidents} selectedId=${selectedId}
      onSelect=${select} user=${user} />
    <${Toasts} />
  </div>`;
}

function App() {
  const session = useScreen(() => t("console.title"));
  if (!session) return html`<${Login} />`;
  return html`<${Console} user=${session} key=${session.username} />`;
}

mount(App);
