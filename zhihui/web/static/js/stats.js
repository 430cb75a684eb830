// 研判统计 (/stats): 警情统计 with 环比/同比 and 处警时效 KPIs for leaders and analysts, from
// /api/v1/analytics; CSV for Excel. Windows are Beijing-time days, whatever the workstation's zone.
import { html, useState, useEffect, useCallback, useRef } from "/static/vendor/preact-htm.mjs";
import { api, logout, download } from "./api.js";
import { t, register, getLang, fmtDateTime } from "./i18n.js";
import { LoginForm, toggleLang, platformNow, useScreen, mount } from "./widgets.js";

register({
  "stats.title": ["研判统计", "Statistics"],
  "stats.yesterday": ["昨日", "Yesterday"],
  "stats.today": ["今日", "Today"],
  "stats.week": ["近7日", "Last 7 days"],
  "stats.month": ["本月", "This month"],
  "stats.since": ["起", "From"],
  "stats.until": ["止", "To"],
  "stats.by": ["分组", "Group by"],
  "stats.kpiby": ["时效分组", "KPIs by"],
  "stats.police": ["仅警务类", "Police matters only"],
  "stats.query": ["查询", "Query"],
  "stats.counts": ["警情统计", "Incident counts"],
  "stats.kpis": ["处警时效", "Response timeliness"],
  "stats.total": ["合计", "Total"],
  "stats.mom": ["环比", "vs previous period"],
  "stats.yoy": ["同比", "vs a year earlier"],
  "stats.count": ["数量", "Count"],
  "stats.share": ["占比", "Share"],
  "stats.group": ["分组", "Group"],
  "stats.csv": ["导出CSV", "Export CSV"],
  "stats.xlsx": ["导出Excel", "Export Excel"],
  "stats.reports": ["治安形势评估报告", "Situation reports"],
  "stats.daily": ["日报（昨日）PDF", "Daily report (yesterday) PDF"],
  "stats.monthly": ["月报（本月）PDF", "Monthly report (this month) PDF"],
  "stats.hotspots": ["警情热点与预测", "Hotspots and prediction"],
  "hot.method": ["方法", "Method"],
  "hot.prospective": ["近重复预测（未来7天）", "Near-repeat forecast (next 7 days)"],
  "hot.kde": ["核密度热点（近28天）", "Kernel density (last 28 days)"],
  "hot.naive": ["长期热点（近一年）", "Long-run hotspots (last year)"],
  "hot.rank": ["排名", "Rank"], "hot.where": ["位置（中心）", "Where (centre)"],
  "hot.recent": ["近28天警情", "Incidents, 28 days"], "hot.score": ["风险值", "Risk score"],
  "hot.backtest": ["上期回测：按同一方法预测上一期，前{cov}%网格命中{hit}%的警情（{hits}/{events}），PAI {pai}",
    "Backtest: the same method one period earlier caught {hit}% of incidents ({hits}/{events}) in the top {cov}% of cells, PAI {pai}"],
  "hot.nobacktest": ["上期无警情，无法回测", "No incidents last period to backtest against"],
  "hot.none": ["数据不足，暂无热点", "Not enough data for hotspots yet"],
  "stats.none": ["该时段无数据", "No data in this period"],
  "stats.denied": ["无权查看统计（需研判、领导、指挥长、督察或管理员角色）", "Not allowed: statistics need an analyst, leader, commander, inspector or admin role"],
  "stats.console": ["指挥中心", "Console"],
  "stats.warnings": ["四色预警（上周）", "Four-colour warnings (last week)"],
  "stats.allgreen": ["上周各辖区各类警情均为绿色（正常）", "Every area and category was green (normal) last week"],
  "stats.measures": ["打防对策建议（规则生成）", "Suggested countermeasures (rule-based)"],
  "level.green": ["绿色·正常", "Green · normal"], "level.yellow": ["黄色·关注", "Yellow · watch"],
  "level.orange": ["橙色·紧急", "Orange · urgent"], "level.red": ["红色·严重", "Red · severe"],
  "by.category": ["类别", "Category"], "by.category2": ["类别（二级）", "Category (2nd level)"],
  "by.category3": ["类别（三级）", "Category (3rd level)"], "by.level": ["警情级别", "Level"],
  "by.jurisdiction": ["辖区", "Jurisdiction"], "by.channel": ["渠道", "Channel"], "by.day": ["日", "Day"],
  "by.week": ["周", "Week"], "by.month": ["月", "Month"], "by.hour": ["时段", "Hour"], "by.weekday": ["星期", "Weekday"],
  "kby.overall": ["全部", "Overall"], "kby.station": ["派出所", "Station"], "kby.unit": ["警组", "Unit"],
  "kby.shift": ["班次", "Shift"],
  "kpi.incidents": ["警情", "Incidents"], "kpi.a2d": ["接警→派警", "Answer→dispatch"],
  "kpi.d2s": ["派警→签收", "Dispatch→sign-off"], "kpi.s2a": ["签收→到场", "Sign-off→arrival"],
  "kpi.r2a": ["接警→到场", "Received→arrival"], "kpi.overdue": ["超时签收/反馈", "Overdue sign/feedback"],
  "kpi.ontime": ["按时反馈率", "Feedback on time"], "kpi.closure": ["结案率", "Closure rate"],
  "kpi.diverted": ["分流率", "12345 share"],
});

