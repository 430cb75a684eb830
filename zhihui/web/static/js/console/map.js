// 警务要素一张图: the wall map. Leaflet (window.L, loaded by index.html) over a basemap drawn from
// the city's own road graph (GET /geo/basemap): no tile server exists on the isolated network.
// Coordinates are WGS-84 throughout, like the road graph and the database.
import { t, fmtTime } from "../i18n.js";
import { categoryLabel } from "./categories.js";

const L = window.L;

// Okabe–Ito colours (distinguishable with colour-blindness) by top-level category code.
export const TYPE_COLOURS = {
  "01": "#D55E00", // 刑事
  "02": "#E69F00", // 治安
  "03": "#882255", // 治安灾害事故
  "04": "#0072B2", // 交通事故
  "05": "#AA0000", // 火灾
  "06": "#009E73", // 群众求助
  "07": "#56B4E9", // 举报投诉
  "08": "#CC79A7", // 纠纷
  "09": "#7f7f7f", // 其他
};
const TYPE_NAMES = { "01": "type.01", "02": "type.02", "03": "type.03", "04": "type.04", "05": "type.05",
  "06": "type.06", "07": "type.07", "08": "type.08", "09": "type.09" };
export const typeColour = (code) => TYPE_COLOURS[(code || "").slice(0, 2)] || "#7f7f7f";

const UNIT_COLOURS = { available: "#009E73", assigned: "#E69F00", en_route: "#E69F00", on_scene: "#0072B2",
  off_duty: "#9a9a9a" };

// Muted roads so that the incident colours stay the loudest thing on the map.
const ROAD_STYLE = {
  1: { color: "#fbe7b0", weight: 7 }, 2: { color: "#fdf1cf", weight: 5 }, 3: { color: "#ffffff", weight: 3.5 },
  4: { color: "#ffffff", weight: 2 }, 5: { color: "#e4e0d8", weight: 1 },
};
const CASING = "#c8bfae";

export class WallMap {
  constructor(el, { onIncidentClick, onMapClick, onHotspotsShown }) {
    this.map = L.map(el, { preferCanvas: true, zoomControl: true, attributionControl: true, minZoom: 12,
      maxZoom: 19, zoomSnap: 0.25, zoomDelta: 0.5 });
    this.map.attributionControl.setPrefix(false);
    this.map.setView([22.534, 114.02], 15);
    this.onIncidentClick = onIncidentClick;
    this.onMapClick = onMapClick;
    this.onHotspotsShown = onHotspotsShown;
    this.renderer = L.canvas({ padding: 0.3 });
    this.layers = {
      districts: L.layerGroup(),
      roads: L.layerGroup(),
      jurisdictions: L.layerGroup(),
      places: L.layerGroup(),
      cameras: L.layerGroup(),
      routes: L.layerGroup(),
      units: L.layerGroup(),
      incidents: L.layerGroup(),
      pick: L.layerGroup(),
      hotspots: L.layerGroup(), // 热点预测: off until asked for (GET /analytics/hotspots)
    };
    for (const k of ["districts", "roads", "jurisdictions", "cameras", "routes", "units", "incidents", "pick"]) {
      this.layers[k].addTo(this.map);
    }
    this.incidentMarkers = new Map();
    this.unitMarkers = new Map();
    this.selectedId = null;
    this.map.on("click", (e) => this.onMapClick && this.onMapClick(e.latlng.lat, e.latlng.lng));
    this.map.on("zoomend", () => this.drawCameras(this.highlighted || new Set()));
    this.map.on("overlayadd", (e) => {
      if (e.layer === this.layers.hotspots && this.onHotspotsShown) this.onHotspotsShown();
    });
    this.control = null;
    this.buildControl();
  }

