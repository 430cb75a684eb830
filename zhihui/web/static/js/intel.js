// 情报研判 (/intel): the analyst's desk over /api/v1/intel — 重点人员 (search, record, add), 比中预警 from batch
// collision with the 核查指令 they caused, 数据导入 with its quarantine reasons, 人员轨迹 on a small offline map,
// 关系人员倒查 (a relation graph, chains between two persons, associates' recent records), 高危地区检索, 串并,
// 串并案 suggestions with their evidence, and 线索; lists imported from and exported to spreadsheets (批量导入 / 导出名单),
// orders sent by hand for hits that got none (研判下发), 高危地区名单 per crime type. Every person look-up carries the 查询事由 typed once at the top (the server audits it
// and refuses a look-up without one). Times are Beijing time, whatever the workstation's zone.
import { html, useState, useEffect, useRef, useCallback } from "/static/vendor/preact-htm.mjs";
import { api, current, logout, seat, ApiError, download } from "./api.js";
import { t, register, getLang, fmtDateTime } from "./i18n.js";
import { LoginForm, toggleLang, platformNow, useScreen, mount } from "./widgets.js";

// What the server accepts (zhihui/intel/persons.py, zhihui/intel/schema.py, zhihui/intel/ingest.py REASONS).
const READERS = ["analyst", "commander", "leader", "admin"];
const EDITORS = ["analyst", "admin"];
const CATEGORIES = ["在逃", "吸毒人员", "涉毒前科", "涉稳", "前科", "盗窃前科", "诈骗前科", "抢劫前科", "精神障碍肇事肇祸", "涉恐", "其他"];
const CONTROL_LEVELS = ["一级", "二级", "三级"];
const LEAD_SOURCES = ["群众举报", "特情", "网络巡查", "研判发现", "上级通报", "兄弟单位", "其他"];
const LEAD_STATUSES = ["new", "verifying", "confirmed", "dismissed"];
const CREDIBILITY = ["A", "B", "C", "D"];
const SOURCES = ["hotel_checkin", "internet_cafe", "checkpoint_pass", "transport_ticket"];
const HIT_STATUSES = ["new", "instructed", "no_station", "historical"];
const TABS = ["persons", "hits", "ingest", "trajectory", "relations", "origin", "copresence", "series", "leads"];
const KINDS = ["co_stay", "co_travel", "shared_phone", "shared_address", "family", "co_offending"];
const PURPOSE_KEY = "zhihui.intel.purpose";
const DAY_MS = 86400000;

register({
  "intel.title": ["情报研判", "Intelligence"],
  "intel.console": ["指挥中心", "Console"],
  "intel.stats": ["研判统计", "Statistics"],
  "intel.denied": ["无权使用情报研判（需研判、指挥长、领导或管理员角色）", "Not allowed: intelligence needs an analyst, commander, leader or admin role"],
  "intel.readonly": ["只读：建档、导入、比对和下发指令需研判员或管理员角色", "Read-only: recording, importing, collision runs and orders need an analyst or admin role"],
  "intel.sections": ["情报研判功能", "Intelligence sections"],
  "tab.persons": ["重点人员", "Key persons"], "tab.hits": ["比中预警", "Hits"], "tab.ingest": ["数据导入", "Import"],
  "tab.trajectory": ["轨迹", "Trajectory"], "tab.origin": ["高危地区", "High-risk origin"],
  "tab.copresence": ["串并", "Linked cases"], "tab.leads": ["线索", "Leads"],
  "tab.relations": ["关系倒查", "Relations"], "tab.series": ["串并案", "Case series"],
  "g.person": ["人员（身份证号或重点人员编号）", "Person (ID number or key-person no.)"], "g.k": ["层数", "Hops"],
  "g.kinds": ["关系类型", "Relation kinds"], "g.query": ["查关系", "Relations"], "g.days": ["近N天", "Last N days"],
  "g.seen": ["关系人近期活动", "Associates seen"], "g.path": ["关系链", "Chain"], "g.to": ["另一人（身份证号）", "Other person (ID)"],
  "g.result": ["{center}：{k}层内关系人 {n} 人（共 {total} 人）", "{center}: {n} persons within {k} hops (of {total})"],
  "g.truncated": ["仅显示最近、最强的 {n} 人", "Showing the nearest and strongest {n}"],
  "g.graph": ["关系图", "Relation graph"], "g.node": ["人员", "Person"], "g.hops": ["层", "Hop"], "g.score": ["关联度", "Strength"],
  "g.listed": ["在库", "On a list"], "g.relations": ["关系（{n}条）", "Relations ({n})"], "g.kind": ["关系", "Relation"],
  "g.count": ["次数", "Times"], "g.evidence": ["依据", "Evidence"], "g.first": ["首次", "First"], "g.last": ["末次", "Last"],
  "g.center": ["以此人为中心", "Centre on this person"], "g.nopath": ["两人之间未发现关系链", "No chain of relations between them"],
  "g.chain": ["关系链：{n} 步", "Chain: {n} steps"], "g.step": ["第{n}步", "Step {n}"],
  "g.sightings": ["关系人近 {days} 天活动（{n}条，新在前）", "Associates' records in the last {days} days ({n}, newest first)"],
  "g.via": ["关联方式", "Linked by"], "g.record": ["登记关系（亲属/同案）", "Record a relation (family / co-offending)"],
  "g.other": ["关系人（身份证号）", "Other person (ID)"], "g.rkind": ["关系", "Relation"],
  "g.detail": ["说明（如父子、案件编号）", "Detail (e.g. father/son, case number)"], "g.source": ["来源（户籍/案卷）", "Source (hukou / case file)"],
  "g.save": ["登记", "Record"], "g.records": ["查看{n}条记录", "{n} records"], "g.recorded": ["已登记关系 #{id}", "Relation #{id} recorded"], "g.hopsn": ["{n}层", "{n} hop(s)"],
  "kind.co_stay": ["同住", "Stayed together"], "kind.co_travel": ["同行", "Travelled together"],
  "kind.shared_phone": ["同机号", "Shared phone"], "kind.shared_address": ["同址", "Shared address"],
  "kind.family": ["亲属", "Family"], "kind.co_offending": ["同案", "Co-offending"],
  "s.incident": ["警情ID", "Incident ID"], "s.top": ["显示条数", "Show"], "s.query": ["串并分析", "Find series"],
  "s.result": ["警情 {number}：候选 {candidates} 起，按同一作案人可能性列出前 {n} 起", "Incident {number}: {candidates} candidates, the {n} most likely by the same offender"],
  "s.score": ["同一作案人可能性", "P(same offender)"], "s.number": ["警情编号", "Incident"], "s.category": ["警情类别", "Type"],
  "s.dist": ["距离", "Distance"], "s.gap": ["间隔", "Apart"], "s.evidence": ["串并依据", "Evidence"],
  "s.days": ["{n}天", "{n} d"], "s.hours": ["{n}小时", "{n} h"], "s.m": ["{n}米", "{n} m"],
  "s.note": ["同类警情、前后180天、5公里内；模型以模拟的已破系列案训练（GENERATED），仅供研判参考", "Same crime group, ±180 days, within 5 km; the model is trained on GENERATED solved series, a hint for the analyst"],
  "s.copresence": ["对选中警情做串并（轨迹碰撞）", "Co-presence over the selected incidents"],
  "purpose.label": ["查询事由", "Purpose of look-up"],
  "purpose.hint": ["人员查询均记录审计（用户、时间、事由），至少4个字，本次登录内有效", "Every person look-up is audited (user, time, purpose); at least 4 characters, kept for this session"],
  "purpose.placeholder": ["如：某案线索核查", "e.g. checking a lead in case X"],
  "purpose.needed": ["请先填写查询事由（至少4个字）再查询", "Enter the purpose of the look-up (at least 4 characters) first"],
  "common.query": ["查询", "Search"], "common.refresh": ["刷新", "Refresh"], "common.all": ["全部", "All"],
  "common.none": ["无记录", "Nothing found"], "common.since": ["起", "From"], "common.until": ["止", "To"],
  "common.save": ["保存", "Save"], "common.cancel": ["取消", "Cancel"], "common.status": ["状态", "Status"],
  "common.time": ["时间", "Time"], "common.place": ["地点", "Place"], "common.source": ["来源", "Source"],
  "common.station": ["责任单位", "Station"], "common.choose": ["请选择", "Choose"], "common.optional": ["选填", "optional"],
  "common.loading": ["加载中…", "Loading…"], "common.listsep": ["多个用逗号分隔", "separate several with commas"],
  "p.q": ["姓名/拼音/证件号/手机/车牌", "Name / pinyin / ID / phone / plate"],
  "p.category": ["人员类别", "Category"], "p.status.active": ["在管", "Active"], "p.status.archived": ["已撤管", "Archived"],
  "p.results": ["查询结果（{n}人）", "Results ({n})"], "p.name": ["姓名", "Name"], "p.id_number": ["身份证号", "ID number"],
  "p.control_level": ["管控级别", "Control level"], "p.org_id": ["责任单位", "Station"], "p.officer": ["责任民警", "Officer"],
  "p.phones": ["手机号", "Phones"], "p.plates": ["车牌号", "Plates"], "p.addresses": ["住址", "Addresses"],
  "p.note": ["备注", "Note"], "p.birth": ["出生日期", "Date of birth"], "p.sex": ["性别", "Sex"], "p.hukou": ["户籍地代码", "Hukou code"],
  "p.created": ["建档时间", "Recorded"], "p.open": ["详情", "Open"], "p.detail": ["人员详情", "Person record"],
  "p.trajectory": ["查看轨迹", "Trajectory"], "p.add": ["新增重点人员", "Add a key person"], "p.submit": ["建档", "Record"],
  "p.created.ok": ["已建档：#{id} {name}", "Recorded: #{id} {name}"], "p.updated": ["已保存", "Saved"],
  "p.sex.M": ["男", "Male"], "p.sex.F": ["女", "Female"], "p.aliases": ["别名", "Aliases"],
  "p.addresses.hint": ["多个用分号分隔", "separate several with semicolons"],
  "p.id.hint": ["18位，按 GB 11643 校验", "18 characters, GB 11643 check digit"],
  "p.export": ["导出名单", "Export list"],
  "imp.title": ["批量导入名单", "Import a list"],
  "imp.hint": ["CSV（UTF-8 或 GBK）或 Excel .xlsx；表头需含 姓名、人员类别，可含 身份证号、管控级别、联系电话、车牌号、住址、责任单位、责任民警、备注",
    "CSV (UTF-8 or GBK) or Excel .xlsx; the header needs 姓名 (name) and 人员类别 (category), and may hold 身份证号, 管控级别, 联系电话, 车牌号, 住址, 责任单位, 责任民警, 备注"],
  "imp.file": ["名单文件", "List file"], "imp.org": ["未填责任单位时归属", "Station for rows naming none"],
  "imp.check": ["检查", "Check"], "imp.run": ["导入", "Import"], "imp.busy": ["处理中…", "Working…"],
  "imp.summary.dry": ["共 {rows} 行：可导入 {valid}，已在库 {existing}，有误 {rejected}（尚未导入）",
    "{rows} rows: {valid} can be imported, {existing} already listed, {rejected} with errors (nothing imported yet)"],
  "imp.summary": ["共 {rows} 行：已导入 {created}，已在库 {existing}，有误 {rejected}",
    "{rows} rows: {created} imported, {existing} already listed, {rejected} with errors"],
  "imp.line": ["行号", "Line"], "imp.field": ["字段", "Field"], "imp.reason": ["原因", "Reason"],
  "imp.rejected": ["有误的行（未导入）", "Rows with errors (not imported)"],
  "lvl.一级": ["一级", "Level 1"], "lvl.二级": ["二级", "Level 2"], "lvl.三级": ["三级", "Level 3"],
  "cat.在逃": ["在逃", "Fugitive"], "cat.吸毒人员": ["吸毒人员", "Drug user"], "cat.涉毒前科": ["涉毒前科", "Prior drug offence"],
  "cat.涉稳": ["涉稳", "Stability concern"], "cat.前科": ["前科", "Prior record"], "cat.盗窃前科": ["盗窃前科", "Prior theft"],
  "cat.诈骗前科": ["诈骗前科", "Prior fraud"], "cat.抢劫前科": ["抢劫前科", "Prior robbery"],
  "cat.精神障碍肇事肇祸": ["精神障碍肇事肇祸", "Mental disorder, caused harm"], "cat.涉恐": ["涉恐", "Terrorism-related"],
  "cat.其他": ["其他", "Other"],
  "h.run": ["立即比对碰撞", "Run collision now"], "h.running": ["比对中…", "Running…"],
  "h.summary": ["比对完成：比中 {hits} 条，新增 {new} 条，下发核查指令 {orders} 条（名单 {watch} 人，记录 {rows} 条，用时 {s} 秒）",
    "Run finished: {hits} hits, {new} new, {orders} verification orders (list of {watch}, {rows} records, {s} s)"],
  "h.summary.old": ["；其中历史比中 {n} 条（记录已过时效，未派指令）", "; {n} on past records (too old for an order)"],
  "h.list": ["比中记录（新发现在前）", "Hits (newest first)"], "h.at": ["活动时间", "Activity time"],
  "h.person": ["人员", "Person"], "h.rule": ["规则", "Rule"], "h.match": ["比中方式", "Match"], "h.reasons": ["比中依据", "Reasons"],
  "h.instruct": ["研判下发", "Send an order"], "h.instruct.send": ["下发核查指令", "Send verification order"],
  "h.instruct.note": ["补充要求", "Instructions"], "h.instruct.org": ["请选择责任单位", "Choose the station"],
  "h.instruction": ["核查指令", "Verification order"], "h.found": ["发现时间", "Found"], "h.runs": ["最近比对", "Recent runs"],
  "h.trigger": ["触发", "Trigger"], "h.hitsnew": ["比中 / 新增", "Hits / new"],
  "h.rows": ["比对记录数", "Records compared"], "h.noorder": ["未下发", "None"],
  "h.needpurpose": ["比中记录含人员信息：填写查询事由后点“刷新”查看", "Hits name persons: enter the purpose, then Refresh"],
  "trigger.manual": ["手动", "Manual"], "trigger.ingest": ["导入", "Import"], "trigger.schedule": ["定时", "Scheduled"],
  "hs.new": ["新比中", "New"], "hs.instructed": ["已下发指令", "Order sent"], "hs.no_station": ["无责任单位", "No station"],
  "hs.historical": ["历史比中（记录已过时效，未派指令）", "Past record (too old for an order)"],
  "m.exact_id": ["证件号一致", "Same ID"], "m.exact_phone": ["手机号一致", "Same phone"], "m.exact_plate": ["车牌一致", "Same plate"],
  "m.fuzzy_identity": ["身份模糊比中", "Fuzzy identity"],
  "order.overdue": ["超时", "overdue"], "order.n": ["指令#{id}", "Order #{id}"],
  "order.verify": ["核查指令#{id}", "Verification order #{id}"], "order.warning": ["预警指令#{id}", "Warning order #{id}"],
  "i.file": ["数据文件（CSV/Parquet）", "Data file (CSV/Parquet)"], "i.mapping": ["数据映射", "Mapping"],
  "i.collide": ["导入后立即比对碰撞", "Collide right after import"], "i.upload": ["上传导入", "Upload"],
  "i.uploading": ["导入中…", "Importing…"], "i.nofile": ["请选择文件", "Choose a file"],
  "i.result": ["导入结果", "Import result"], "i.in": ["读入", "Rows read"], "i.ok": ["入库", "Stored"],
  "i.quarantined": ["隔离", "Quarantined"], "i.duplicate": ["重复跳过", "Duplicates skipped"],
  "i.reasons": ["隔离原因", "Quarantine reasons"], "i.reason": ["原因", "Reason"], "i.rows": ["行数", "Rows"],
  "i.bysource": ["按数据类别入库", "Stored by kind"], "i.again": ["该文件此前已导入（批次 {id}），未重复入库", "This file was imported before (batch {id}); nothing was stored again"],
  "i.collision": ["批次比对：比中 {hits} 条，新增 {new} 条，下发核查指令 {orders} 条", "Batch collision: {hits} hits, {new} new, {orders} verification orders"],
  "i.batches": ["导入批次", "Import batches"], "i.batch": ["批次", "Batch"], "i.filename": ["文件", "File"],
  "reason.missing_required": ["必填字段缺失", "Required field is empty"],
  "reason.bad_timestamp": ["时间无法解析或不合理", "Timestamp unreadable or implausible"],
  "reason.future_timestamp": ["时间晚于当前时间", "Timestamp is in the future"],
  "reason.bad_coordinate": ["经纬度无效或超出范围", "Coordinate unreadable or out of range"],
  "reason.outside_china": ["坐标不在中国境内", "Coordinate outside China"],
  "reason.bad_id_number": ["证件号码无法识别", "ID number unreadable"], "reason.bad_plate": ["号牌号码无法识别", "Plate unreadable"],
  "reason.bad_phone": ["电话号码无法识别", "Phone number unreadable"], "reason.bad_value": ["字段值无法识别", "Value unreadable"],
  "reason.unknown_source": ["数据类别无法识别", "Record kind not in the mapping"],
  "reason.encoding_error": ["字符编码错误", "Text does not decode in the declared encoding"],
  "reason.bad_row_shape": ["列数与表头不符", "Number of cells differs from the header"],
  "reason.duplicate_record": ["本批次内记录编号重复", "Record id repeated within the batch"],
  "src.hotel_checkin": ["旅馆住宿", "Hotel check-in"], "src.internet_cafe": ["网吧上网", "Internet café"],
  "src.checkpoint_pass": ["卡口过车", "Checkpoint pass"], "src.transport_ticket": ["交通购票", "Transport ticket"],
  "t.key": ["查询依据", "Look up by"], "t.value": ["号码", "Number"], "t.id_number": ["身份证号", "ID number"],
  "t.plate": ["车牌号", "Plate"], "t.phone": ["手机号", "Phone"], "t.points": ["轨迹点（按时间先后，{n}条）", "Track points in time order ({n})"],
  "t.room": ["房间/座位", "Room / seat"], "t.matched": ["比中项", "Matched by"], "t.map": ["轨迹地图", "Trajectory map"],
  "t.nocoord": ["无坐标", "no coordinates"],
  "o.prefixes": ["地区代码（身份证前2/4/6位）", "Region codes (first 2/4/6 ID digits)"], "o.sources": ["数据类别", "Kinds"],
  "o.list": ["高危地区名单", "High-risk list"], "o.list.none": ["（自行输入代码）", "(type the codes)"],
  "o.prefix": ["地区代码", "Region"], "o.day": ["日期", "Day"], "o.records": ["记录数", "Records"], "o.persons": ["人数", "Persons"],
  "o.prefix_persons": ["该地区总人数", "Persons of the region"], "o.rows": ["检索结果（{n}条）", "Results ({n})"],
  "c.incidents": ["警情ID", "Incident IDs"], "c.cases": ["自定义案件", "Other cases"],
  "c.cases.hint": ["每行一起：编号, 时间（北京时间）, 纬度, 经度，如 A1, 2026-11-30 14:00, 22.54, 114.03", "One per line: id, time (Beijing), lat, lon, e.g. A1, 2026-11-30 14:00, 22.54, 114.03"],
  "c.dt": ["时间窗（分钟）", "Time window (min)"], "c.dd": ["距离（米）", "Distance (m)"], "c.k": ["至少涉及案件数", "At least this many cases"],
  "c.badline": ["第{n}行无法识别：{line}", "Line {n} unreadable: {line}"], "c.nocase": ["请填写警情ID或自定义案件", "Give incident IDs or cases"],
  "c.results": ["串并结果：{cases}起案件，{n}个对象", "{n} entities across {cases} cases"],
  "c.type": ["类型", "Type"], "c.entity": ["对象", "Entity"], "c.n_cases": ["涉及案件", "Cases"], "c.records": ["记录", "Records"],
  "c.first": ["首次", "First"], "c.last": ["末次", "Last"], "c.evidence": ["证据{n}条", "{n} records"],
  "c.distance": ["距离{m}米，相差{dt}分钟", "{m} m, {dt} min apart"],
  "l.source": ["线索来源", "Source"], "l.credibility": ["可信度", "Credibility"], "l.title": ["标题", "Title"],
  "l.content": ["内容", "Content"], "l.tags": ["标签", "Tags"], "l.persons": ["关联人员编号", "Person numbers"],
  "l.add": ["新建线索", "New lead"], "l.submit": ["登记线索", "Record lead"], "l.created": ["已登记线索 #{id}", "Lead #{id} recorded"],
  "l.list": ["线索列表", "Leads"], "l.verify": ["下发核查指令", "Send verification order"], "l.minutes": ["反馈时限（分钟）", "Answer within (min)"],
  "l.send": ["下发", "Send"], "l.sent": ["已下发核查指令 #{id} 至 {org}", "Verification order #{id} sent to {org}"],
  "l.setstatus": ["更改状态", "Change status"], "l.created_at": ["登记时间", "Recorded"],
  "ls.new": ["新线索", "New"], "ls.verifying": ["核查中", "Verifying"], "ls.confirmed": ["已查实", "Confirmed"], "ls.dismissed": ["已排除", "Dismissed"],
});

