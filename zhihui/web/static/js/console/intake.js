// 接警 form: keyboard first, analysed live (POST /intake/analyze) while the call-taker types:
// caller attribution, address candidates, suggested types, duplicates, 12345 advice and risk flags.
// One Idempotency-Key per call: a double press or a retry after a network error records it once.
import { html, useState, useEffect, useRef, useMemo } from "/static/vendor/preact-htm.mjs";
import { api, idempotencyKey } from "../api.js";
import { t, fmtDistance, getLang } from "../i18n.js";
import { toast } from "./ui.js";
import { categoryLabel, loadCategories } from "./categories.js";

const CHANNELS = ["110", "119", "122", "12110-SMS", "internet", "12345", "alarm"];
const EMPTY = { phone: "", name: "", channel: "110", address: "", description: "", category: "", level: "", urgent: null };

export function IntakePanel({ pick, setPick, incidents, onRecorded, onOpen }) {
  const [form, setForm] = useState(EMPTY);
  const [key, setKey] = useState(idempotencyKey());
  const [cats, setCats] = useState([]);
  const [analysis, setAnalysis] = useState(null);
  const [analysing, setAnalysing] = useState(false);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  // A ref, not state: an analysis answer arriving after the call-taker typed a type must see it.
  const categoryTouched = useRef(false);
  const setCategoryTouched = (v) => { categoryTouched.current = v; };
  const seq = useRef(0);
  const phoneRef = useRef(null);

  useEffect(() => { loadCategories().then(setCats).catch(() => {}); }, []);
  const byCode = useMemo(() => Object.fromEntries(cats.map((c) => [c.code, c])), [cats]);
  const categoryCode = useMemo(() => {
    const code = (form.category.trim().split(/\s+/)[0] || "");
    if (byCode[code]) return code;
    const exact = cats.find((c) => c.label === form.category.trim() || c.enLabel === form.category.trim());
    return exact ? exact.code : null;
  }, [form.category, byCode]);

  const set = (field) => (e) => {
    const v = e.target.type === "checkbox" ? e.target.checked : e.target.value;
    setForm((f) => ({ ...f, [field]: v }));
    setErrors((er) => ({ ...er, [field]: null }));
  };

  const reset = () => {
    setForm(EMPTY);
    setKey(idempotencyKey());
    setAnalysis(null);
    setErrors({});
    setCategoryTouched(false);
    setPick({ picking: false, lat: null, lon: null });
    setTimeout(() => phoneRef.current && phoneRef.current.focus(), 0);
  };
  useEffect(() => {
    const h = () => reset();
    document.addEventListener("zhihui:new-call", h);
    return () => document.removeEventListener("zhihui:new-call", h);
  }, []);

  // Live analysis, debounced; stale answers are dropped.
  useEffect(() => {
    if (!form.description.trim() && !form.address.trim() && !form.phone.trim()) { setAnalysis(null); return; }
    const my = ++seq.current;
    const timer = setTimeout(async () => {
      setAnalysing(true);
      try {
        const body = { text: form.description, phone: form.phone || null, address: form.address || null };
        if (pick.lat !== null && pick.source !== "geocode") { body.lat = pick.lat; body.lon = pick.lon; }
        if (categoryCode) body.category_code = categoryCode;
        const a = await api("/intake/analyze", { method: "POST", body });
        if (my !== seq.current) return;
        setAnalysis(a);
        // Adopt the best geocode unless the call-taker placed the point themselves.
        if (a.point && a.point.source === "geocode" && (pick.lat === null || pick.source === "geocode")) {
          setPick({ picking: false, lat: a.point.lat, lon: a.point.lon, source: "geocode",
            label: a.address && a.address.geocode && a.address.geocode.best ? a.address.geocode.best.name : "" });
        }
        if (!categoryTouched.current && a.classification && a.classification.confident && a.category_code) {
          const c = byCode[a.category_code];
          if (c) setForm((f) => ({ ...f, category: `${c.code} ${getLang() === "en" ? c.enLabel : c.label}` }));
        }
      } catch (e) {
        if (my === seq.current) setAnalysis({ error: e.message });
      } finally {
        if (my === seq.current) setAnalysing(false);
      }
    }, 350);
    return () => clearTimeout(timer);
  }, [form.description, form.address, form.phone, categoryCode, pick.lat, pick.lon]);

  const chooseCategory = (code) => {
    const c = byCode[code];
    if (!c) return;
    setCategoryTouched(true);
    setForm((f) => ({ ...f, category: `${c.code} ${getLang() === "en" ? c.enLabel : c.label}` }));
  };
  const candidates = (analysis && analysis.address && analysis.address.geocode && analysis.address.geocode.candidates) || [];
  const chooseCandidate = (c) => setPick({ picking: false, lat: c.lat, lon: c.lon, source: "candidate", label: c.name });

  const body = () => {
    const b = { channel: form.channel, description: form.description.trim(), category_code: categoryCode || form.category.trim() };
    if (form.phone.trim()) b.caller_phone = form.phone.trim();
    if (form.name.trim()) b.caller_name = form.name.trim();
    if (form.address.trim()) b.address = form.address.trim();
    // No address typed: keep the place the caller named in the description (what the geocoder read).
    else if (analysis && analysis.address && analysis.address.text) b.address = analysis.address.text;
    if (form.level) b.level = Number(form.level);
    if (form.urgent !== null) b.urgent = !!form.urgent;
    if (pick.lat !== null) { b.lat = pick.lat; b.lon = pick.lon; }
    return b;
  };

  // then: "merge" (into_id) or "divert" (advice) after recording.
  const submit = async (then) => {
    if (busy) return;
    const errs = {};
    if (!form.description.trim()) errs.description = t("intake.description");
    if (!categoryCode) errs.category = t("intake.category");
    if (Object.keys(errs).length) { setErrors(errs); return; }
    setBusy(true);
    try {
      const inc = await api("/incidents", { method: "POST", body: body(), idem: key });
      let final = inc;
      if (then && then.merge) {
        final = await api(`/incidents/${inc.id}/merge`, { method: "POST", body: { into_id: then.merge } });
      } else if (then && then.divert) {
        const d = then.divert;
        final = await api(`/incidents/${inc.id}/divert`, { method: "POST",
          body: { note: `非警务事项（${d.rule_name || d.reason || ""}），已告知来电人并转12345`, department: d.department, rule_id: d.rule_id } });
      }
      toast(t("intake.saved", { number: inc.number }), "ok");
      onRecorded(final);
      reset();
    } catch (e) {
      const f = e.field ? e.field.replace(/^body\./, "") : null;
      const map = { caller_phone: "phone", caller_name: "name", category_code: "category", lat: "point", lon: "point" };
      if (f) setErrors({ [map[f] || f]: e.message });
      toast(t("err.generic", { msg: e.message }), "error");
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submit(); return; }
    if (e.altKey && ["Digit1", "Digit2", "Digit3"].includes(e.code)) {
      const cands = (analysis && analysis.classification && analysis.classification.candidates) || [];
      const c = cands[Number(e.code.slice(-1)) - 1];
      if (c) { e.preventDefault(); chooseCategory(c.code); }
    }
    if (e.altKey && e.code === "KeyA" && candidates.length) { e.preventDefault(); chooseCandidate(candidates[0]); }
  };

  const cls = analysis && analysis.classification;
  const dups = (analysis && analysis.duplicates) || [];
  const div = analysis && analysis.diversion;
  const risk = (analysis && analysis.risk) || [];
  const phoneInfo = analysis && analysis.phone;
  const ents = analysis && analysis.entities;
  const en = getLang() === "en";
  const err = (f) => errors[f] && html`<span class="field-error" role="alert" data-testid=${"error-" + f}>${errors[f]}</span>`;

  return html`<form class="intake" data-testid="intake-form" onKeyDown=${onKeyDown} onSubmit=${(e) => { e.preventDefault(); submit(); }}>
    <div class="row2">
      <label>${t("intake.phone")}<input ref=${phoneRef} data-testid="intake-phone" value=${form.phone} onInput=${set("phone")}
        inputmode="tel" autocomplete="off" aria-invalid=${!!errors.phone} />${err("phone")}
        ${phoneInfo && phoneInfo.valid && html`<small class="hint" data-testid="phone-attribution">${[phoneInfo.province, phoneInfo.city, phoneInfo.carrier].filter(Boolean).join(" ")}</small>`}
        ${phoneInfo && !phoneInfo.valid && html`<small class="hint warn">${(phoneInfo.problems || []).join("；")}</small>`}
      </label>
      <label>${t("intake.name")}<input data-testid="intake-name" value=${form.name} onInput=${set("name")} autocomplete="off" /></label>
    </div>
    <div class="row2">
      <label>${t("intake.channel")}<select data-testid="intake-channel" value=${form.channel} onChange=${set("channel")}>
        ${CHANNELS.map((c) => html`<option value=${c}>${t("channel." + c)}</option>`)}</select></label>
      <label>${t("intake.level")}<select data-testid="intake-level" value=${form.level} onChange=${set("level")}>
        <option value="">${t("intake.level.auto")}</option>
        ${[1, 2, 3].map((l) => html`<option value=${l}>${t("level." + l)}</option>`)}</select></label>
    </div>
    <label>${t("intake.address")}<input data-testid="intake-address" value=${form.address} onInput=${set("address")} autocomplete="off" />${err("address")}</label>
    <div class="point-line" data-testid="intake-point">
      <span>${pick.lat !== null ? `${t("intake.point")}: ${pick.label || ""} ${pick.lat.toFixed(5)}, ${pick.lon.toFixed(5)}` : t("intake.point.none")}</span>
      <button type="button" class="small" data-testid="pick-on-map" onClick=${() => setPick((p) => ({ ...p, picking: true }))}>${t("intake.point.map")}</button>
      ${err("point")}
    </div>
    ${candidates.length > 0 && html`<div class="box" data-testid="address-candidates"><h4>${t("intake.candidates")}</h4>
      ${candidates.slice(0, 4).map((c, i) => html`<button type="button" class=${"cand" + (pick.lat === c.lat && pick.lon === c.lon ? " chosen" : "")}
        data-testid="address-candidate" onClick=${() => chooseCandidate(c)}>
        ${i === 0 ? "★ " : ""}${c.name} <small>${t("intake.confidence", { p: Math.round(c.confidence * 100) })} · ${t("intake.precision", { m: Math.round(c.precision_m) })}</small></button>`)}
    </div>`}
    <label>${t("intake.description")}<textarea data-testid="intake-description" rows="4" value=${form.description}
      onInput=${set("description")} aria-invalid=${!!errors.description}></textarea>${err("description")}</label>
    ${ents && (ents.resident_ids.length + ents.phones.length + ents.plates.length > 0) && html`<div class="chips" data-testid="entities">
      <span class="chip-title">${t("intake.entities")}</span>
      ${ents.resident_ids.map((x) => html`<span class=${"chip" + (x.valid ? "" : " bad")} data-testid="entity-id"
        title=${(x.problems || []).map((p) => (en ? p.message_en : p.message)).join("; ")}>🪪 ${x.number}
        ${x.valid ? ` · ${x.region_name || ""} ${x.sex || ""} ${x.age ?? ""}` : ` · ${t("intake.id.bad")}`}</span>`)}
      ${ents.phones.map((x) => html`<span class="chip">☎ ${x.number} ${x.province || ""}</span>`)}
      ${ents.plates.map((x) => html`<span class=${"chip" + (x.valid ? "" : " bad")}>🚗 ${x.number}</span>`)}
    </div>`}
    <label>${t("intake.category")}<input data-testid="intake-category" list="category-list" value=${form.category}
      placeholder=${t("intake.category.placeholder")} onInput=${(e) => { setCategoryTouched(true); set("category")(e); }}
      aria-invalid=${!!errors.category} autocomplete="off" />${err("category")}
      <datalist id="category-list">${cats.map((c) => html`<option value=${`${c.code} ${getLang() === "en" ? c.enLabel : c.label}`} />`)}</datalist></label>
    ${cls && cls.candidates && cls.candidates.length > 0 && html`<div class="box" data-testid="type-suggestions"><h4>${t("intake.suggested")}</h4>
      ${cls.candidates.map((c, i) => html`<button type="button" class=${"cand" + (categoryCode === c.code ? " chosen" : "")}
        data-testid="type-suggestion" onClick=${() => chooseCategory(c.code)}>${i + 1}. ${categoryLabel(c.code, c.label)} <small>${Math.round(c.probability * 100)}%</small></button>`)}
    </div>`}
    <label class="check"><input type="checkbox" data-testid="intake-urgent" checked=${form.urgent === true}
      onChange=${(e) => setForm((f) => ({ ...f, urgent: e.target.checked ? true : null }))} /> ${t("intake.urgent")}</label>
    ${dups.length > 0 && html`<div class="box warnbox" data-testid="duplicates" role="alert"><h4>${t("intake.duplicates")}</h4>
      ${dups.slice(0, 3).map((d) => {
        const inc = incidents[d.incident_id];
        return html`<div class="dup">
          <button type="button" class="link" onClick=${() => onOpen(d.incident_id)}>${t("intake.duplicate.row", {
            number: inc ? inc.number.slice(-5) : "#" + d.incident_id, dist: fmtDistance(d.distance_m),
            min: Math.round(d.gap_s / 60), score: d.score.toFixed(2) })}</button>
          <button type="button" class="small" data-testid="merge-into" onClick=${() => submit({ merge: d.incident_id })}>${t("intake.submit.merge")}</button>
          ${inc && html`<div class="dup-text">${inc.address || ""} · ${inc.description.slice(0, 40)}</div>`}
        </div>`;
      })}
    </div>`}
    ${div && div.divert && html`<div class="box infobox" data-testid="diversion"><h4>${t("intake.diversion")}</h4>
      <p>${div.department} · ${div.rule_name || ""} ${div.reason ? "· " + div.reason : ""}</p>
      <button type="button" class="small" data-testid="divert-12345" onClick=${() => submit({ divert: div })}>${t("intake.submit.divert")}</button>
    </div>`}
    ${risk.length > 0 && html`<div class="box riskbox" data-testid="risk"><h4>${t("intake.risk")}</h4>
      ${risk.map((r) => html`<p class=${"risk-" + r.severity}>${en ? r.message_en : r.message}</p>`)}</div>`}
    ${analysis && analysis.error && html`<p class="field-error">${analysis.error}</p>`}
    <div class="actions">
      <button class="primary" data-testid="intake-submit" disabled=${busy}>${t("intake.submit")}</button>
      <button type="button" data-testid="intake-new" onClick=${reset}>${t("intake.new")}</button>
      ${analysing && html`<span class="muted">${t("intake.analysing")}</span>`}
    </div>
    <p class="keys muted">${t("intake.keys")}</p>
  </form>`;
}