  buildLegend() {
    if (this.legend) this.legend.remove();
    const Legend = L.Control.extend({
      onAdd: () => {
        const div = L.DomUtil.create("div", "legend");
        div.setAttribute("data-testid", "map-legend");
        const types = Object.entries(TYPE_NAMES).map(([code, names]) =>
          `<span><i style="background:${TYPE_COLOURS[code]}"></i>${escapeHtml(t(names))}</span>`).join("");
        const units = ["available", "en_route", "on_scene"].map((st) =>
          `<span><i class="sq" style="background:${UNIT_COLOURS[st]}"></i>${escapeHtml(t("ustatus." + st))}</span>`).join("");
        div.innerHTML = `<div>${types}</div><div>${units}<span><i class="ring"></i>${escapeHtml(t("overdue"))}</span></div>`;
        L.DomEvent.disableClickPropagation(div);
        return div;
      },
    });
    this.legend = new Legend({ position: "bottomleft" }).addTo(this.map);
  }

  buildControl() {
    this.buildLegend();
    if (this.control) this.control.remove();
    const overlays = {};
    for (const k of ["roads", "districts", "jurisdictions", "incidents", "units", "cameras", "places", "routes",
      "hotspots"]) {
      overlays[t(`map.${k}`)] = this.layers[k];
    }
    this.control = L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(this.map);
  }

  setBasemap(base) {
    this.layers.roads.clearLayers();
    this.layers.districts.clearLayers();
    if (base.districts) {
      L.geoJSON(base.districts, { renderer: this.renderer, interactive: false,
        style: { color: "#8a7fb0", weight: 2, dashArray: "6 4", fill: false } }).addTo(this.layers.districts);
    }
    // Casing first, then the fill colour: roads read as roads at wall-display size.
    const byRank = (r) => base.roads.features.filter((f) => f.properties.r === r);
    for (const r of [5, 4, 3, 2, 1]) {
      const feats = { type: "FeatureCollection", features: byRank(r) };
      if (r <= 4) {
        L.geoJSON(feats, { renderer: this.renderer, interactive: false,
          style: { color: CASING, weight: ROAD_STYLE[r].weight + 1.5, lineCap: "round" } }).addTo(this.layers.roads);
      }
      L.geoJSON(feats, { renderer: this.renderer, interactive: false,
        style: { ...ROAD_STYLE[r], lineCap: "round", lineJoin: "round" } }).addTo(this.layers.roads);
    }
    // Street names for the main roads, once per name at the middle of its longest piece.
    const longest = new Map();
    for (const f of base.roads.features) {
      const { n, r } = f.properties;
      if (!n || r > 3) continue;
      const c = f.geometry.coordinates;
      const len = c.length;
      if (!longest.has(n) || longest.get(n).len < len) longest.set(n, { len, r, at: c[Math.floor(len / 2)] });
    }
    // Main roads are named from zoom 14, the rest from 16, so labels do not pile up.
    this.labels = { major: L.layerGroup(), minor: L.layerGroup() };
    for (const [name, { at, r }] of longest) {
      L.marker([at[1], at[0]], { interactive: false, keyboard: false,
        icon: L.divIcon({ className: "road-label", html: escapeHtml(name), iconSize: null }) })
        .addTo(r <= 2 ? this.labels.major : this.labels.minor);
    }
    const showLabels = () => {
      const z = this.map.getZoom();
      for (const [k, min] of [["major", 14], ["minor", 16]]) {
        if (z >= min && this.map.hasLayer(this.layers.roads)) this.labels[k].addTo(this.map);
        else this.labels[k].remove();
      }
    };
    this.map.on("zoomend overlayadd overlayremove", showLabels);
    showLabels();
    if (base.bounds) {
      this.map.invalidateSize(); // the grid may have settled since the map was made
      this.map.fitBounds(base.bounds, { padding: [4, 4] });
    }
    this.map.attributionControl.addAttribution(t("map.roads") + " © OpenStreetMap");
  }