// A label for a data value (category, level …) in the current language; the value itself when unknown.
function label(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = prefix + value;
  const s = t(key);
  return s === key ? String(value) : s;
}

const list = (s, sep = /[,，;；、\s]+/) => s.split(sep).map((x) => x.trim()).filter(Boolean);
const toDateInput = (d) => new Date(d.getTime() + 8 * 3600000).toISOString().slice(0, 10);
const fromDateInput = (s) => new Date(`${s}T00:00:00+08:00`);
// <input type=datetime-local> values are Beijing wall-clock times.
const fromLocalInput = (s) => (s ? new Date(`${s}:00+08:00`).toISOString() : undefined);
const errText = (e) => (e.status === 403 ? t("intel.denied") : e.message);

// The server's message for one field of a 422, without the field's name in front.
function fieldMessage(e) {
  const d = e.body && Array.isArray(e.body.detail) ? e.body.detail[0] : null;
  return d ? String(d.msg || "").replace(/^Value error, /, "") : e.message;
}

function fieldOf(e) {
  return e.field ? e.field.replace(/^(body|query)\./, "").split(".")[0] : null;
}

// multipart POST (api() sends JSON only).
async function upload(path, form) {
  const s = current();
  if (!s) throw new ApiError(401, { detail: "not logged in" });
  const r = await fetch(`/api/v1${path}`, { method: "POST", body: form,
    headers: { Authorization: `Bearer ${s.access_token}`, "X-Seat": seat() } });
  const data = await r.json().catch(() => null);
  if (r.status === 401) logout();
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function Err({ error, testid }) {
  return error ? html`<p class="error" role="alert" data-testid=${testid}>${error}</p>` : null;
}

function FieldErr({ id, error }) {
  return error ? html`<span class="field-error" id=${"err-" + id} role="alert" data-testid=${"field-error-" + id}>${error}</span>` : null;
}

function StationSelect({ orgs, value, onChange, testid, id, required = false }) {
  return html`<select id=${id} data-testid=${testid} value=${value} required=${required} onChange=${(e) => onChange(e.target.value)}>
    <option value="">${t("common.choose")}</option>
    ${orgs.map((o) => html`<option value=${String(o.id)}>${o.name}</option>`)}</select>`;
}

function OrderCell({ id, orders }) {
  if (!id) return html`<span class="muted">${t("h.noorder")}</span>`;
  const o = orders[id];
  const state = o ? label("istatus.", o.status) : "";
  const late = o && (o.sign_overdue || o.feedback_overdue);
  return html`<details class="order">
    <summary data-testid="order-status" data-order-id=${String(id)}>${t(o && (o.kind === "verify" || o.kind === "warning") ? "order." + o.kind : "order.n", { id })}${state ? " · " + state : ""}${late ? html` <b class="up">${t("order.overdue")}</b>` : ""}</summary>
    ${o && html`<p>${o.content}</p><p class="muted">${fmtDateTime(o.issued_at)}</p>`}</details>`;
}

// --- 重点人员 -------------------------------------------------------------------------------------------------

function PersonDetail({ p, editor, onTrajectory, onSaved }) {
  const [level, setLevel] = useState(p.control_level);
  const [status, setStatus] = useState(p.status);
  const [msg, setMsg] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { setLevel(p.control_level); setStatus(p.status); setMsg(null); setError(null); }, [p.id]);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      onSaved(await api(`/intel/persons/${p.id}`, { method: "PATCH", body: { control_level: level, status } }));
      setMsg(t("p.updated"));
    } catch (err) { setError(errText(err)); }
  };
  const row = (k, v) => html`<dt>${t(k)}</dt><dd>${v || "—"}</dd>`;
  return html`<section class="card" data-testid="person-detail" aria-labelledby="person-detail-h">
    <h2 id="person-detail-h">${t("p.detail")} · ${p.name} <small>#${p.id}</small>
      ${p.id_number && html`<button type="button" class="csv" data-testid="person-trajectory"
        onClick=${() => onTrajectory("id_number", p.id_number)}>${t("p.trajectory")}</button>`}</h2>
    <dl class="facts">
      ${row("p.id_number", p.id_number)}${row("p.category", label("cat.", p.category))}
      ${row("p.control_level", label("lvl.", p.control_level))}${row("common.status", label("p.status.", p.status))}
      ${row("p.birth", p.birth_date)}${row("p.sex", p.sex && t("p.sex." + p.sex))}${row("p.hukou", p.hukou_code)}
      ${row("p.phones", p.phones.join("、"))}${row("p.plates", p.plates.join("、"))}
      ${row("p.addresses", p.addresses.join("；"))}${row("p.aliases", p.aliases.join("、"))}
      ${row("p.org_id", p.org_name)}${row("p.officer", p.officer)}${row("p.created", fmtDateTime(p.created_at))}
      ${row("p.note", p.note)}
    </dl>
    ${editor && html`<form class="controls inline-form" onSubmit=${save}>
      <label>${t("p.control_level")}<select data-testid="detail-level" value=${level} onChange=${(e) => setLevel(e.target.value)}>
        ${CONTROL_LEVELS.map((l) => html`<option value=${l}>${label("lvl.", l)}</option>`)}</select></label>
      <label>${t("common.status")}<select data-testid="detail-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${["active", "archived"].map((s) => html`<option value=${s}>${t("p.status." + s)}</option>`)}</select></label>
      <button class="primary" data-testid="detail-save">${t("common.save")}</button>
      ${msg && html`<span role="status" data-testid="detail-saved">${msg}</span>`}
    </form>`}
    <${Err} error=${error} testid="detail-error" />
  </section>`;
}

