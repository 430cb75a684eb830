"""`zhihui sim city`: the synthetic city laid over the real Futian road graph, as files.

GENERATED, not real: the stations sit at plausible places of the real area (named after real
station areas), but units, people, phones, plates and activity records are invented. One seed
gives the same city every time:

  city.json            summary, stations, fire stations, units (type, home station, shift), cameras
  jurisdictions.geojson provisional 辖区 (nearest-station cells over the area)
  places.geojson       communities and POIs (小区, 酒店, 学校…) — the gazetteer's own generated places
  persons.csv          residents and visitors: 18-digit IDs (GB 11643), phones, addresses, plates, tags
  activities.csv       hotel check-ins, checkpoint (卡口) passes, internet-café sessions
  venues.csv           the hotels, cafés and checkpoints the activities refer to
  calls.csv            the incident stream the simulator would replay (one row per caller)

The places are the ones the geocoder knows (same generator, same seed), so a person's address
geocodes to their home; the seed varies the units, the population and the calls.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.gazetteer import generated_places
from zhihui.sim.callgen import SimCall, generate_calls
from zhihui.sim.population import DEFAULT_START, Population, generate_population, write_population
from zhihui.sim.seed import CityPlan, plan_city


@dataclass
class City:
    seed: int
    plan: CityPlan
    places: list[dict[str, Any]]
    population: Population
    calls: list[SimCall]
    start: datetime
    days: int


def build_city(seed: int = 1, *, units_per_station: int = 4, n_persons: int = 2000, days: int = 7,
               calls_per_day: float = 300.0, start: datetime | None = None) -> City:
    path = default_graph_path()
    if path is None or not path.exists():
        raise FileNotFoundError("no road graph: set ZHIHUI_ROAD_GRAPH or keep ../shared/data beside the checkout")
    start = start or DEFAULT_START
    plan = plan_city(units_per_station=units_per_station, seed=seed)
    places = generated_places(path)
    population = generate_population(places, seed=seed, n_persons=n_persons, days=days, start=start,
                                     cameras=plan.cameras)
    calls = generate_calls(seed=seed, start=start, hours=24.0 * days, calls_per_day=calls_per_day)
    return City(seed, plan, places, population, calls, start, days)


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def write_city(city: City, out_dir: Path) -> dict[str, Path]:
    """Write the city's files (see the module docstring); returns name → path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = city.plan
    paths = write_population(city.population, out_dir)
    summary = {
        "generated": True, "seed": city.seed, "start": city.start.isoformat(), "days": city.days,
        "road_graph": str(default_graph_path()),
        "counts": {"stations": len(plan.stations), "fire_stations": len(plan.fire_stations), "units": len(plan.units),
                   "cameras": len(plan.cameras), "places": len(city.places),
                   "persons": len(city.population.persons), "activities": len(city.population.activities),
                   "calls": len(city.calls)},
        "stations": [{"code": c, "name": n, "lat": la, "lon": lo} for c, n, la, lo in plan.stations],
        "fire_stations": [{"code": c, "name": n, "lat": la, "lon": lo} for c, n, la, lo in plan.fire_stations],
        "units": [asdict(u) for u in plan.units],
        "cameras": [{"code": c, "name": n, "lat": la, "lon": lo} for c, n, la, lo in plan.cameras],
    }
    paths["city"] = out_dir / "city.json"
    paths["city"].write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    names = {c: n for c, n, _, _ in plan.stations}
    paths["jurisdictions"] = out_dir / "jurisdictions.geojson"
    paths["jurisdictions"].write_text(json.dumps({"type": "FeatureCollection", "features": [
        _feature(g, code=code, name=names[code]) for code, g in sorted(plan.jurisdictions.items())]},
        ensure_ascii=False), encoding="utf-8")
    paths["places"] = out_dir / "places.geojson"
    paths["places"].write_text(json.dumps({"type": "FeatureCollection", "features": [
        _feature({"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                 **{k: v for k, v in p.items() if k not in ("lat", "lon")}) for p in city.places]},
        ensure_ascii=False), encoding="utf-8")
    paths["calls"] = out_dir / "calls.csv"
    with paths["calls"].open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["at", "event_id", "caller_index", "parent_event", "hotspot", "police", *CALL_FIELDS])
        for c in city.calls:
            w.writerow([c.at.isoformat(), c.event_id, c.caller_index, c.parent_event, c.hotspot, int(c.police),
                        *(c.body.get(k) for k in CALL_FIELDS)])
    return paths


CALL_FIELDS = ("channel", "category_code", "caller_phone", "caller_name", "address", "lat", "lon", "description")


def digest(paths: dict[str, Path]) -> str:
    """One SHA-256 over the city's files in name order (what the determinism check compares)."""
    h = hashlib.sha256()
    for name in sorted(paths):
        h.update(name.encode())
        h.update(paths[name].read_bytes())
    return h.hexdigest()


def describe(city: City) -> str:
    p, pop = city.plan, city.population
    end = city.start + timedelta(days=city.days)
    by_type: dict[str, int] = {}
    for u in p.units:
        by_type[u.type] = by_type.get(u.type, 0) + 1
    kinds: dict[str, int] = {}
    for a in pop.activities:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    return "\n".join([
        f"模拟城市 synthetic city (seed {city.seed}, GENERATED over the real Futian road graph)",
        f"  派出所 stations: {len(p.stations)}   消防站 fire stations: {len(p.fire_stations)}   "
        f"警力 units: {len(p.units)} " + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())),
        f"  摄像头/卡口 cameras: {len(p.cameras)}   地点 places: {len(city.places)}",
        f"  人员 persons: {len(pop.persons)} ({sum(1 for x in pop.persons if x.tags)} tagged)   "
        f"活动记录 activities: {len(pop.activities)} " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
        f"  警情 calls: {len(city.calls)} from {city.start.isoformat()} to {end.isoformat()}",
    ])