  setJurisdictions(fc) {
    this.layers.jurisdictions.clearLayers();
    L.geoJSON(fc, {
      renderer: this.renderer, interactive: false,
      style: { color: "#3b6ea5", weight: 1.5, fillColor: "#3b6ea5", fillOpacity: 0.04 },
    }).addTo(this.layers.jurisdictions);
    // Station names at the station (or the area's centre), always shown: the wall reads by area.
    for (const f of fc.features) {
      const p = f.properties;
      const at = p.lat !== null && p.lat !== undefined ? [p.lat, p.lon] : L.geoJSON(f).getBounds().getCenter();
      L.marker(at, { interactive: false, keyboard: false,
        icon: L.divIcon({ className: "area-label", html: escapeHtml(p.name), iconSize: null }) })
        .addTo(this.layers.jurisdictions);
    }
  }

  // Predicted hotspot cells, darker for higher rank; the tooltip says how the method fared last period.
  setHotspots(fc) {
    this.layers.hotspots.clearLayers();
    const n = fc.features.length || 1;
    const bt = fc.backtest || {};
    const trust = bt.hit_rate === null || bt.hit_rate === undefined ? "" :
      `<br>${escapeHtml(t("hot.backtest", { hit: Math.round(100 * bt.hit_rate), pai: bt.pai }))}`;
    for (const f of fc.features) {
      const p = f.properties;
      const heat = 1 - (p.rank - 1) / n;
      L.geoJSON(f, { renderer: this.renderer,
        style: { color: "#b2182b", weight: 1, fillColor: heat > 0.5 ? "#b2182b" : "#ef8a62", fillOpacity: 0.25 + 0.35 * heat } })
        .bindTooltip(`${escapeHtml(t("hot.cell", { rank: p.rank, recent: p.recent_28d }))}<br>${escapeHtml(fc.method_label)}${trust}`)
        .addTo(this.layers.hotspots);
    }
    this.hotspotCount = fc.features.length;
  }

  setPlaces(places) {
    this.layers.places.clearLayers();
    for (const p of places) {
      L.circleMarker([p.lat, p.lon], { renderer: this.renderer, radius: 3, color: "#6b5b95", weight: 1,
        fillOpacity: 0.7 }).bindTooltip(p.name).addTo(this.layers.places);
    }
  }

  // All cameras stay on the map; the ones near the selected incident are highlighted.
  setCameras(cameras, highlight = new Set()) {
    this.allCameras = cameras;
    this.drawCameras(highlight);
  }

  highlightCameras(ids) {
    this.drawCameras(new Set(ids));
  }

  drawCameras(highlight) {
    this.highlighted = highlight;
    this.layers.cameras.clearLayers();
    // Zoomed out, only the cameras near the selected incident: dozens of dots would hide the streets.
    const all = this.map.getZoom() >= 15.5;
    for (const c of this.allCameras || []) {
      const hot = highlight.has(c.id);
      if (!hot && !all) continue;
      L.marker([c.lat, c.lon], {
        keyboard: false,
        icon: L.divIcon({ className: "cam-icon" + (hot ? " hot" : ""), html: "◉", iconSize: [16, 16] }),
        title: c.name,
      }).bindTooltip(c.name).addTo(this.layers.cameras);
    }
  }

  setIncidents(incidents, now, overdueIds) {
    const seen = new Set();
    for (const inc of incidents) {
      if (inc.lat === null || inc.lon === null) continue;
      seen.add(inc.id);
      const age = (now - Date.parse(inc.received_at)) / 1000;
      // Age shows as ring thickness: new calls are loud, old ones quieter; overdue gets a red ring.
      const fresh = age < 300;
      const style = {
        renderer: this.renderer,
        radius: inc.id === this.selectedId ? 13 : (fresh ? 10 : 8),
        color: overdueIds.has(inc.id) ? "#c00000" : (inc.id === this.selectedId || inc.status === "received" ? "#000" : "#ffffff"),
        weight: overdueIds.has(inc.id) || inc.id === this.selectedId ? 4 : (fresh ? 3 : 2),
        fillColor: typeColour(inc.category_code),
        fillOpacity: 0.95,
        // Not yet dispatched: a dashed ring, so waiting calls stand out on the wall.
        dashArray: inc.status === "received" && !overdueIds.has(inc.id) && inc.id !== this.selectedId ? "4 3" : null,
      };
      let m = this.incidentMarkers.get(inc.id);
      if (!m) {
        m = L.circleMarker([inc.lat, inc.lon], style).addTo(this.layers.incidents);
        m.on("click", (e) => { L.DomEvent.stopPropagation(e); this.onIncidentClick(inc.id); });
        this.incidentMarkers.set(inc.id, m);
      } else {
        m.setLatLng([inc.lat, inc.lon]);
        m.setStyle(style);
        m.setRadius(style.radius);
      }
      m.bindTooltip(`${categoryLabel(inc.category_code, inc.category_label, { leaf: true })} · ${inc.address || ""}`);
      if (inc.id === this.selectedId) m.bringToFront();
    }
    for (const [id, m] of this.incidentMarkers) {
      if (!seen.has(id)) { m.remove(); this.incidentMarkers.delete(id); }
    }
  }