const EMPTY_PERSON = { name: "", id_number: "", category: "", control_level: "三级", phones: "", plates: "", addresses: "",
  org_id: "", officer: "", note: "" };

function PersonForm({ orgs, onCreated }) {
  const [f, setF] = useState(EMPTY_PERSON);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => { const v = e.target.value; setF((x) => ({ ...x, [k]: v })); setErrors((x) => ({ ...x, [k]: null })); };
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null); setDone(null); setErrors({});
    const body = { name: f.name.trim(), id_number: f.id_number.trim() || null, category: f.category,
      control_level: f.control_level, phones: list(f.phones), plates: list(f.plates),
      addresses: list(f.addresses, /[;；\n]+/), org_id: f.org_id ? Number(f.org_id) : null,
      officer: f.officer.trim() || null, note: f.note.trim() };
    try {
      const p = await api("/intel/persons", { method: "POST", body });
      setDone(t("p.created.ok", { id: p.id, name: p.name }));
      setF(EMPTY_PERSON);
      onCreated(p);
    } catch (err) {
      const k = fieldOf(err);
      if (err.status === 422 && k && k in EMPTY_PERSON) setErrors({ [k]: `${t("p." + k)}：${fieldMessage(err)}` });
      else setError(errText(err));
    } finally { setBusy(false); }
  };
  const input = (k, attrs = {}) => html`<label>${t("p." + k)}${attrs.hint ? html` <small>${attrs.hint}</small>` : ""}
    <input data-testid=${"person-" + k} value=${f[k]} onInput=${set(k)} aria-invalid=${errors[k] ? "true" : "false"}
      aria-describedby=${errors[k] ? "err-" + k : undefined} autocomplete="off" required=${!!attrs.required}
      maxlength=${attrs.max || 200} inputmode=${attrs.mode} />
    <${FieldErr} id=${k} error=${errors[k]} /></label>`;
  return html`<section class="card" data-testid="person-form" aria-labelledby="person-form-h">
    <h2 id="person-form-h">${t("p.add")}</h2>
    <form class="grid-form" onSubmit=${submit}>
      ${input("name", { required: true, max: 64 })}
      ${input("id_number", { hint: t("p.id.hint"), max: 32 })}
      <label>${t("p.category")}<select data-testid="person-category" value=${f.category} onChange=${set("category")} required
        aria-invalid=${errors.category ? "true" : "false"} aria-describedby=${errors.category ? "err-category" : undefined}>
        <option value="">${t("common.choose")}</option>
        ${CATEGORIES.map((c) => html`<option value=${c}>${label("cat.", c)}</option>`)}</select>
        <${FieldErr} id="category" error=${errors.category} /></label>
      <label>${t("p.control_level")}<select data-testid="person-control_level" value=${f.control_level} onChange=${set("control_level")}>
        ${CONTROL_LEVELS.map((l) => html`<option value=${l}>${label("lvl.", l)}</option>`)}</select></label>
      ${input("phones", { hint: t("common.listsep"), mode: "tel" })}
      ${input("plates", { hint: t("common.listsep") })}
      ${input("addresses", { hint: t("p.addresses.hint"), max: 2000 })}
      <label>${t("p.org_id")}<${StationSelect} orgs=${orgs} value=${f.org_id} testid="person-org_id"
        onChange=${(v) => { setF((x) => ({ ...x, org_id: v })); setErrors((x) => ({ ...x, org_id: null })); }} />
        <${FieldErr} id="org_id" error=${errors.org_id} /></label>
      ${input("officer", { max: 64 })}
      <label class="wide">${t("p.note")}<textarea data-testid="person-note" rows="2" value=${f.note} onInput=${set("note")} maxlength="4000"></textarea></label>
      <div class="wide actions">
        <button class="primary" data-testid="person-submit" disabled=${busy}>${t("p.submit")}</button>
        ${done && html`<span role="status" data-testid="person-created">${done}</span>`}
      </div>
    </form>
    <${Err} error=${error} testid="person-form-error" />
  </section>`;
}

// A row error's field in the reader's words: "phones.1" → 手机号（第2个）, "org" → 责任单位.
function importField(field) {
  const [base, i] = field.split(".");
  const key = "p." + (base === "org" ? "org_id" : base);
  const name = t(key) === key ? field : t(key);
  return i === undefined ? name : `${name} (${Number(i) + 1})`;
}