const BY = ["category", "category2", "category3", "level", "jurisdiction", "channel", "day", "week", "month", "hour", "weekday"];
const KBY = ["overall", "station", "unit", "shift"];
const DAY_MS = 86400000;

// Beijing-time midnight (as a Date) of the day `offset` days from the platform's today.
function bjMidnight(offset = 0) {
  const bj = new Date(platformNow() + 8 * 3600000);
  const midnightUtc = Date.UTC(bj.getUTCFullYear(), bj.getUTCMonth(), bj.getUTCDate()) - 8 * 3600000;
  return new Date(midnightUtc + offset * DAY_MS);
}

function bjMonthStart() {
  const bj = new Date(platformNow() + 8 * 3600000);
  return new Date(Date.UTC(bj.getUTCFullYear(), bj.getUTCMonth(), 1) - 8 * 3600000);
}

const PRESETS = {
  yesterday: () => [bjMidnight(-1), bjMidnight(0)],
  today: () => [bjMidnight(0), bjMidnight(1)],
  week: () => [bjMidnight(-6), bjMidnight(1)],
  month: () => [bjMonthStart(), bjMidnight(1)],
};

// <input type=date> values are Beijing dates.
const toDateInput = (d) => new Date(d.getTime() + 8 * 3600000).toISOString().slice(0, 10);
const fromDateInput = (s) => new Date(`${s}T00:00:00+08:00`);

function pct(x, signed = false) {
  if (x === null || x === undefined) return "—";
  const v = (x * 100).toFixed(1) + "%";
  return signed && x > 0 ? "+" + v : v;
}

function Change({ value }) {
  const cls = value > 0 ? "up" : value < 0 ? "down" : "";
  return html`<span class=${cls}>${pct(value, true)}</span>`;
}

function secs(p) {
  return p && p.n ? `${p.p50_s} / ${p.p90_s} s` : "—";
}


