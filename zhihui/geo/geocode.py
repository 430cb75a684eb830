"""Offline geocoding for 接警: a parsed address → ranked map candidates with confidence and precision.

No web geocoder (the police network is isolated): components from `zhihui.intake.address.parse_address`
are looked up in a `Gazetteer` (real OSM streets and junctions, generated or imported places and 门牌):

* intersection "A和B路口" → the junction node(s) the two streets share (cluster centroid); if they share
  none, the point where they come closest, with lower confidence the wider the gap;
* road + 门牌 → the 门牌 entry if known; else an *estimate* interpolated along the street between known
  门牌 (or by the numbering rule), marked ``estimate`` with lower confidence and a wider precision;
* place (+ 栋/单元/室) → the place's point; community → its point; road only → its middle (or the point of
  the street nearest to `near`, the caller's cell/GPS position, when that is close);
* only an administrative division known → its centre (district ≈ km precision, low confidence); an
  address in another city gets only that, with its GB/T 2260 adcode;
* a relation "往东100米" shifts the point; "附近/对面" widens the precision.

Names are matched exactly, by homophone (pypinyin) or fuzzily (rapidfuzz): see `Gazetteer.search`.
`confidence` (0–1) is the product of how well each component matched and how precise the kind of answer
is; `precision_m` is the radius the real location is likely within. `near` breaks ties between similar
candidates (a nearer one wins by up to 0.05). Coordinates are WGS-84.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from zhihui.geo.coords import haversine_m
from zhihui.geo.gazetteer import Gazetteer, GazetteerEntry, Match, load_default, road_base
from zhihui.intake.address import ParsedAddress, admin_division, parse_address

__all__ = ["Candidate", "GeocodeResult", "Geocoder", "geocode"]

# How precise each kind of answer is (metres) and how much it is worth before name-match quality.
_BASE = {
    "house_exact": (0.93, 30.0),
    "intersection": (0.92, 30.0),
    "place": (0.9, 60.0),
    "community": (0.6, 300.0),
    "road": (0.55, None),
    "district": (0.25, 3000.0),
    "city": (0.12, 15000.0),
    "province": (0.05, 150000.0),
}
_INTERP_CONF = {"anchors": 0.72, "anchor": 0.62, "rule": 0.45}
_DIRS = {"东": (0.0, 1.0), "西": (0.0, -1.0), "南": (-1.0, 0.0), "北": (1.0, 0.0)}
_NEAR_ROAD_M = 1500.0


@dataclass(slots=True)
class Candidate:
    name: str
    kind: str
    lat: float
    lon: float
    confidence: float
    precision_m: float
    matched: dict[str, Any] = field(default_factory=dict)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    entry_id: str | None = None
    source: str | None = None
    adcode: str | None = None
    estimate: bool = False
    """True when the point is inferred (interpolated 门牌, closest approach), not a known position."""
    note: str = ""
    distance_to_near_m: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "confidence": round(self.confidence, 3),
            "precision_m": round(self.precision_m, 1),
            "matched": self.matched,
            "alternatives": self.alternatives,
            "entry_id": self.entry_id,
            "source": self.source,
            "adcode": self.adcode,
            "estimate": self.estimate,
            "note": self.note,
            "distance_to_near_m": None if self.distance_to_near_m is None else round(self.distance_to_near_m, 1),
        }


@dataclass(slots=True)
class GeocodeResult:
    query: str
    parsed: ParsedAddress
    candidates: list[Candidate]
    elapsed_ms: float = 0.0

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "parsed": self.parsed.as_dict(),
            "best": self.best.as_dict() if self.best else None,
            "candidates": [c.as_dict() for c in self.candidates],
            "crs": "wgs84",
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def _how(m: Match) -> dict[str, Any]:
    return {"query": m.query, "name": m.entry.name, "how": m.how, "score": round(m.score, 3)}


def _alts(matches: list[Match], chosen: Match) -> list[dict[str, Any]]:
    return [
        {"name": m.entry.name, "kind": m.entry.kind, "score": round(m.score, 3), "how": m.how}
        for m in matches
        if m.entry.id != chosen.entry.id
    ][:3]


def _level(adcode: str) -> int:
    return 0 if adcode.endswith("0000") else 1 if adcode.endswith("00") else 2


class Geocoder:
    """Geocodes against one gazetteer (default: `load_default()`). Thread-safe for queries."""

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.gaz = gazetteer if gazetteer is not None else load_default()

    # ---- public -----------------------------------------------------------------------------------

    def geocode(
        self, text_or_parsed: str | ParsedAddress, *, near: tuple[float, float] | None = None, k: int = 5
    ) -> GeocodeResult:
        t0 = time.perf_counter()
        if isinstance(text_or_parsed, ParsedAddress):
            parsed, query = text_or_parsed, text_or_parsed.text
        else:
            query = text_or_parsed if isinstance(text_or_parsed, str) else ""
            parsed = parse_address(query, home=self.gaz.home_adcode)
        try:
            near_ok = (
                near
                if near is not None
                and len(near) == 2
                and all(isinstance(v, int | float) and math.isfinite(v) for v in near)
                # a caller position is a real place on Earth, else it is ignored
                and -90 <= near[0] <= 90 and -180 <= near[1] <= 180
                else None
            )
        except TypeError:
            near_ok = None
        cands = self._candidates(parsed, near_ok)
        for c in cands:
            c.confidence = max(0.0, min(0.99, c.confidence))
            if near_ok is not None:
                c.distance_to_near_m = haversine_m(near_ok[0], near_ok[1], c.lat, c.lon)
        cands = _dedupe(cands)

        def rank(c: Candidate) -> tuple[float, str]:
            tie = 0.0 if c.distance_to_near_m is None else 0.05 * min(1.0, c.distance_to_near_m / 5000.0)
            return (-(c.confidence - tie), c.name)

        cands.sort(key=rank)
        return GeocodeResult(
            query, parsed, cands[: max(1, int(k))] if cands else [], (time.perf_counter() - t0) * 1000.0
        )

    # ---- internals --------------------------------------------------------------------------------

    def _admin_candidate(self, adcode: str, matched: dict[str, Any]) -> Candidate | None:
        div = admin_division(adcode)
        pt = self.gaz.admin_point(adcode)
        if div is None or pt is None:
            # e.g. a district without coordinates: fall back to its city
            if len(adcode) == 6 and _level(adcode) == 2:
                return self._admin_candidate(adcode[:4] + "00", matched)
            return None
        kind = ("province", "city", "district")[div.level]
        conf, prec = _BASE[kind]
        return Candidate(
            div.name,
            "district",
            pt[0],
            pt[1],
            conf,
            prec or 0.0,
            {**matched, "admin": {"name": div.name, "adcode": div.adcode, "how": "exact", "level": kind}},
            entry_id=f"adm-{div.adcode}",
            source="cpca",
            adcode=div.adcode,
            note=f"{kind} centre only",
        )

    def _candidates(self, p: ParsedAddress, near: tuple[float, float] | None) -> list[Candidate]:
        gaz = self.gaz
        home = gaz.home_adcode
        out: list[Candidate] = []
        admin_factor = 1.0
        admin_match: dict[str, Any] = {}
        if p.adcode:
            lvl = _level(p.adcode)
            cmp = 2 if lvl == 0 else 4
            if p.adcode[:cmp] != home[:cmp]:
                cand = self._admin_candidate(p.adcode, {})
                if cand is not None:
                    cand.note += "; outside this gazetteer's city"
                    return [cand]
                return []
            admin_match = {"admin": {"name": p.district or p.city or p.province, "adcode": p.adcode}}

        def consistent(e: GazetteerEntry) -> float:
            # The caller named a district and this entry lies in another one (a same-named street there?)
            if p.adcode and _level(p.adcode) == 2 and e.adcode and e.adcode != p.adcode:
                return 0.6
            return 1.0

        relation = p.relation or ""

        def add(
            e: GazetteerEntry | None,
            name: str,
            kind: str,
            lat: float,
            lon: float,
            conf: float,
            prec: float,
            matched: dict[str, Any],
            alts: list[dict[str, Any]] | None = None,
            *,
            estimate: bool = False,
            note: str = "",
        ) -> None:
            factor = consistent(e) if e is not None else 1.0
            out.append(
                Candidate(
                    name,
                    kind,
                    lat,
                    lon,
                    conf * factor * admin_factor,
                    prec,
                    {**admin_match, **matched},
                    alts or [],
                    e.id if e else None,
                    e.source if e else None,
                    e.adcode if e else None,
                    estimate,
                    note + ("; district differs from the one named" if factor < 1 else ""),
                )
            )

        # 1. Intersection
        if p.intersection:
            a, b = p.intersection
            ma = gaz.search(a, ("road",), limit=3)
            mb = gaz.search(b, ("road",), limit=3)
            for ra in ma[:2]:
                for rb in mb[:2]:
                    if road_base(ra.entry.name) == road_base(rb.entry.name):
                        continue
                    q = ra.score * rb.score
                    matched = {"road_a": _how(ra), "road_b": _how(rb)}
                    alts = _alts(ma, ra) + _alts(mb, rb)
                    xs = gaz.intersections(ra.entry.name, rb.entry.name)
                    base_conf, base_prec = _BASE["intersection"]
                    for x in xs:
                        add(
                            x,
                            x.name,
                            "intersection",
                            x.lat,
                            x.lon,
                            base_conf * q,
                            base_prec + float(x.props.get("radius_m", 0.0)),
                            matched,
                            alts,
                            note="shared junction node(s)",
                        )
                    if not xs:
                        ca = gaz.closest_approach(ra.entry.name, rb.entry.name)
                        if ca is not None:
                            lat, lon, gap = ca
                            conf = 0.75 if gap < 50 else 0.5 if gap < 300 else 0.15
                            add(
                                ra.entry,
                                f"{ra.entry.name}与{rb.entry.name}交叉口",
                                "intersection",
                                lat,
                                lon,
                                conf * q,
                                base_prec + gap / 2,
                                matched,
                                alts,
                                estimate=True,
                                note=f"no shared node: closest approach, streets {gap:.0f} m apart",
                            )
            # Only one of the two streets known: it still narrows the search to that street.
            if not out:
                for m in ma[:1] + mb[:1]:
                    self._road_candidate(m, None, near, add, _alts(ma + mb, m), factor=0.8)

        # 2. Place (+ building) and community
        for name in p.places[:2]:
            mp = gaz.search(name, ("place", "community"), limit=3)
            for m in mp[:2]:
                e = m.entry
                conf, prec = _BASE["place"] if e.kind == "place" else _BASE["community"]
                matched = {"place": _how(m)}
                label = e.name
                bld = p.building
                if bld:
                    known = bld in (e.props.get("buildings") or [])
                    matched["building"] = {"query": bld, "how": "exact" if known else "not in gazetteer"}
                    label += bld
                    conf *= 1.0 if known else 0.9
                for part, key in ((p.unit, "unit"), (p.room, "room")):
                    if part:
                        label += f"{part}单元" if key == "unit" else part
                        matched[key] = {"query": part, "how": "not checked"}
                add(
                    e,
                    label,
                    e.kind,
                    e.lat,
                    e.lon,
                    conf * m.score,
                    prec,
                    matched,
                    _alts(mp, m),
                    note="place point" + (" (building not positioned separately)" if bld else ""),
                )
        if p.community:
            mc = gaz.search(p.community, ("community",), limit=2)
            for m in mc[:1]:
                conf, prec = _BASE["community"]
                add(
                    m.entry,
                    m.entry.name,
                    "community",
                    m.entry.lat,
                    m.entry.lon,
                    conf * m.score,
                    prec,
                    {"community": _how(m)},
                    _alts(mc, m),
                )

        # 3. Road (+ house number)
        if p.road:
            mr = gaz.search(p.road, ("road",), limit=3)
            for m in mr[:2]:
                self._road_candidate(m, p.house_number, near, add, _alts(mr, m))

        # Place and road that agree (the place lies on that road): the place is very likely right.
        places = [c for c in out if c.kind in ("place", "community")]
        roads = [c for c in out if c.kind in ("road", "house_number")]
        for c in places:
            if any(haversine_m(c.lat, c.lon, r.lat, r.lon) < max(300.0, r.precision_m) for r in roads):
                c.confidence += 0.05
                c.matched["road_agrees"] = True

        # 4. Known place names in the leftover text ("深南大道车公庙这里": 车公庙 → 车公庙地铁站).
        if p.rest and out and not places:
            road_cands = list(roads)
            for m in gaz.names_in(p.rest, ("place", "community"))[:2]:
                e = m.entry
                conf, prec = _BASE[e.kind]
                close = any(haversine_m(e.lat, e.lon, r.lat, r.lon) < max(500.0, r.precision_m) for r in road_cands)
                add(
                    e,
                    e.name,
                    e.kind,
                    e.lat,
                    e.lon,
                    conf * m.score * (0.8 if close else 0.5),
                    prec,
                    {
                        "text": {
                            "query": p.rest,
                            "name": e.name,
                            "how": "name found in text",
                            "score": round(m.score, 3),
                        },
                        "road_agrees": close,
                    },
                    note="name found in the words around the address",
                )
        # 5. Nothing structured matched: known names anywhere in the leftover text.
        if not out:
            text = p.rest if (p.rest or p.adcode) else p.text
            for m in gaz.names_in(text, ("road", "place", "community"))[:3]:
                e = m.entry
                kind = e.kind
                conf, prec = _BASE.get(kind, (0.5, 100.0))
                if kind == "road":
                    prec = max(50.0, float(e.props.get("length_m", 200.0)) / 2)
                add(
                    e,
                    e.name,
                    kind,
                    e.lat,
                    e.lon,
                    conf * m.score * 0.7,
                    prec or 100.0,
                    {"text": {"query": text, "name": e.name, "how": "name found in text", "score": round(m.score, 3)}},
                    note="name found in free text",
                )
            if not out and text and len(text) <= 12:
                for m in gaz.search(text, ("road", "place", "community"), limit=2, min_score=0.6):
                    e = m.entry
                    conf, prec = _BASE.get(e.kind, (0.5, 100.0))
                    prec = prec or max(50.0, float(e.props.get("length_m", 200.0)) / 2)
                    add(e, e.name, e.kind, e.lat, e.lon, conf * m.score * 0.6, prec, {"text": _how(m)})

        # 6. Only the administrative division.
        if not out and p.adcode:
            cand = self._admin_candidate(p.adcode, {})
            if cand is not None:
                out.append(cand)

        # Relations: "往东100米" moves the point; "附近/对面/旁边" widen it.
        if relation and out:
            for c in out:
                if c.kind == "district":
                    continue
                moved = _shift(c, relation)
                if not moved:
                    c.precision_m += 50.0
                c.matched["relation"] = {"query": relation, "how": "shifted" if moved else "widened"}
        return out

    def _road_candidate(
        self,
        m: Match,
        house: str | None,
        near: tuple[float, float] | None,
        add: Any,
        alts: list[dict[str, Any]],
        factor: float = 1.0,
    ) -> None:
        gaz = self.gaz
        e = m.entry
        length = float(e.props.get("length_m") or 0.0)
        matched: dict[str, Any] = {"road": _how(m)}
        if house:
            number = house.split("-")[0].split("之")[0]
            known = gaz.house(e.name, house) or gaz.house(e.name, number)
            if known is not None:
                conf, prec = _BASE["house_exact"]
                matched["house_number"] = {"query": house, "how": "exact", "name": known.name}
                add(
                    known,
                    f"{e.name}{house}号",
                    "house_number",
                    known.lat,
                    known.lon,
                    conf * m.score * factor,
                    prec,
                    matched,
                    alts,
                    note="known 门牌" + (f" ({known.props['place']})" if known.props.get("place") else ""),
                )
                return
            if number.isdigit():
                lat, lon, prec, method = gaz.interpolate(e, int(number))
                matched["house_number"] = {"query": house, "how": f"interpolated ({method})"}
                add(
                    e,
                    f"{e.name}{house}号",
                    "house_number",
                    lat,
                    lon,
                    _INTERP_CONF[method] * m.score * factor,
                    prec,
                    matched,
                    alts,
                    estimate=True,
                    note="门牌 position estimated along the street"
                    + (" from the numbering rule only" if method == "rule" else " between known 门牌"),
                )
                return
        conf, _ = _BASE["road"]
        lat, lon, prec, note = e.lat, e.lon, max(50.0, length / 2), "middle of the street"
        if near is not None:
            hit = gaz.nearest_on_road(e.name, near[0], near[1])
            if hit is not None and hit[2] <= _NEAR_ROAD_M:
                lat, lon = hit[0], hit[1]
                prec = min(prec, max(150.0, hit[2]))
                note = f"point of the street nearest the caller's location ({hit[2]:.0f} m away)"
                matched["near"] = {"how": "nearest point on the street", "distance_m": round(hit[2], 1)}
        add(e, e.name, "road", lat, lon, conf * m.score * factor, prec, matched, alts, note=note)


def _shift(c: Candidate, relation: str) -> bool:
    import re

    mm = re.search(r"([东南西北]{1,2})\D{0,4}?(\d{1,5})(米|公里|km|m)", relation)
    if not mm:
        return False
    dist = float(mm.group(2)) * (1000.0 if mm.group(3) in ("公里", "km") else 1.0)
    if dist > 5000:
        return False
    dn = sum(_DIRS[ch][0] for ch in mm.group(1))
    de = sum(_DIRS[ch][1] for ch in mm.group(1))
    norm = math.hypot(dn, de) or 1.0
    c.lat += dist * dn / norm / 111195.0
    c.lon += dist * de / norm / (111195.0 * math.cos(math.radians(c.lat)))
    c.precision_m += 0.3 * dist
    c.estimate = True
    return True


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    out: list[Candidate] = []
    for c in sorted(cands, key=lambda c: -c.confidence):
        if any(o.kind == c.kind and haversine_m(o.lat, o.lon, c.lat, c.lon) < 20.0 for o in out):
            continue
        out.append(c)
    return out


_default_geocoder: Geocoder | None = None


def geocode(
    text_or_parsed: str | ParsedAddress, *, near: tuple[float, float] | None = None, k: int = 5
) -> GeocodeResult:
    """Geocode with the process-wide default gazetteer (`zhihui.geo.gazetteer.load_default`)."""
    global _default_geocoder
    if _default_geocoder is None:
        _default_geocoder = Geocoder(load_default())
    return _default_geocoder.geocode(text_or_parsed, near=near, k=k)