// 重点人员批量导入: check a list first (nothing is added), then import; each bad row comes back with its line.
function PersonImport({ orgs }) {
  const [org, setOrg] = useState("");
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  const [fileError, setFileError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef(null);
  const send = async (dryRun) => {
    setError(null); setFileError(null); setOut(null);
    const file = fileRef.current && fileRef.current.files[0];
    if (!file) { setFileError(t("i.nofile")); fileRef.current.focus(); return; }
    const form = new FormData();
    form.append("file", file);
    form.append("dry_run", dryRun ? "true" : "false");
    if (org) form.append("org_id", org);
    setBusy(true);
    try { setOut(await upload("/intel/persons/import", form)); } catch (err) {
      if (err.status === 422 && fieldOf(err) === "file") setFileError(fieldMessage(err));
      else setError(errText(err));
    } finally { setBusy(false); }
  };
  const n = out && { rows: out.rows, valid: out.valid, created: out.created, existing: out.existing.length, rejected: out.rejected.length };
  return html`<section class="card" data-testid="person-import" aria-labelledby="person-import-h">
    <h2 id="person-import-h">${t("imp.title")}</h2>
    <p class="note">${t("imp.hint")}</p>
    <form class="grid-form" onSubmit=${(e) => { e.preventDefault(); send(false); }}>
      <label class="wide">${t("imp.file")}<input type="file" ref=${fileRef} data-testid="import-file" accept=".csv,.txt,.xlsx"
        aria-invalid=${fileError ? "true" : "false"} aria-describedby=${fileError ? "err-import-file" : undefined}
        onChange=${() => { setFileError(null); setOut(null); }} /><${FieldErr} id="import-file" error=${fileError} /></label>
      <label>${t("imp.org")}<${StationSelect} orgs=${orgs} value=${org} testid="import-org" onChange=${setOrg} /></label>
      <div class="wide actions">
        <button type="button" data-testid="import-check" disabled=${busy} onClick=${() => send(true)}>${t("imp.check")}</button>
        <button class="primary" data-testid="import-run" disabled=${busy}>${busy ? t("imp.busy") : t("imp.run")}</button>
      </div>
    </form>
    <${Err} error=${error} testid="import-error" />
    ${out && html`<div data-testid="import-result" data-dry-run=${String(out.dry_run)}>
      <p role="status" data-testid="import-summary">${t(out.dry_run ? "imp.summary.dry" : "imp.summary", n)}</p>
      ${out.rejected.length > 0 && html`<h3>${t("imp.rejected")}</h3><div class="scroll"><table data-testid="import-rejected">
        <thead><tr><th>${t("imp.line")}</th><th>${t("imp.field")}</th><th>${t("imp.reason")}</th></tr></thead>
        <tbody>${out.rejected.map((r) => html`<tr data-testid="import-rejected-row" data-line=${String(r.line)}>
          <td>${r.line}</td><td data-field=${r.field}>${importField(r.field)}</td><td class="wrap">${r.message}</td></tr>`)}</tbody></table></div>`}
    </div>`}
  </section>`;
}

function Persons({ editor, need, orgs, onTrajectory }) {
  const [q, setQ] = useState("");
  const [category, setCategory] = useState("");
  const [status, setStatus] = useState("active");
  const [rows, setRows] = useState(null);
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const search = async (e) => {
    if (e) e.preventDefault();
    const purpose = need();
    if (!purpose) return;
    setError(null);
    try {
      setRows(await api("/intel/persons", { query: { purpose, q: q.trim(), category, status } }));
    } catch (err) { setError(errText(err)); }
  };
  const open = async (id) => {
    const purpose = need();
    if (!purpose) return;
    setError(null);
    try { setDetail(await api(`/intel/persons/${id}`, { query: { purpose } })); } catch (err) { setError(errText(err)); }
  };
  const saved = (p) => { setDetail(p); setRows((r) => r && r.map((x) => (x.id === p.id ? p : x))); };
  // 导出名单 with the filters shown (not the text query): a look-up of everyone in it, so it needs the purpose too.
  const exportList = async () => {
    const purpose = need();
    if (!purpose) return;
    setError(null);
    const query = { purpose, status, ...(category ? { category } : {}) };
    try { await download("/intel/persons/export", query, `重点人员-${category || "全部"}.xlsx`, "xlsx"); } catch (err) { setError(errText(err)); }
  };
  return html`<div class="split">
    <div>
      <form class="controls" onSubmit=${search} role="search">
        <label class="grow">${t("p.q")}<input data-testid="person-q" value=${q} onInput=${(e) => setQ(e.target.value)} maxlength="64" autocomplete="off" /></label>
        <label>${t("p.category")}<select data-testid="person-filter-category" value=${category} onChange=${(e) => setCategory(e.target.value)}>
          <option value="">${t("common.all")}</option>
          ${CATEGORIES.map((c) => html`<option value=${c}>${label("cat.", c)}</option>`)}</select></label>
        <label>${t("common.status")}<select data-testid="person-filter-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          ${["active", "archived"].map((s) => html`<option value=${s}>${t("p.status." + s)}</option>`)}</select></label>
        <button class="primary" data-testid="person-search">${t("common.query")}</button>
        <button type="button" data-testid="person-export" onClick=${exportList}>${t("p.export")}</button>
      </form>
      <${Err} error=${error} testid="persons-error" />
      ${rows && html`<section class="card" data-testid="person-results" aria-labelledby="person-results-h">
        <h2 id="person-results-h">${t("p.results", { n: rows.length })}</h2>
        ${rows.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
          <thead><tr><th>${t("p.name")}</th><th>${t("p.id_number")}</th><th>${t("p.category")}</th><th>${t("p.control_level")}</th>
            <th>${t("p.org_id")}</th><th>${t("p.officer")}</th><th></th></tr></thead>
          <tbody>${rows.map((p) => html`<tr data-testid="person-row" data-person-id=${String(p.id)}>
            <td>${p.name}</td><td class="mono">${p.id_number || "—"}</td><td>${label("cat.", p.category)}</td>
            <td>${label("lvl.", p.control_level)}</td><td>${p.org_name || "—"}</td><td>${p.officer || "—"}</td>
            <td><button type="button" class="small" data-testid="person-open" onClick=${() => open(p.id)}>${t("p.open")}</button></td>
          </tr>`)}</tbody></table></div>`}
      </section>`}
      ${detail && html`<${PersonDetail} p=${detail} editor=${editor} onTrajectory=${onTrajectory} onSaved=${saved} />`}
    </div>
    ${editor && html`<div><${PersonForm} orgs=${orgs} onCreated=${(p) => { setDetail(p); setRows((r) => (r ? [p, ...r] : r)); }} />
      <${PersonImport} orgs=${orgs} /></div>`}
  </div>`;
}

// --- 比中预警 -------------------------------------------------------------------------------------------------

// 研判下发: a 核查指令 for a hit that got none (no station for its place, or a record too old for an order).
function HitOrder({ hit, orgs, onSent }) {
  const [open, setOpen] = useState(false);
  const [org, setOrg] = useState(hit.org_id ? String(hit.org_id) : "");
  const [note, setNote] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!open) return html`<button type="button" class="small" data-testid="hit-instruct" onClick=${() => setOpen(true)}>${t("h.instruct")}</button>`;
  const send = async (e) => {
    e.preventDefault();
    if (!org) { setError(t("h.instruct.org")); return; }
    setBusy(true); setError(null);
    try { onSent(await api(`/intel/hits/${hit.id}/instruct`, { method: "POST", body: { org_id: Number(org), note: note.trim() } })); }
    catch (err) { setError(errText(err)); } finally { setBusy(false); }
  };
  return html`<form class="inline-form" data-testid="hit-instruct-form" onSubmit=${send}>
    <label>${t("common.station")}<${StationSelect} orgs=${orgs} value=${org} onChange=${setOrg} testid="hit-instruct-org" /></label>
    <label>${t("h.instruct.note")}<input data-testid="hit-instruct-note" value=${note} maxlength="500" onInput=${(e) => setNote(e.target.value)} /></label>
    <button class="primary small" data-testid="hit-instruct-send" disabled=${busy}>${t("h.instruct.send")}</button>
    <button type="button" class="small" onClick=${() => setOpen(false)}>${t("common.cancel")}</button>
    <${Err} error=${error} testid="hit-instruct-error" />
  </form>`;
}

function Hits({ editor, need, purposeOk, active, orgName, orgs, orders, reloadOrders }) {
  const [status, setStatus] = useState("");
  const [rows, setRows] = useState(null);
  const [runs, setRuns] = useState([]);
  const [summary, setSummary] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const load = async (explicit) => {
    const purpose = explicit ? need() : purposeOk();
    api("/intel/collisions/runs", { query: { limit: 5 } }).then(setRuns).catch(() => {});
    if (!purpose) return;
    setError(null);
    try {
      const hs = await api("/intel/hits", { query: { purpose, status } });
      // Newest found first; within one run the latest activity first.
      hs.sort((a, b) => (b.first_seen_at || "").localeCompare(a.first_seen_at || "") || (b.at || "").localeCompare(a.at || "") || b.id - a.id);
      setRows(hs);
      reloadOrders();
    } catch (err) { setError(errText(err)); }
  };
  useEffect(() => { if (active) load(false); }, [active]);
  const run = async () => {
    setBusy(true); setError(null); setSummary(null);
    try {
      setSummary(await api("/intel/collisions/run", { method: "POST", body: {} }));
      await load(false);
    } catch (err) { setError(errText(err)); } finally { setBusy(false); }
  };
  return html`<div>
    <form class="controls" onSubmit=${(e) => { e.preventDefault(); load(true); }}>
      <label>${t("common.status")}<select data-testid="hit-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">${t("common.all")}</option>
        ${HIT_STATUSES.map((s) => html`<option value=${s}>${t("hs." + s)}</option>`)}</select></label>
      <button class="primary" data-testid="hits-refresh">${t("common.refresh")}</button>
      ${editor && html`<button type="button" class="primary alt" data-testid="run-collision" disabled=${busy} onClick=${run}>
        ${busy ? t("h.running") : t("h.run")}</button>`}
    </form>
    ${summary && html`<p class="notice" role="status" data-testid="run-summary">${t("h.summary", { hits: summary.hits,
      new: summary.new_hits, orders: summary.instructions, watch: summary.watchlist_size, rows: summary.activity_rows, s: summary.seconds })}${
      summary.historical ? t("h.summary.old", { n: summary.historical }) : ""}</p>`}
    <${Err} error=${error} testid="hits-error" />
    ${rows === null && !error && html`<p class="note">${t("h.needpurpose")}</p>`}
    ${rows && html`<section class="card" data-testid="hits" aria-labelledby="hits-h">
      <h2 id="hits-h">${t("h.list")} <small>${rows.length}</small></h2>
      ${rows.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th>${t("h.at")}</th><th>${t("h.person")}</th><th>${t("h.rule")}</th><th>${t("h.match")}</th>
          <th>${t("h.reasons")}</th><th>${t("common.place")}</th><th>${t("common.station")}</th><th>${t("h.instruction")}</th>
          <th>${t("common.status")}</th></tr></thead>
        <tbody>${rows.map((h) => html`<tr data-testid="hit-row" data-hit-id=${String(h.id)} data-at=${h.at}>
          <td>${fmtDateTime(h.at)}<br /><small class="muted">${t("h.found")} ${fmtDateTime(h.first_seen_at)}</small></td>
          <td>${h.person_name} <small>#${h.person_id}</small><br /><small>${label("cat.", h.category)}</small></td>
          <td title=${h.rule_code}>${h.rule_name || h.rule_code}</td>
          <td>${label("m.", h.match_type)} <small>${Number(h.score).toFixed(2)}</small></td>
          <td class="wrap">${(h.reasons || []).join("、")}</td>
          <td class="wrap">${label("src.", h.source)}<br />${h.venue_name || ""}${h.room ? " " + h.room : ""}</td>
          <td>${orgName(h.org_id) || "—"}</td>
          <td class="wrap"><${OrderCell} id=${h.instruction_id} orders=${orders} /></td>
          <td>${label("hs.", h.status)}${editor && !h.instruction_id && (h.status === "historical" || h.status === "no_station") && html`<br />
            <${HitOrder} hit=${h} orgs=${orgs} onSent=${(x) => { setRows((rs) => rs.map((y) => (y.id === x.id ? { ...y, ...x } : y))); reloadOrders(); }} />`}</td></tr>`)}</tbody></table></div>`}
    </section>`}
    ${runs.length > 0 && html`<section class="card" data-testid="runs" aria-labelledby="runs-h">
      <h2 id="runs-h">${t("h.runs")}</h2>
      <table><thead><tr><th>#</th><th>${t("common.time")}</th><th>${t("h.trigger")}</th><th>${t("h.hitsnew")}</th>
        <th>${t("h.rows")}</th><th>${t("h.instruction")}</th></tr></thead>
        <tbody>${runs.map((r) => html`<tr data-testid="run-row"><td>${r.id}</td><td>${fmtDateTime(r.started_at)}</td>
          <td>${label("trigger.", r.trigger)}</td><td>${r.hits} / +${r.new_hits}</td><td>${r.activity_rows}</td><td>${r.instructions}</td></tr>`)}</tbody></table>
    </section>`}
  </div>`;
}

// --- 数据导入 -------------------------------------------------------------------------------------------------

function Ingest({ editor, active }) {
  const [mappings, setMappings] = useState([]);
  const [mapping, setMapping] = useState("");
  const [collide, setCollide] = useState(true);
  const [result, setResult] = useState(null);
  const [batches, setBatches] = useState([]);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef(null);
  const loadBatches = () => api("/intel/batches", { query: { limit: 20 } }).then(setBatches).catch((e) => setError(errText(e)));
  useEffect(() => {
    if (!active) return;
    if (!mappings.length) api("/intel/mappings").then((m) => { setMappings(m); }).catch((e) => setError(errText(e)));
    loadBatches();
  }, [active]);
  const submit = async (e) => {
    e.preventDefault();
    setErrors({}); setError(null); setResult(null);
    const file = fileRef.current && fileRef.current.files[0];
    if (!file) { setErrors({ file: t("i.nofile") }); fileRef.current.focus(); return; }
    if (!mapping) { setErrors({ mapping: t("common.choose") }); return; }
    const form = new FormData();
    form.append("file", file);
    form.append("mapping", mapping);
    form.append("collide", collide ? "true" : "false");
    setBusy(true);
    try {
      setResult(await upload("/intel/ingest", form));
      loadBatches();
    } catch (err) {
      const k = fieldOf(err);
      if (err.status === 422 && (k === "file" || k === "mapping")) setErrors({ [k]: fieldMessage(err) });
      else setError(errText(err));
    } finally { setBusy(false); }
  };
  const col = result && result.collision;
  const reasons = result ? Object.entries(result.reasons || {}) : [];
  return html`<div>
    ${editor && html`<form class="controls" onSubmit=${submit} data-testid="ingest-form">
      <label class="grow">${t("i.file")}<input type="file" ref=${fileRef} data-testid="ingest-file" accept=".csv,.txt,.parquet,.pq"
        aria-invalid=${errors.file ? "true" : "false"} aria-describedby=${errors.file ? "err-file" : undefined}
        onChange=${() => setErrors((x) => ({ ...x, file: null }))} /><${FieldErr} id="file" error=${errors.file} /></label>
      <label>${t("i.mapping")}<select data-testid="ingest-mapping" value=${mapping} onChange=${(e) => setMapping(e.target.value)}
        aria-invalid=${errors.mapping ? "true" : "false"} aria-describedby=${errors.mapping ? "err-mapping" : undefined}>
        <option value="">${t("common.choose")}</option>
        ${mappings.map((m) => html`<option value=${m}>${m}</option>`)}</select><${FieldErr} id="mapping" error=${errors.mapping} /></label>
      <label><span><input type="checkbox" data-testid="ingest-collide" checked=${collide} onChange=${(e) => setCollide(e.target.checked)} /> ${t("i.collide")}</span></label>
      <button class="primary" data-testid="ingest-submit" disabled=${busy}>${busy ? t("i.uploading") : t("i.upload")}</button>
    </form>`}
    <${Err} error=${error} testid="ingest-error" />
    ${result && html`<section class="card" data-testid="ingest-result" aria-labelledby="ingest-result-h">
      <h2 id="ingest-result-h">${t("i.result")} <small class="mono">${result.batch_id}</small></h2>
      ${result.already_ingested && html`<p class="notice" data-testid="ingest-again">${t("i.again", { id: result.batch_id })}</p>`}
      <div class="totals">
        <span>${t("i.in")} <b data-testid="count-in">${result.rows_in}</b></span>
        <span>${t("i.ok")} <b data-testid="count-ok">${result.rows_ok}</b></span>
        <span class=${result.rows_quarantined ? "up" : ""}>${t("i.quarantined")} <b data-testid="count-quarantined">${result.rows_quarantined}</b></span>
        <span>${t("i.duplicate")} <b data-testid="count-duplicate">${result.rows_skipped_duplicate}</b></span>
      </div>
      ${Object.keys(result.sources || {}).length > 0 && html`<p class="note">${t("i.bysource")}：${Object.entries(result.sources)
        .map(([s, n]) => `${label("src.", s)} ${n}`).join("，")}</p>`}
      ${reasons.length > 0 && html`<h3>${t("i.reasons")}</h3><table data-testid="reasons">
        <thead><tr><th>${t("i.reason")}</th><th>${t("i.rows")}</th></tr></thead>
        <tbody>${reasons.map(([code, n]) => html`<tr data-testid="reason-row" data-reason=${code}><td>${label("reason.", code)}</td><td>${n}</td></tr>`)}</tbody></table>`}
      ${col && html`<p class="notice" data-testid="ingest-collision">${t("i.collision", { hits: col.hits, new: col.new_hits, orders: col.instructions })}${
        col.historical ? t("h.summary.old", { n: col.historical }) : ""}</p>`}
    </section>`}
    <section class="card" data-testid="batches" aria-labelledby="batches-h">
      <h2 id="batches-h">${t("i.batches")}</h2>
      ${batches.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th>${t("common.time")}</th><th>${t("i.filename")}</th><th>${t("i.mapping")}</th><th>${t("i.in")}</th>
          <th>${t("i.ok")}</th><th>${t("i.quarantined")}</th><th>${t("i.duplicate")}</th><th>${t("i.reasons")}</th></tr></thead>
        <tbody>${batches.map((b) => html`<tr data-testid="batch-row"><td>${fmtDateTime(b.created_at)}</td><td>${b.file_name}</td>
          <td>${b.mapping}</td><td>${b.rows_in}</td><td>${b.rows_ok}</td><td>${b.rows_quarantined}</td><td>${b.rows_skipped_duplicate}</td>
          <td class="wrap">${Object.entries(b.reasons || {}).map(([c, n]) => `${label("reason.", c)} ${n}`).join("；") || "—"}</td></tr>`)}</tbody></table></div>`}
    </section>
  </div>`;
}

// --- 轨迹 -----------------------------------------------------------------------------------------------------

// A small offline map: main roads and 辖区 outlines from the server, no tiles (as /stats draws its hotspots).
function useSmallMap(active) {
  const el = useRef(null);
  const ref = useRef(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const L = window.L;
    if (!active || !L || !el.current) return;
    if (ref.current) { ref.current.m.invalidateSize(); return; }
    const m = L.map(el.current, { preferCanvas: true, attributionControl: false, minZoom: 10, maxZoom: 18 });
    m.setView([22.54, 114.05], 13);
    const base = L.layerGroup().addTo(m);
    const layer = L.layerGroup().addTo(m);
    ref.current = { m, layer };
    api("/geo/basemap").then((b) => {
      L.geoJSON({ type: "FeatureCollection", features: b.roads.features.filter((f) => f.properties.r <= 3) },
        { interactive: false, style: { color: "#c8bfae", weight: 1.5 } }).addTo(base);
      if (b.bounds && !layer.getLayers().length) m.fitBounds(b.bounds);
    }).catch(() => {});
    api("/geo/jurisdictions").then((j) => L.geoJSON(j, { interactive: false,
      style: { color: "#3b6ea5", weight: 1, fillOpacity: 0.03 } }).addTo(base)).catch(() => {});
    setReady(true);
  }, [active]);
  useEffect(() => () => { if (ref.current) ref.current.m.remove(); ref.current = null; }, []);
  return { el, ref, ready };
}

function Trajectory({ need, active, preset }) {
  const [key, setKey] = useState("id_number");
  const [value, setValue] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [points, setPoints] = useState(null);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const { el, ref, ready } = useSmallMap(active);
  const look = async (k = key, v = value) => {
    const purpose = need();
    if (!purpose) return;
    setErrors({}); setError(null);
    if (!v.trim()) { setErrors({ value: t("t." + k) }); return; }
    try {
      const r = await api("/intel/trajectory", { query: { purpose, [k]: v.trim(), since: fromLocalInput(since), until: fromLocalInput(until) } });
      setPoints(r.points);
    } catch (err) {
      const f = fieldOf(err);
      if (err.status === 422 && f === k) setErrors({ value: fieldMessage(err) });
      else setError(errText(err));
      setPoints(null);
    }
  };
  useEffect(() => {
    if (!preset) return;
    setKey(preset.key); setValue(preset.value);
    look(preset.key, preset.value);
  }, [preset]);
  useEffect(() => {
    const L = window.L;
    if (!L || !ready || !ref.current) return;
    const { m, layer } = ref.current;
    layer.clearLayers();
    const pts = (points || []).filter((p) => p.lat !== null && p.lon !== null);
    if (pts.length > 1) L.polyline(pts.map((p) => [p.lat, p.lon]), { color: "#0b2a4a", weight: 3, opacity: 0.8 }).addTo(layer);
    pts.forEach((p, i) => {
      L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 2, fillColor: i === pts.length - 1 ? "#b42318" : "#0072b2",
        fillOpacity: 1 }).bindTooltip(`${points.indexOf(p) + 1}. ${fmtDateTime(p.at)} ${p.venue_name || ""}`).addTo(layer);
    });
    if (pts.length) m.fitBounds(L.latLngBounds(pts.map((p) => [p.lat, p.lon])).pad(0.3), { maxZoom: 16 });
    el.current.dataset.points = String(pts.length);
  }, [points, ready]);
  return html`<div>
    <form class="controls" onSubmit=${(e) => { e.preventDefault(); look(); }}>
      <label>${t("t.key")}<select data-testid="track-key" value=${key} onChange=${(e) => setKey(e.target.value)}>
        ${["id_number", "plate", "phone"].map((k) => html`<option value=${k}>${t("t." + k)}</option>`)}</select></label>
      <label class="grow">${t("t.value")}<input data-testid="track-value" value=${value} maxlength="32" autocomplete="off"
        onInput=${(e) => { setValue(e.target.value); setErrors({}); }} aria-invalid=${errors.value ? "true" : "false"}
        aria-describedby=${errors.value ? "err-value" : undefined} /><${FieldErr} id="value" error=${errors.value} /></label>
      <label>${t("common.since")}<input type="datetime-local" data-testid="track-since" value=${since} onChange=${(e) => setSince(e.target.value)} /></label>
      <label>${t("common.until")}<input type="datetime-local" data-testid="track-until" value=${until} onChange=${(e) => setUntil(e.target.value)} /></label>
      <button class="primary" data-testid="track-submit">${t("common.query")}</button>
    </form>
    <${Err} error=${error} testid="track-error" />
    <div class="hotgrid">
      <div class="hotmap" ref=${el} data-testid="track-map" role="img" aria-label=${t("t.map")}></div>
      <div>${points && html`<section class="card flat" data-testid="track" aria-labelledby="track-h">
        <h2 id="track-h">${t("t.points", { n: points.length })}</h2>
        ${points.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
          <thead><tr><th>#</th><th>${t("common.time")}</th><th>${t("common.source")}</th><th>${t("common.place")}</th>
            <th>${t("t.room")}</th><th>${t("t.matched")}</th></tr></thead>
          <tbody>${points.map((p, i) => html`<tr data-testid="track-row" data-at=${p.at}>
            <td>${i + 1}</td><td>${fmtDateTime(p.at)}</td><td>${label("src.", p.source)}</td>
            <td class="wrap">${p.venue_name || p.venue_code || "—"}${p.lat === null ? html` <small class="muted">(${t("t.nocoord")})</small>` : ""}</td>
            <td>${p.room || p.trip || "—"}</td>
            <td>${(p.matched_by || "").split(",").filter(Boolean).map((m) => t("t." + m)).join("、")}</td></tr>`)}</tbody></table></div>`}
      </section>`}</div>
    </div>
  </div>`;
}