function Stats({ user }) {
  const [preset, setPreset] = useState("yesterday");
  const [[since, until], setWindow] = useState(PRESETS.yesterday());
  const [by, setBy] = useState("category");
  const [kby, setKby] = useState("overall");
  const [policeOnly, setPoliceOnly] = useState(false);
  const [counts, setCounts] = useState(null);
  const [kpis, setKpis] = useState(null);
  const [error, setError] = useState(null);
  const [warn, setWarn] = useState(null);
  const query = { since: since.toISOString(), until: until.toISOString() };
  useEffect(() => { api("/analytics/warnings").then(setWarn).catch(() => setWarn(null)); }, []);

  const seq = useRef(0);
  const load = useCallback(async () => {
    // Answers can come back out of order (昨日 then 今日 clicked quickly): only the latest request's count.
    const mine = ++seq.current;
    setError(null);
    try {
      const [c, k] = await Promise.all([
        api("/analytics/stats", { query: { ...query, by, police_only: policeOnly ? "true" : undefined } }),
        api("/analytics/kpis", { query: { ...query, by: kby } }),
      ]);
      if (mine !== seq.current) return;
      setCounts(c);
      setKpis(k);
    } catch (err) {
      if (mine === seq.current) setError(err.status === 403 ? t("stats.denied") : err.message);
    }
  }, [since.getTime(), until.getTime(), by, kby, policeOnly]);
  useEffect(() => { load(); }, [load]);

  const pick = (name) => { setPreset(name); setWindow(PRESETS[name]()); };
  const max = counts && counts.groups.length ? Math.max(...counts.groups.map((g) => g.count)) : 1;
  const withChanges = counts && counts.groups.some((g) => "previous" in g);
  return html`<header class="top">
      <h1>${t("app.title")} · ${t("stats.title")}</h1>
      <span data-testid="who">${user.full_name || user.username}</span>
      <a href="/">${t("stats.console")}</a>
      <button class="link" data-testid="lang-switch" onClick=${toggleLang}>${t("lang.switch")}</button>
      <button class="link" data-testid="logout" onClick=${logout}>${t("logout")}</button>
    </header>
    <main>
      <form class="controls" onSubmit=${(e) => { e.preventDefault(); load(); }}>
        <div class="presets" role="group">
          ${Object.keys(PRESETS).map((p) => html`<button type="button" data-testid=${"preset-" + p} aria-pressed=${preset === p ? "true" : "false"}
            onClick=${() => pick(p)}>${t("stats." + p)}</button>`)}
        </div>
        <label>${t("stats.since")}<input type="date" data-testid="since" value=${toDateInput(since)}
          onChange=${(e) => { setPreset(null); setWindow([fromDateInput(e.target.value), until]); }} /></label>
        <label>${t("stats.until")}<input type="date" data-testid="until" value=${toDateInput(new Date(until.getTime() - 1))}
          onChange=${(e) => { setPreset(null); setWindow([since, new Date(fromDateInput(e.target.value).getTime() + DAY_MS)]); }} /></label>
        <label>${t("stats.by")}<select data-testid="by" value=${by} onChange=${(e) => setBy(e.target.value)}>
          ${BY.map((b) => html`<option value=${b}>${t("by." + b)}</option>`)}</select></label>
        <label>${t("stats.kpiby")}<select data-testid="kby" value=${kby} onChange=${(e) => setKby(e.target.value)}>
          ${KBY.map((b) => html`<option value=${b}>${t("kby." + b)}</option>`)}</select></label>
        <label><span><input type="checkbox" data-testid="police-only" checked=${policeOnly}
          onChange=${(e) => setPoliceOnly(e.target.checked)} /> ${t("stats.police")}</span></label>
        <button class="primary" data-testid="query">${t("stats.query")}</button>
      </form>
      ${error && html`<p class="error" role="alert" data-testid="stats-error">${error}</p>`}
      ${counts && html`<section class="card" data-testid="counts">
        <h2>${t("stats.counts")} <small>${fmtDateTime(counts.since)} – ${fmtDateTime(counts.until)}</small>
          <button type="button" class="csv" data-testid="csv-counts"
            onClick=${() => download("/analytics/stats", { ...query, by }, `stats-${by}.csv`).catch((e) => setError(e.message))}>${t("stats.csv")}</button>
          <button type="button" class="csv" data-testid="xlsx-counts"
            onClick=${() => download("/analytics/stats", { ...query, by }, `stats-${by}.xlsx`, "xlsx").catch((e) => setError(e.message))}>${t("stats.xlsx")}</button></h2>
        <div class="totals">
          <span>${t("stats.total")} <b data-testid="total">${counts.total}</b></span>
          <span>${t("stats.mom")} ${counts.previous_total} (<${Change} value=${counts.mom_change} />)</span>
          <span>${t("stats.yoy")} ${counts.year_before_total} (<${Change} value=${counts.yoy_change} />)</span>
        </div>
        ${counts.groups.length === 0 ? html`<p>${t("stats.none")}</p>` : html`<table data-testid="count-table">
          <thead><tr><th>${t("by." + counts.by)}</th><th>${t("stats.count")}</th><th>${t("stats.share")}</th><th></th>
            ${withChanges && html`<th>${t("stats.mom")}</th><th>${t("stats.yoy")}</th>`}</tr></thead>
          <tbody>${counts.groups.map((g) => html`<tr data-testid="count-row" data-key=${g.key}>
            <td>${g.label}</td><td>${g.count}</td><td>${pct(g.share)}</td>
            <td class="barcell"><div class="bar" style=${`width:${(100 * g.count) / max}%`}></div></td>
            ${withChanges && html`<td><${Change} value=${g.mom_change} /></td><td><${Change} value=${g.yoy_change} /></td>`}
          </tr>`)}</tbody></table>`}
      </section>`}
      ${warn && html`<section class="card" data-testid="warnings">
        <h2>${t("stats.warnings")} <small>${fmtDateTime(warn.week_start)}</small></h2>
        <div class="totals">${["red", "orange", "yellow", "green"].map((lv) => html`<span class=${"chip " + lv}>
          ${t("level." + lv)} <b data-testid=${"level-" + lv}>${warn.summary.by_level[lv]}</b></span>`)}</div>
        ${warn.warnings.filter((w) => w.level !== "green").length === 0 ? html`<p>${t("stats.allgreen")}</p>` : html`<ul class="warnings">
          ${warn.warnings.filter((w) => w.level !== "green").map((w) => html`<li data-testid="warning" data-level=${w.level}>
            <span class=${"chip " + w.level}>${t("level." + w.level)}</span> <b>${w.area} · ${w.category}</b>
            — ${getLang() === "en" ? w.reason_en : w.reason_zh}</li>`)}</ul>`}
        ${warn.countermeasures.length > 0 && html`<h3>${t("stats.measures")}</h3><ul data-testid="countermeasures">
          ${warn.countermeasures.map((c) => html`<li>${c}</li>`)}</ul>`}
      </section>`}
      ${kpis && html`<section class="card" data-testid="kpis">
        <h2>${t("stats.kpis")} <small>p50 / p90</small>
          <button type="button" class="csv" data-testid="csv-kpis"
            onClick=${() => download("/analytics/kpis", { ...query, by: kby }, `kpis-${kby}.csv`).catch((e) => setError(e.message))}>${t("stats.csv")}</button>
          <button type="button" class="csv" data-testid="xlsx-kpis"
            onClick=${() => download("/analytics/kpis", { ...query, by: kby }, `kpis-${kby}.xlsx`, "xlsx").catch((e) => setError(e.message))}>${t("stats.xlsx")}</button></h2>
        ${kpis.groups.length === 0 ? html`<p>${t("stats.none")}</p>` : html`<table data-testid="kpi-table">
          <thead><tr><th>${t("stats.group")}</th><th>${t("kpi.incidents")}</th><th>${t("kpi.a2d")}</th><th>${t("kpi.d2s")}</th>
            <th>${t("kpi.s2a")}</th><th>${t("kpi.r2a")}</th><th>${t("kpi.overdue")}</th><th>${t("kpi.ontime")}</th>
            <th>${t("kpi.closure")}</th><th>${t("kpi.diverted")}</th></tr></thead>
          <tbody>${kpis.groups.map((g) => html`<tr data-testid="kpi-row" data-group=${g.group}>
            <td>${g.label}</td><td>${g.incidents}</td><td>${secs(g.answer_to_dispatch)}</td><td>${secs(g.dispatch_to_sign)}</td>
            <td>${secs(g.sign_to_arrival)}</td><td>${secs(g.received_to_arrival)}</td>
            <td>${g.sign_overdue} / ${g.feedback_overdue}</td><td>${pct(g.feedback_on_time_rate)}</td>
            <td>${pct(g.closure_rate)}</td><td>${pct(g.diversion_share)}</td></tr>`)}</tbody></table>`}
      </section>`}
      <${Hotspots} onError=${setError} />
      <section class="card" data-testid="reports">
        <h2>${t("stats.reports")}</h2>
        <div class="totals">
          <button type="button" class="csv" data-testid="report-daily" onClick=${() => download("/analytics/report",
            { period: "daily", date: toDateInput(bjMidnight(-1)) }, `report-daily-${toDateInput(bjMidnight(-1))}.pdf`, "pdf")
            .catch((e) => setError(e.message))}>${t("stats.daily")}</button>
          <button type="button" class="csv" data-testid="report-monthly" onClick=${() => download("/analytics/report",
            { period: "monthly", date: toDateInput(bjMidnight(0)) }, `report-monthly-${toDateInput(bjMidnight(0)).slice(0, 7)}.pdf`, "pdf")
            .catch((e) => setError(e.message))}>${t("stats.monthly")}</button>
        </div>
      </section>
    </main>`;
}