  setUnits(units) {
    const seen = new Set();
    for (const u of units) {
      if (u.lat === null || u.lon === null) continue;
      seen.add(u.id);
      const html = `<span class="unit-dot" style="background:${UNIT_COLOURS[u.status] || "#555"}"></span>` +
        `<span class="unit-name">${escapeHtml(u.call_sign)}</span>`;
      const tip = `${escapeHtml(u.call_sign)} · ${escapeHtml(u.name)}<br>${escapeHtml(t("ustatus." + u.status))}` +
        (u.position_at ? ` · ${escapeHtml(fmtTime(u.position_at))}` : "");
      let m = this.unitMarkers.get(u.id);
      if (m) m.setTooltipContent(tip);
      if (!m) {
        m = L.marker([u.lat, u.lon], { keyboard: false,
          icon: L.divIcon({ className: "unit-icon", html, iconSize: null, iconAnchor: [7, 7] }) });
        m.bindTooltip(tip);
        m.addTo(this.layers.units);
        this.unitMarkers.set(u.id, m);
        m._html = html;
      } else {
        m.setLatLng([u.lat, u.lon]);
        if (m._html !== html) {
          m.setIcon(L.divIcon({ className: "unit-icon", html, iconSize: null, iconAnchor: [7, 7] }));
          m._html = html;
        }
      }
    }
    for (const [id, m] of this.unitMarkers) {
      if (!seen.has(id)) { m.remove(); this.unitMarkers.delete(id); }
    }
  }

  moveUnit(id, lat, lon) {
    const m = this.unitMarkers.get(id);
    if (m) m.setLatLng([lat, lon]);
  }

  select(id, incident) {
    this.selectedId = id;
    if (incident && incident.lat !== null) {
      const z = Math.max(this.map.getZoom(), 15);
      this.map.flyTo([incident.lat, incident.lon], z, { duration: 0.4 });
    }
  }

  // Recommended units' routes: the first (fastest) drawn bold, the others thin.
  setRoutes(incident, recs) {
    this.layers.routes.clearLayers();
    if (!incident || !recs) return;
    recs.forEach((r, i) => {
      const line = r.route && r.route.length > 1 ? r.route : (r.lat !== null ? [[r.lat, r.lon], [incident.lat, incident.lon]] : null);
      if (!line) return;
      L.polyline(line, { renderer: this.renderer, color: i === 0 ? "#0050a0" : "#3b6ea5", weight: i === 0 ? 6 : 3,
        opacity: i === 0 ? 0.85 : 0.5, dashArray: r.route ? null : "4 6" }).addTo(this.layers.routes);
    });
  }

  setPick(lat, lon) {
    this.layers.pick.clearLayers();
    if (lat === null || lat === undefined) return;
    L.circleMarker([lat, lon], { renderer: this.renderer, radius: 9, color: "#000", weight: 3, dashArray: "3 3",
      fillColor: "#ffef00", fillOpacity: 0.9 }).addTo(this.layers.pick);
  }

  invalidate() {
    this.map.invalidateSize();
  }
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