// --- 高危地区 -------------------------------------------------------------------------------------------------

function Origin({ need }) {
  const [prefixes, setPrefixes] = useState("");
  const [lists, setLists] = useState([]);
  const [listCode, setListCode] = useState("");
  const [regions, setRegions] = useState({});
  useEffect(() => { api("/intel/origin/lists").then(setLists).catch(() => {}); }, []);
  // A 高危地区名单 fills the codes; the analyst may still add or remove some before searching.
  const pick = (code) => {
    setListCode(code);
    const l = lists.find((x) => x.code === code);
    if (l) setPrefixes(l.regions.map((r) => r.prefix).join(","));
  };
  const [since, setSince] = useState(() => toDateInput(new Date(platformNow() - 6 * DAY_MS)));
  const [until, setUntil] = useState(() => toDateInput(new Date(platformNow())));
  const [sources, setSources] = useState([]);
  const [rows, setRows] = useState(null);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const purpose = need();
    if (!purpose) return;
    setErrors({}); setError(null);
    const pre = list(prefixes).join(",");
    try {
      const r = await api("/intel/origin", { query: { purpose, prefixes: pre, since: fromDateInput(since).toISOString(),
        until: new Date(fromDateInput(until).getTime() + DAY_MS).toISOString(), sources: sources.join(",") } });
      setRows(r.rows);
      setRegions(r.regions || {});
    } catch (err) {
      const f = fieldOf(err);
      if (err.status === 422 && f === "prefixes") setErrors({ prefixes: fieldMessage(err) });
      else setError(errText(err));
    }
  };
  const toggle = (s) => setSources((x) => (x.includes(s) ? x.filter((y) => y !== s) : [...x, s]));
  return html`<div>
    <form class="controls" onSubmit=${submit}>
      ${lists.length > 0 && html`<label>${t("o.list")}<select data-testid="origin-list" value=${listCode} onChange=${(e) => pick(e.target.value)}>
        <option value="">${t("o.list.none")}</option>
        ${lists.map((l) => html`<option value=${l.code} title=${l.source}>${l.name}</option>`)}</select></label>`}
      <label class="grow">${t("o.prefixes")}<input data-testid="origin-prefixes" value=${prefixes} placeholder="43,4509" required
        onInput=${(e) => setPrefixes(e.target.value)} inputmode="numeric" autocomplete="off" aria-invalid=${errors.prefixes ? "true" : "false"}
        aria-describedby=${errors.prefixes ? "err-prefixes" : undefined} /><${FieldErr} id="prefixes" error=${errors.prefixes} /></label>
      <label>${t("common.since")}<input type="date" data-testid="origin-since" value=${since} required onChange=${(e) => setSince(e.target.value)} /></label>
      <label>${t("common.until")}<input type="date" data-testid="origin-until" value=${until} required onChange=${(e) => setUntil(e.target.value)} /></label>
      <fieldset class="checks"><legend>${t("o.sources")}</legend>
        ${SOURCES.map((s) => html`<label><input type="checkbox" checked=${sources.includes(s)} onChange=${() => toggle(s)} /> ${label("src.", s)}</label>`)}
      </fieldset>
      <button class="primary" data-testid="origin-submit">${t("common.query")}</button>
    </form>
    <${Err} error=${error} testid="origin-error" />
    ${rows && html`<section class="card" data-testid="origin" aria-labelledby="origin-h">
      <h2 id="origin-h">${t("o.rows", { n: rows.length })}</h2>
      ${rows.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th>${t("o.prefix")}</th><th>${t("o.day")}</th><th>${t("common.place")}</th><th>${t("common.source")}</th>
          <th>${t("o.records")}</th><th>${t("o.persons")}</th><th>${t("o.prefix_persons")}</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr data-testid="origin-row"><td><span class="mono">${r.region_prefix}</span> ${regions[r.region_prefix] || ""}</td><td>${r.local_day}</td>
          <td>${r.venue_name || r.venue_code}</td><td>${label("src.", r.source)}</td><td>${r.records}</td><td>${r.persons}</td>
          <td>${r.prefix_persons}</td></tr>`)}</tbody></table></div>`}
    </section>`}
  </div>`;
}

// --- 串并 -----------------------------------------------------------------------------------------------------

// "A1, 2026-11-30 14:00, 22.54, 114.03" (Beijing time unless an offset is written) → a case.
function parseCase(line) {
  const parts = line.split(/[,，]/).map((x) => x.trim());
  if (parts.length !== 4 || !parts[0]) return null;
  let at = parts[1].replace(" ", "T");
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(at)) at += "+08:00";
  const d = new Date(at);
  const lat = Number(parts[2]);
  const lon = Number(parts[3]);
  if (Number.isNaN(d.getTime()) || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { case_id: parts[0], at: d.toISOString(), lat, lon };
}