// 警情热点与预测: the top 2 % of grid cells on a small offline map (jurisdictions and main roads, no tiles),
// with the method's own backtest so the reader knows how far to trust it.
const HOT_METHODS = ["prospective", "kde", "naive"];

function Hotspots({ onError }) {
  const [method, setMethod] = useState("prospective");
  const [fc, setFc] = useState(null);
  const mapEl = useRef(null);
  const mapRef = useRef(null);
  useEffect(() => {
    const L = window.L;
    if (!L || !mapEl.current) return undefined;
    const m = L.map(mapEl.current, { preferCanvas: true, attributionControl: false, minZoom: 11, maxZoom: 18 });
    m.setView([22.54, 114.05], 13);
    const base = L.layerGroup().addTo(m);
    const cells = L.layerGroup().addTo(m);
    mapRef.current = { m, cells };
    api("/geo/basemap").then((b) => {
      L.geoJSON({ type: "FeatureCollection", features: b.roads.features.filter((f) => f.properties.r <= 3) },
        { interactive: false, style: { color: "#c8bfae", weight: 1.5 } }).addTo(base);
      if (b.bounds) m.fitBounds(b.bounds);
    }).catch(() => {});
    api("/geo/jurisdictions").then((j) => L.geoJSON(j, { interactive: false,
      style: { color: "#3b6ea5", weight: 1, fillOpacity: 0.03 } }).addTo(base)).catch(() => {});
    return () => m.remove();
  }, []);
  useEffect(() => {
    let live = true;
    api("/analytics/hotspots", { query: { method, coverage: 0.02 } })
      .then((r) => { if (live) setFc(r); })
      .catch((e) => { if (live) { setFc(null); onError(e.status === 403 ? t("stats.denied") : e.message); } });
    return () => { live = false; };
  }, [method]);
  useEffect(() => {
    const L = window.L;
    if (!L || !mapRef.current || !fc) return;
    const { m, cells } = mapRef.current;
    cells.clearLayers();
    const n = fc.features.length || 1;
    for (const f of fc.features) {
      const heat = 1 - (f.properties.rank - 1) / n;
      L.geoJSON(f, { style: { color: "#b2182b", weight: 1, fillColor: heat > 0.5 ? "#b2182b" : "#ef8a62",
        fillOpacity: 0.3 + 0.4 * heat } }).bindTooltip(`#${f.properties.rank} · ${f.properties.recent_28d}`).addTo(cells);
    }
    if (fc.features.length) m.fitBounds(L.geoJSON(fc).getBounds().pad(0.5), { maxZoom: 15 });
    mapEl.current.dataset.cells = String(fc.features.length); // what the map shows, for tests and screen readers' count
  }, [fc]);
  const bt = fc && fc.backtest;
  return html`<section class="card" data-testid="hotspots">
    <h2>${t("stats.hotspots")}
      <label class="inline">${t("hot.method")} <select data-testid="hot-method" value=${method}
        onChange=${(e) => setMethod(e.target.value)}>${HOT_METHODS.map((k) => html`<option value=${k}>${t("hot." + k)}</option>`)}</select></label></h2>
    <div class="hotgrid">
      <div class="hotmap" ref=${mapEl} data-testid="hot-map"></div>
      <div>
        ${fc && html`<p class="note" data-testid="hot-backtest">${bt && bt.hit_rate !== null && bt.hit_rate !== undefined
          ? t("hot.backtest", { cov: (100 * bt.coverage).toFixed(1), hit: Math.round(100 * bt.hit_rate), hits: bt.hits, events: bt.events, pai: bt.pai })
          : t("hot.nobacktest")}</p>`}
        ${fc && (fc.features.length === 0 ? html`<p>${t("hot.none")}</p>` : html`<table data-testid="hot-table">
          <thead><tr><th>${t("hot.rank")}</th><th>${t("hot.where")}</th><th>${t("hot.recent")}</th><th>${t("hot.score")}</th></tr></thead>
          <tbody>${fc.features.slice(0, 10).map((f) => html`<tr data-testid="hot-row">
            <td>${f.properties.rank}</td><td>${f.properties.lat.toFixed(4)}, ${f.properties.lon.toFixed(4)}</td>
            <td>${f.properties.recent_28d}</td><td>${f.properties.score}</td></tr>`)}</tbody></table>`)}
      </div>
    </div>
  </section>`;
}

function App() {
  const session = useScreen(() => `${t("stats.title")} · ${t("app.title")}`);
  if (!session) {
    return html`<${LoginForm} heading=${t("stats.title")} screenClass="login-screen" formClass="login-box" />`;
  }
  return html`<${Stats} user=${session} key=${session.username} />`;
}

mount(App);