function CoPresence({ need, onTrajectory, preset }) {
  const [ids, setIds] = useState("");
  useEffect(() => { if (preset) setIds(preset.ids.join(",")); }, [preset]);
  const [cases, setCases] = useState("");
  const [dt, setDt] = useState("60");
  const [dd, setDd] = useState("500");
  const [k, setK] = useState("2");
  const [out, setOut] = useState(null);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const purpose = need();
    if (!purpose) return;
    setErrors({}); setError(null);
    const parsed = [];
    const lines = cases.split("\n").map((x) => x.trim()).filter(Boolean);
    for (let i = 0; i < lines.length; i++) {
      const c = parseCase(lines[i]);
      if (!c) { setErrors({ cases: t("c.badline", { n: i + 1, line: lines[i] }) }); return; }
      parsed.push(c);
    }
    const incidentIds = list(ids).map(Number);
    if (incidentIds.some((x) => !Number.isInteger(x) || x <= 0)) { setErrors({ incident_ids: t("c.incidents") + "：" + ids }); return; }
    if (!parsed.length && !incidentIds.length) { setErrors({ incident_ids: t("c.nocase") }); return; }
    try {
      setOut(await api("/intel/co-presence", { method: "POST", body: { purpose, incident_ids: incidentIds, cases: parsed,
        dt_minutes: Number(dt), dd_m: Number(dd), k: Number(k) } }));
    } catch (err) {
      const f = fieldOf(err);
      if (err.status === 422 && (f === "incident_ids" || f === "cases")) setErrors({ [f]: fieldMessage(err) });
      else setError(errText(err));
    }
  };
  const num = (lbl, v, set, testid, attrs) => html`<label>${t(lbl)}<input type="number" data-testid=${testid} value=${v}
    onInput=${(e) => set(e.target.value)} required ...${attrs} /></label>`;
  return html`<div>
    <form class="controls" onSubmit=${submit}>
      <label class="grow">${t("c.incidents")} <small>${t("common.listsep")}</small><input data-testid="co-incidents" value=${ids}
        onInput=${(e) => setIds(e.target.value)} autocomplete="off" aria-invalid=${errors.incident_ids ? "true" : "false"}
        aria-describedby=${errors.incident_ids ? "err-incident_ids" : undefined} /><${FieldErr} id="incident_ids" error=${errors.incident_ids} /></label>
      ${num("c.dt", dt, setDt, "co-dt", { min: 1, max: 10080 })}
      ${num("c.dd", dd, setDd, "co-dd", { min: 1, max: 20000 })}
      ${num("c.k", k, setK, "co-k", { min: 1, max: 50 })}
      <label class="full">${t("c.cases")} <small>${t("c.cases.hint")}</small><textarea data-testid="co-cases" rows="3" value=${cases}
        onInput=${(e) => setCases(e.target.value)} aria-invalid=${errors.cases ? "true" : "false"}
        aria-describedby=${errors.cases ? "err-cases" : undefined}></textarea><${FieldErr} id="cases" error=${errors.cases} /></label>
      <button class="primary" data-testid="co-submit">${t("common.query")}</button>
    </form>
    <${Err} error=${error} testid="co-error" />
    ${out && html`<section class="card" data-testid="co-presence" aria-labelledby="co-h">
      <h2 id="co-h">${t("c.results", { cases: out.cases, n: out.results.length })}</h2>
      ${out.results.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th>${t("c.type")}</th><th>${t("c.entity")}</th><th>${t("c.n_cases")}</th><th>${t("c.records")}</th>
          <th>${t("c.first")}</th><th>${t("c.last")}</th><th></th></tr></thead>
        <tbody>${out.results.map((r) => html`<tr data-testid="co-row">
          <td>${t("t." + r.entity_type)}</td><td class="mono">${r.entity}</td>
          <td>${r.n_cases}<br /><small>${(r.case_ids || []).join("、")}</small></td>
          <td class="wrap"><details><summary>${t("c.evidence", { n: r.n_records })}</summary><ul class="plain">
            ${(r.evidence || []).map((ev) => html`<li>${fmtDateTime(ev.at)} · ${ev.case_id} · ${label("src.", ev.source)} ${ev.venue_name || ""}
              · ${t("c.distance", { m: Math.round(ev.distance_m), dt: Math.round(ev.dt_minutes) })}</li>`)}</ul></details></td>
          <td>${fmtDateTime(r.first_at)}</td><td>${fmtDateTime(r.last_at)}</td>
          <td><button type="button" class="small" onClick=${() => onTrajectory(r.entity_type, r.entity)}>${t("p.trajectory")}</button></td>
        </tr>`)}</tbody></table></div>`}
    </section>`}
  </div>`;
}

// --- 关系人员倒查 --------------------------------------------------------------------------------------------

const KIND_COLOUR = { co_stay: "#b42318", co_travel: "#0072b2", shared_phone: "#8a4baf", shared_address: "#b7791f",
  family: "#067647", co_offending: "#1b2430" };

// Rings by hop around the centre; a node sits near the angle of the nodes that brought it in, so a
// family of associates stays together and lines rarely cross. Pure layout, no physics: the same answer
// always draws the same picture.
function layout(nodes, edges, size) {
  const c = size / 2;
  const pos = {};
  const byHop = {};
  nodes.forEach((n) => { (byHop[n.hops] = byHop[n.hops] || []).push(n); });
  const adj = {};
  edges.forEach((e) => { (adj[e.source] = adj[e.source] || []).push(e.target); (adj[e.target] = adj[e.target] || []).push(e.source); });
  const angle = {};
  const hops = Object.keys(byHop).map(Number).sort((a, b) => a - b);
  const rings = Math.max(1, hops[hops.length - 1] || 1);
  hops.forEach((h) => {
    const ring = byHop[h];
    if (h === 0) { ring.forEach((n) => { pos[n.id] = [c, c]; angle[n.id] = 0; }); return; }
    const key = (n) => {
      const ps = (adj[n.id] || []).filter((x) => angle[x] !== undefined && pos[x] && x !== nodes[0].id);
      if (!ps.length) return -n.score;
      return Math.atan2(ps.reduce((s, x) => s + Math.sin(angle[x]), 0), ps.reduce((s, x) => s + Math.cos(angle[x]), 0));
    };
    const ordered = h === 1 ? [...ring].sort((a, b) => b.score - a.score) : [...ring].sort((a, b) => key(a) - key(b));
    const r = (c - 28) * (h / rings);
    ordered.forEach((n, i) => {
      const a = (2 * Math.PI * i) / ordered.length - Math.PI / 2;
      angle[n.id] = a;
      pos[n.id] = [c + r * Math.cos(a), c + r * Math.sin(a)];
    });
  });
  return pos;
}

function RelationGraphView({ g, selected, onSelect }) {
  const size = 520;
  const pos = layout(g.nodes, g.edges, size);
  return html`<svg class="relgraph" viewBox=${`0 0 ${size} ${size}`} role="img" aria-label=${t("g.graph")} data-testid="rel-graph"
    data-nodes=${String(g.nodes.length)} data-edges=${String(g.edges.length)}>
    ${g.edges.map((e) => pos[e.source] && pos[e.target] && html`<line x1=${pos[e.source][0]} y1=${pos[e.source][1]}
      x2=${pos[e.target][0]} y2=${pos[e.target][1]} stroke=${KIND_COLOUR[e.kind] || "#888"}
      stroke-width=${1 + Math.min(4, 4 * e.weight)} opacity=${selected && e.source !== selected && e.target !== selected ? 0.15 : 0.75}>
      <title>${label("kind.", e.kind)} ×${e.count}</title></line>`)}
    ${g.nodes.map((n) => html`<g class="node" transform=${`translate(${pos[n.id][0]},${pos[n.id][1]})`} tabindex="0"
      data-testid="rel-node" data-id=${n.id} data-hops=${String(n.hops)} onClick=${() => onSelect(n.id)}
      onKeyDown=${(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(n.id); } }}>
      <circle r=${n.hops === 0 ? 11 : 8} fill=${n.hops === 0 ? "#b42318" : n.key_person ? "#e07a00" : "#0b2a4a"}
        stroke=${selected === n.id ? "#ffbf47" : "#fff"} stroke-width=${selected === n.id ? 4 : 2} />
      <text y="-12" text-anchor="middle">${n.key_person ? n.key_person.name : n.id.slice(-4)}</text>
      <title>${n.id}${n.key_person ? ` ${n.key_person.name}（${n.key_person.category}）` : ""}</title></g>`)}
  </svg>`;
}

function RecordRelation({ person, onRecorded }) {
  const [b, setB] = useState("");
  const [kind, setKind] = useState("family");
  const [detail, setDetail] = useState("");
  const [source, setSource] = useState("");
  const [errors, setErrors] = useState({});
  const [done, setDone] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setErrors({}); setError(null); setDone(null);
    if (!person.trim()) { setErrors({ rb: t("g.person") }); return; }
    try {
      const r = await api("/intel/relations", { method: "POST", body: { a: person.trim(), b: b.trim(), kind, detail, source } });
      setDone(r.id); setB(""); setDetail("");
      onRecorded();
    } catch (err) {
      const f = fieldOf(err);
      if (err.status === 422 && (f === "a" || f === "b")) setErrors({ rb: fieldMessage(err) });
      else setError(errText(err));
    }
  };
  return html`<details class="card-ish" data-testid="rel-record"><summary>${t("g.record")}</summary>
    <form class="controls inline-form" onSubmit=${submit}>
      <label>${t("g.other")}<input data-testid="rel-record-b" value=${b} maxlength="32" required autocomplete="off"
        onInput=${(e) => setB(e.target.value)} aria-invalid=${errors.rb ? "true" : "false"}
        aria-describedby=${errors.rb ? "err-rb" : undefined} /><${FieldErr} id="rb" error=${errors.rb} /></label>
      <label>${t("g.rkind")}<select data-testid="rel-record-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        ${["family", "co_offending"].map((x) => html`<option value=${x}>${label("kind.", x)}</option>`)}</select></label>
      <label class="grow">${t("g.detail")}<input data-testid="rel-record-detail" value=${detail} maxlength="200" onInput=${(e) => setDetail(e.target.value)} /></label>
      <label>${t("g.source")}<input value=${source} maxlength="64" onInput=${(e) => setSource(e.target.value)} /></label>
      <button class="primary" data-testid="rel-record-submit">${t("g.save")}</button>
      ${done && html`<span role="status" data-testid="rel-recorded">${t("g.recorded", { id: done })}</span>`}
    </form><${Err} error=${error} testid="rel-record-error" /></details>`;
}

function Relations({ need, onTrajectory, editor }) {
  const [person, setPerson] = useState("");
  const [k, setK] = useState("2");
  const [kinds, setKinds] = useState([]);
  const [days, setDays] = useState("7");
  const [other, setOther] = useState("");
  const [g, setG] = useState(null);
  const [selected, setSelected] = useState(null);
  const [seen, setSeen] = useState(null);
  const [chain, setChain] = useState(null);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const fail = (err, fields) => {
    const f = fieldOf(err);
    if (err.status === 422 && fields.includes(f)) setErrors({ [f]: fieldMessage(err) });
    else setError(errText(err));
  };
  const start = (needPerson = true) => {
    const purpose = need();
    if (!purpose) return null;
    setErrors({}); setError(null);
    if (needPerson && !person.trim()) { setErrors({ person: t("g.person") }); return null; }
    return purpose;
  };
  const kindsQ = () => (kinds.length ? kinds.join(",") : undefined);
  const look = async (who = person) => {
    const purpose = start();
    if (!purpose) return;
    try {
      const r = await api("/intel/graph/neighbourhood", { query: { purpose, person: who.trim(), k, kinds: kindsQ(), limit: 60 } });
      setG(r); setSelected(null); setChain(null); setSeen(null);
    } catch (err) { fail(err, ["person", "kinds"]); setG(null); }
  };
  const associates = async () => {
    const purpose = start();
    if (!purpose) return;
    try {
      setSeen(await api("/intel/graph/associates-seen", { query: { purpose, person: person.trim(), days, k: Math.min(2, Number(k)), kinds: kindsQ() } }));
    } catch (err) { fail(err, ["person", "days"]); }
  };
  const findChain = async () => {
    const purpose = start();
    if (!purpose) return;
    if (!other.trim()) { setErrors({ b: t("g.to") }); return; }
    try {
      setChain(await api("/intel/graph/path", { query: { purpose, a: person.trim(), b: other.trim(), kinds: kindsQ() } }));
    } catch (err) { const f = fieldOf(err); if (err.status === 422 && f === "person") setErrors({ b: fieldMessage(err) }); else fail(err, ["kinds"]); }
  };
  const recentre = (id) => { setPerson(id); look(id); };
  // Evidence names activity records (or phone:/address:/relation: facts); the records are read on request.
  const [evRecords, setEvRecords] = useState({});
  const recordIds = (e) => e.evidence.filter((x) => !/^(phone|address|relation):/.test(x));
  const openRecords = async (e) => {
    const purpose = need();
    if (!purpose) return;
    try {
      const r = await api("/intel/records", { query: { purpose, ids: recordIds(e).join(",") } });
      setEvRecords((v) => ({ ...v, [e.id]: r.records }));
    } catch (err) { setError(errText(err)); }
  };
  const evidenceCell = (e) => {
    const rec = evRecords[e.id];
    if (rec) {
      return html`<ul class="plain" data-testid="evidence-records">${rec.map((x) => html`<li>${fmtDateTime(x.at)} · ${label("src.", x.source)}
        ${x.venue_name || x.venue_code || ""} ${x.room || x.trip || ""} · <span class="mono">${x.id_number || x.plate || ""}</span> ${x.name || ""}</li>`)}</ul>`;
    }
    const facts = e.evidence.filter((x) => /^(phone|address|relation):/.test(x)).map((x) => x.replace(/^relation:\d+ ?/, ""));
    return html`${facts.join("；")}${recordIds(e).length ? html` <button type="button" class="small" data-testid="evidence-open"
      onClick=${() => openRecords(e)}>${t("g.records", { n: recordIds(e).length })}</button>` : ""}`;
  };
  const toggle = (x) => setKinds((v) => (v.includes(x) ? v.filter((y) => y !== x) : [...v, x]));
  const edges = g ? g.edges.filter((e) => !selected || e.source === selected || e.target === selected) : [];
  const nodeOf = (id) => (g ? g.nodes.find((n) => n.id === id) : null);
  const who = (id) => { const n = nodeOf(id); return n && n.key_person ? `${id} ${n.key_person.name}` : id; };
  return html`<div>
    <form class="controls" onSubmit=${(e) => { e.preventDefault(); look(); }}>
      <label class="grow">${t("g.person")}<input data-testid="rel-person" value=${person} maxlength="32" autocomplete="off"
        onInput=${(e) => { setPerson(e.target.value); setErrors({}); }} aria-invalid=${errors.person ? "true" : "false"}
        aria-describedby=${errors.person ? "err-person" : undefined} /><${FieldErr} id="person" error=${errors.person} /></label>
      <label>${t("g.k")}<select data-testid="rel-k" value=${k} onChange=${(e) => setK(e.target.value)}>
        ${["1", "2", "3"].map((x) => html`<option value=${x}>${x}</option>`)}</select></label>
      <fieldset class="checks"><legend>${t("g.kinds")}</legend>
        ${KINDS.map((x) => html`<label><input type="checkbox" checked=${kinds.includes(x)} onChange=${() => toggle(x)} /> ${label("kind.", x)}</label>`)}
      </fieldset>
      <button class="primary" data-testid="rel-submit">${t("g.query")}</button>
      <label>${t("g.days")}<input type="number" data-testid="rel-days" value=${days} min="1" max="365" onInput=${(e) => setDays(e.target.value)} /></label>
      <button type="button" data-testid="rel-seen" class="small" onClick=${associates}>${t("g.seen")}</button>
      <label>${t("g.to")}<input data-testid="rel-other" value=${other} maxlength="32" autocomplete="off"
        onInput=${(e) => { setOther(e.target.value); setErrors({}); }} aria-invalid=${errors.b ? "true" : "false"}
        aria-describedby=${errors.b ? "err-b" : undefined} /><${FieldErr} id="b" error=${errors.b} /></label>
      <button type="button" data-testid="rel-path" class="small" onClick=${findChain}>${t("g.path")}</button>
    </form>
    <${Err} error=${error} testid="rel-error" />
    ${editor && html`<${RecordRelation} person=${person} onRecorded=${() => { if (g) look(); }} />`}
    ${chain && html`<section class="card" data-testid="rel-chain">
      ${chain.found ? html`<h2>${t("g.chain", { n: chain.steps.length })}</h2>
        <ol class="chain">${chain.steps.map((step, i) => html`<li data-testid="chain-step">
          <span class="mono">${chain.nodes[i]}</span>${chain.key_persons[chain.nodes[i]] ? ` ${chain.key_persons[chain.nodes[i]].name}` : ""}
          — ${step.map((r) => `${label("kind.", r.kind)}×${r.count}`).join("、")} →
          <span class="mono">${chain.nodes[i + 1]}</span>${chain.key_persons[chain.nodes[i + 1]] ? ` ${chain.key_persons[chain.nodes[i + 1]].name}` : ""}
          <br /><small class="muted">${step.flatMap((r) => r.evidence).slice(0, 3).join("；")}</small></li>`)}</ol>`
        : html`<p data-testid="rel-nopath">${t("g.nopath")}</p>`}
    </section>`}
    ${g && html`<section class="card" data-testid="rel-result" aria-labelledby="rel-h">
      <h2 id="rel-h">${t("g.result", { center: who(g.center), k: g.k, n: g.nodes.length - 1, total: g.total })}
        ${g.truncated ? html`<small>${t("g.truncated", { n: g.nodes.length - 1 })}</small>` : ""}</h2>
      <div class="split">
        <div><${RelationGraphView} g=${g} selected=${selected} onSelect=${(id) => setSelected(id === selected ? null : id)} />
          <p class="legend">${KINDS.map((x) => html`<span><i style=${`background:${KIND_COLOUR[x]}`}></i>${label("kind.", x)}</span>`)}
            <span><i class="dot listed"></i>${t("g.listed")}</span></p></div>
        <div class="scroll"><table>
          <thead><tr><th>${t("g.node")}</th><th>${t("g.hops")}</th><th>${t("g.score")}</th><th>${t("g.listed")}</th><th></th></tr></thead>
          <tbody>${g.nodes.slice(1).map((n) => html`<tr data-testid="rel-row" data-id=${n.id} class=${selected === n.id ? "sel" : ""}>
            <td class="mono"><button type="button" class="link" onClick=${() => setSelected(n.id)}>${n.id}</button></td><td>${n.hops}</td>
            <td>${n.score.toFixed(3)}</td><td>${n.key_person ? html`<b>${n.key_person.name}</b> ${label("cat.", n.key_person.category)}` : ""}</td>
            <td><button type="button" class="small" onClick=${() => recentre(n.id)}>${t("g.center")}</button>
              <button type="button" class="small" onClick=${() => onTrajectory("id_number", n.id)}>${t("p.trajectory")}</button></td></tr>`)}</tbody>
        </table></div>
      </div>
      <h3>${t("g.relations", { n: edges.length })}${selected ? " · " + who(selected) : ""}</h3>
      <div class="scroll"><table>
        <thead><tr><th>${t("g.node")}</th><th>${t("g.kind")}</th><th>${t("g.node")}</th><th>${t("g.count")}</th>
          <th>${t("g.first")}</th><th>${t("g.last")}</th><th>${t("g.evidence")}</th></tr></thead>
        <tbody>${edges.map((e) => html`<tr data-testid="rel-edge" data-kind=${e.kind}><td class="mono">${who(e.source)}</td>
          <td>${label("kind.", e.kind)}</td><td class="mono">${who(e.target)}</td><td>${e.count}</td>
          <td>${e.first_seen ? fmtDateTime(e.first_seen) : "—"}</td><td>${e.last_seen ? fmtDateTime(e.last_seen) : "—"}</td>
          <td class="wrap">${evidenceCell(e)}</td></tr>`)}</tbody>
      </table></div>
    </section>`}
    ${seen && html`<section class="card" data-testid="rel-sightings">
      <h2>${t("g.sightings", { days: seen.days, n: seen.sightings.length })}</h2>
      ${seen.sightings.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th>${t("common.time")}</th><th>${t("g.node")}</th><th>${t("g.via")}</th><th>${t("common.source")}</th><th>${t("common.place")}</th></tr></thead>
        <tbody>${seen.sightings.map((x) => html`<tr data-testid="sighting-row" data-key=${x.key}><td>${fmtDateTime(x.at)}</td>
          <td class="mono">${x.key}${x.key_person ? html` <b>${x.key_person.name}</b>` : ""}</td>
          <td>${t("g.hopsn", { n: x.hops })} · ${x.kinds.map((k2) => label("kind.", k2)).join("→")}</td><td>${label("src.", x.source)}</td>
          <td class="wrap">${x.venue_name || x.venue_code || "—"}</td></tr>`)}</tbody></table></div>`}
    </section>`}
  </div>`;
}

// --- 串并案 ---------------------------------------------------------------------------------------------------

function Series({ onCoPresence }) {
  const [incident, setIncident] = useState("");
  const [top, setTop] = useState("10");
  const [out, setOut] = useState(null);
  const [picked, setPicked] = useState([]);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setErrors({}); setError(null);
    const id = Number(incident);
    if (!Number.isInteger(id) || id <= 0) { setErrors({ incident_id: t("s.incident") }); return; }
    try {
      const r = await api("/intel/series/suggest", { query: { incident_id: id, top } });
      setOut(r); setPicked([]);
    } catch (err) {
      if (err.status === 404 || (err.status === 422 && fieldOf(err) === "incident_id")) setErrors({ incident_id: err.status === 404 ? err.message : fieldMessage(err) });
      else setError(errText(err));
      setOut(null);
    }
  };
  const pick = (id) => setPicked((v) => (v.includes(id) ? v.filter((x) => x !== id) : [...v, id]));
  return html`<div>
    <form class="controls" onSubmit=${submit}>
      <label>${t("s.incident")}<input data-testid="series-incident" value=${incident} inputmode="numeric" autocomplete="off"
        onInput=${(e) => { setIncident(e.target.value); setErrors({}); }} aria-invalid=${errors.incident_id ? "true" : "false"}
        aria-describedby=${errors.incident_id ? "err-incident_id" : undefined} /><${FieldErr} id="incident_id" error=${errors.incident_id} /></label>
      <label>${t("s.top")}<select value=${top} onChange=${(e) => setTop(e.target.value)}>${["5", "10", "20", "50"].map((x) => html`<option value=${x}>${x}</option>`)}</select></label>
      <button class="primary" data-testid="series-submit">${t("s.query")}</button>
      <small class="muted">${t("s.note")}</small>
    </form>
    <${Err} error=${error} testid="series-error" />
    ${out && html`<section class="card" data-testid="series" aria-labelledby="series-h">
      <h2 id="series-h">${t("s.result", { number: out.number, candidates: out.candidates, n: out.suggestions.length })}
        ${out.suggestions.length ? html`<button type="button" class="small" data-testid="series-copresence" disabled=${!picked.length}
          onClick=${() => onCoPresence([out.incident_id, ...picked])}>${t("s.copresence")}</button>` : ""}</h2>
      ${out.suggestions.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
        <thead><tr><th></th><th>${t("s.score")}</th><th>${t("s.number")}</th><th>${t("common.time")}</th><th>${t("s.category")}</th>
          <th>${t("s.dist")}</th><th>${t("s.gap")}</th><th>${t("s.evidence")}</th></tr></thead>
        <tbody>${out.suggestions.map((s) => html`<tr data-testid="series-row" data-incident=${String(s.incident_id)}>
          <td><input type="checkbox" aria-label=${s.number} checked=${picked.includes(s.incident_id)} onChange=${() => pick(s.incident_id)} /></td>
          <td><meter min="0" max="1" value=${s.score}></meter> ${(s.score * 100).toFixed(0)}%</td>
          <td class="mono">${s.number}</td><td>${fmtDateTime(s.at)}</td><td>${s.category}</td>
          <td>${t("s.m", { n: Math.round(s.dist_m) })}</td><td>${s.gap_days < 1 ? t("s.hours", { n: Math.round(s.gap_days * 24) }) : t("s.days", { n: s.gap_days.toFixed(1) })}</td>
          <td class="wrap"><ul class="plain">${(Array.isArray(s.evidence) ? s.evidence : [s.evidence]).map((x) => html`<li>${x}</li>`)}</ul></td></tr>`)}</tbody>
      </table></div>`}
    </section>`}
  </div>`;
}

// --- 线索 -----------------------------------------------------------------------------------------------------

function LeadForm({ onCreated }) {
  const empty = { source: "", credibility: "C", title: "", content: "", tags: "", person_ids: "" };
  const [f, setF] = useState(empty);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const set = (k) => (e) => { const v = e.target.value; setF((x) => ({ ...x, [k]: v })); setErrors((x) => ({ ...x, [k]: null })); };
  const submit = async (e) => {
    e.preventDefault();
    setErrors({}); setError(null); setDone(null);
    const pids = list(f.person_ids).map(Number);
    if (pids.some((x) => !Number.isInteger(x) || x <= 0)) { setErrors({ person_ids: t("l.persons") + "：" + f.person_ids }); return; }
    try {
      const lead = await api("/intel/leads", { method: "POST", body: { source: f.source, credibility: f.credibility,
        title: f.title.trim(), content: f.content.trim(), tags: list(f.tags), person_ids: pids } });
      setDone(t("l.created", { id: lead.id }));
      setF(empty);
      onCreated(lead);
    } catch (err) {
      const k = fieldOf(err);
      if (err.status === 422 && k && k in empty) setErrors({ [k]: `${t("l." + k)}：${fieldMessage(err)}` });
      else setError(errText(err));
    }
  };
  const aria = (k) => ({ "aria-invalid": errors[k] ? "true" : "false", "aria-describedby": errors[k] ? "err-" + k : undefined });
  return html`<section class="card" data-testid="lead-form" aria-labelledby="lead-form-h">
    <h2 id="lead-form-h">${t("l.add")}</h2>
    <form class="grid-form" onSubmit=${submit}>
      <label>${t("l.source")}<select data-testid="lead-source" value=${f.source} onChange=${set("source")} required ...${aria("source")}>
        <option value="">${t("common.choose")}</option>
        ${LEAD_SOURCES.map((s) => html`<option value=${s}>${label("lsrc.", s)}</option>`)}</select><${FieldErr} id="source" error=${errors.source} /></label>
      <label>${t("l.credibility")}<select data-testid="lead-credibility" value=${f.credibility} onChange=${set("credibility")}>
        ${CREDIBILITY.map((c) => html`<option value=${c}>${c}</option>`)}</select></label>
      <label class="wide">${t("l.title")}<input data-testid="lead-title" value=${f.title} onInput=${set("title")} required minlength="2" maxlength="200" ...${aria("title")} />
        <${FieldErr} id="title" error=${errors.title} /></label>
      <label class="wide">${t("l.content")}<textarea data-testid="lead-content" rows="3" value=${f.content} onInput=${set("content")} required minlength="2" maxlength="8000" ...${aria("content")}></textarea>
        <${FieldErr} id="content" error=${errors.content} /></label>
      <label>${t("l.tags")} <small>${t("common.listsep")}</small><input data-testid="lead-tags" value=${f.tags} onInput=${set("tags")} /></label>
      <label>${t("l.persons")} <small>${t("common.listsep")}</small><input data-testid="lead-persons" value=${f.person_ids} onInput=${set("person_ids")} inputmode="numeric" ...${aria("person_ids")} />
        <${FieldErr} id="person_ids" error=${errors.person_ids} /></label>
      <div class="wide actions"><button class="primary" data-testid="lead-submit">${t("l.submit")}</button>
        ${done && html`<span role="status" data-testid="lead-created">${done}</span>`}</div>
    </form>
    <${Err} error=${error} testid="lead-form-error" />
  </section>`;
}

function VerifyForm({ lead, orgs, onSent, onCancel }) {
  const [org, setOrg] = useState("");
  const [minutes, setMinutes] = useState("60");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api(`/intel/leads/${lead.id}/verify`, { method: "POST", body: { org_id: Number(org), feedback_minutes: Number(minutes) } });
      onSent(r, (orgs.find((o) => o.id === Number(org)) || {}).name || org);
    } catch (err) { setError(errText(err)); }
  };
  return html`<form class="controls inline-form" data-testid="verify-form" onSubmit=${submit}>
    <label>${t("common.station")}<${StationSelect} orgs=${orgs} value=${org} onChange=${setOrg} testid="verify-org" required /></label>
    <label>${t("l.minutes")}<input type="number" data-testid="verify-minutes" min="10" max="10080" value=${minutes} required
      onInput=${(e) => setMinutes(e.target.value)} /></label>
    <button class="primary" data-testid="verify-submit">${t("l.send")}</button>
    <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
    <${Err} error=${error} testid="verify-error" />
  </form>`;
}

function Leads({ editor, active, orgs, orders, reloadOrders }) {
  const [status, setStatus] = useState("");
  const [rows, setRows] = useState(null);
  const [verifying, setVerifying] = useState(null);
  const [msg, setMsg] = useState(null);
  const [error, setError] = useState(null);
  const load = useCallback(async () => {
    setError(null);
    try { setRows(await api("/intel/leads", { query: { status } })); reloadOrders(); } catch (err) { setError(errText(err)); }
  }, [status]);
  useEffect(() => { if (active) load(); }, [active, load]);
  const setLeadStatus = async (lead, s) => {
    setError(null);
    try {
      const out = await api(`/intel/leads/${lead.id}/status`, { method: "POST", body: { status: s } });
      setRows((r) => r.map((x) => (x.id === out.id ? out : x)));
    } catch (err) { setError(errText(err)); }
  };
  return html`<div class="split">
    <div>
      <form class="controls" onSubmit=${(e) => { e.preventDefault(); load(); }}>
        <label>${t("common.status")}<select data-testid="lead-filter" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">${t("common.all")}</option>
          ${LEAD_STATUSES.map((s) => html`<option value=${s}>${t("ls." + s)}</option>`)}</select></label>
        <button class="primary" data-testid="leads-refresh">${t("common.refresh")}</button>
      </form>
      ${msg && html`<p class="notice" role="status" data-testid="verify-sent">${msg}</p>`}
      <${Err} error=${error} testid="leads-error" />
      ${rows && html`<section class="card" data-testid="leads" aria-labelledby="leads-h">
        <h2 id="leads-h">${t("l.list")} <small>${rows.length}</small></h2>
        ${rows.length === 0 ? html`<p>${t("common.none")}</p>` : html`<div class="scroll"><table>
          <thead><tr><th>#</th><th>${t("l.title")}</th><th>${t("l.source")}</th><th>${t("l.credibility")}</th>
            <th>${t("common.status")}</th><th>${t("h.instruction")}</th><th>${t("l.created_at")}</th><th></th></tr></thead>
          <tbody>${rows.map((l) => html`<tr data-testid="lead-row" data-lead-id=${String(l.id)}>
            <td>${l.id}</td><td class="wrap"><b>${l.title}</b><br /><small>${l.content}</small>
              ${l.tags.length > 0 && html`<br /><small class="muted">${l.tags.join("、")}</small>`}</td>
            <td>${label("lsrc.", l.source)}</td><td>${l.credibility}</td>
            <td>${editor ? html`<select aria-label=${t("l.setstatus") + " #" + l.id} data-testid="lead-status" value=${l.status}
                onChange=${(e) => setLeadStatus(l, e.target.value)}>${LEAD_STATUSES.map((s) => html`<option value=${s}>${t("ls." + s)}</option>`)}</select>`
              : t("ls." + l.status)}</td>
            <td class="wrap"><${OrderCell} id=${l.instruction_id} orders=${orders} /></td>
            <td>${fmtDateTime(l.created_at)}</td>
            <td>${editor && html`<button type="button" class="small" data-testid="lead-verify" aria-expanded=${verifying === l.id ? "true" : "false"}
              onClick=${() => { setMsg(null); setVerifying(verifying === l.id ? null : l.id); }}>${t("l.verify")}</button>`}</td>
          </tr>${verifying === l.id && html`<tr><td colspan="8"><${VerifyForm} lead=${l} orgs=${orgs} onCancel=${() => setVerifying(null)}
            onSent=${(r, org) => { setVerifying(null); setMsg(t("l.sent", { id: r.instruction.id, org })); setRows((x) => x.map((y) => (y.id === r.lead.id ? r.lead : y))); reloadOrders(); }} /></td></tr>`}`)}
          </tbody></table></div>`}
      </section>`}
    </div>
    ${editor && html`<${LeadForm} onCreated=${(lead) => setRows((r) => (r ? [lead, ...r] : [lead]))} />`}
  </div>`;
}

register({
  "lsrc.群众举报": ["群众举报", "Public report"], "lsrc.特情": ["特情", "Informant"], "lsrc.网络巡查": ["网络巡查", "Online patrol"],
  "lsrc.研判发现": ["研判发现", "Found in analysis"], "lsrc.上级通报": ["上级通报", "Notice from above"],
  "lsrc.兄弟单位": ["兄弟单位", "Partner unit"], "lsrc.其他": ["其他", "Other"],
});

// --- the page -------------------------------------------------------------------------------------------------

function Intel({ user }) {
  const [tab, setTab] = useState("persons");
  const [purpose, setPurposeState] = useState(sessionStorage.getItem(PURPOSE_KEY) || "");
  const [purposeError, setPurposeError] = useState(false);
  const [orgs, setOrgs] = useState([]);
  const [orders, setOrders] = useState({});
  const [preset, setPreset] = useState(null);
  const purposeRef = useRef(null);
  const tabRefs = useRef({});
  const editor = EDITORS.includes(user.role);
  const allowed = READERS.includes(user.role);
  useEffect(() => {
    if (!allowed) return;
    api("/geo/jurisdictions").then((j) => setOrgs(j.features.map((f) => ({ id: f.properties.org_id, name: f.properties.name }))))
      .catch(() => setOrgs([]));
  }, []);
  const setPurpose = (v) => {
    setPurposeState(v);
    sessionStorage.setItem(PURPOSE_KEY, v);
    if (v.trim().length >= 4) setPurposeError(false);
  };
  const purposeOk = () => (purpose.trim().length >= 4 ? purpose.trim() : null);
  // The 查询事由 for a look-up, or null after saying why not and putting the cursor in the field.
  const need = () => {
    const p = purposeOk();
    if (p) { setPurposeError(false); return p; }
    setPurposeError(true);
    if (purposeRef.current) purposeRef.current.focus();
    return null;
  };
  // Hits cause 核查指令, or 预警指令 where the rule only informs (a listed person's car at a checkpoint).
  const reloadOrders = () => Promise.all(["verify", "warning"].map((kind) => api("/instructions", { query: { kind, limit: 1000 } })))
    .then((lists) => setOrders(Object.fromEntries(lists.flat().map((o) => [o.id, o])))).catch(() => {});
  const orgName = (id) => (orgs.find((o) => o.id === id) || {}).name;
  const onTrajectory = (key, value) => { setTab("trajectory"); setPreset({ key, value }); };
  const [coPreset, setCoPreset] = useState(null);
  const onCoPresence = (ids) => { setTab("copresence"); setCoPreset({ ids }); };
  const onTabKey = (e) => {
    const i = TABS.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const k = TABS[(next + TABS.length) % TABS.length];
    setTab(k);
    if (tabRefs.current[k]) tabRefs.current[k].focus();
  };
  const header = html`<header class="top">
    <h1>${t("app.title")} · ${t("intel.title")}</h1>
    <span data-testid="who">${user.full_name || user.username}</span>
    <a href="/">${t("intel.console")}</a>
    <a href="/stats">${t("intel.stats")}</a>
    <button class="link" data-testid="lang-switch" onClick=${toggleLang}>${t("lang.switch")}</button>
    <button class="link" data-testid="logout" onClick=${() => { sessionStorage.removeItem(PURPOSE_KEY); logout(); }}>${t("logout")}</button>
  </header>`;
  if (!allowed) return html`${header}<main><p class="error" role="alert" data-testid="intel-denied">${t("intel.denied")}</p></main>`;
  const panel = (k, body) => html`<section class="panel" role="tabpanel" id=${"panel-" + k} aria-labelledby=${"tab-" + k}
    data-testid=${"panel-" + k} hidden=${tab !== k}>${body}</section>`;
  return html`${header}
    <div class="purpose-bar">
      <label for="purpose">${t("purpose.label")}</label>
      <input id="purpose" ref=${purposeRef} data-testid="purpose" value=${purpose} maxlength="200" autocomplete="off"
        placeholder=${t("purpose.placeholder")} onInput=${(e) => setPurpose(e.target.value)}
        aria-invalid=${purposeError ? "true" : "false"} aria-describedby="purpose-hint${purposeError ? " purpose-error" : ""}" />
      <small id="purpose-hint">${t("purpose.hint")}</small>
      ${purposeError && html`<p class="error" id="purpose-error" role="alert" data-testid="purpose-error">${t("purpose.needed")}</p>`}
    </div>
    <main>
      ${!editor && html`<p class="note" data-testid="readonly">${t("intel.readonly")}</p>`}
      <div class="tabs" role="tablist" aria-label=${t("intel.sections")} onKeyDown=${onTabKey}>
        ${TABS.map((k) => html`<button type="button" role="tab" id=${"tab-" + k} ref=${(r) => { tabRefs.current[k] = r; }}
          aria-selected=${tab === k ? "true" : "false"} aria-controls=${"panel-" + k} tabindex=${tab === k ? "0" : "-1"}
          data-testid=${"tab-" + k} onClick=${() => setTab(k)}>${t("tab." + k)}</button>`)}
      </div>
      ${panel("persons", html`<${Persons} editor=${editor} need=${need} orgs=${orgs} onTrajectory=${onTrajectory} />`)}
      ${panel("hits", html`<${Hits} editor=${editor} need=${need} purposeOk=${purposeOk} active=${tab === "hits"} orgName=${orgName} orgs=${orgs}
        orders=${orders} reloadOrders=${reloadOrders} />`)}
      ${panel("ingest", html`<${Ingest} editor=${editor} active=${tab === "ingest"} />`)}
      ${panel("trajectory", html`<${Trajectory} need=${need} active=${tab === "trajectory"} preset=${preset} />`)}
      ${panel("origin", html`<${Origin} need=${need} />`)}
      ${panel("relations", html`<${Relations} need=${need} onTrajectory=${onTrajectory} editor=${editor} />`)}
      ${panel("copresence", html`<${CoPresence} need=${need} onTrajectory=${onTrajectory} preset=${coPreset} />`)}
      ${panel("series", html`<${Series} onCoPresence=${onCoPresence} />`)}
      ${panel("leads", html`<${Leads} editor=${editor} active=${tab === "leads"} orgs=${orgs} orders=${orders} reloadOrders=${reloadOrders} />`)}
    </main>`;
}

function App() {
  const session = useScreen(() => `${t("intel.title")} · ${t("app.title")}`);
  useEffect(() => { if (!session) sessionStorage.removeItem(PURPOSE_KEY); }, [session]);
  if (!session) {
    return html`<${LoginForm} heading=${t("intel.title")} screenClass="login-screen" formClass="login-box" />`;
  }
  return html`<${Intel} user=${session} key=${session.username} />`;
}

mount(App);
