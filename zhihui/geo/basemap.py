"""The wall map's base layer, built from local data only (the 公安网 has no tile server).

Roads come from the same OSMnx GraphML as routing (every class, footways included, so the map
looks like the city and not only like the drivable graph); the two directions of a two-way street
are drawn once. District outlines come from ../shared/data when present. The result is plain
GeoJSON that the browser draws as vectors (Leaflet), cached per process.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any

from zhihui.core.config import shared_data

log = logging.getLogger(__name__)

# Drawing rank by OSM class: 1 trunk/primary … 5 paths. The browser styles by rank.
_RANK = {
    "motorway": 1, "trunk": 1, "primary": 1,
    "motorway_link": 2, "trunk_link": 2, "primary_link": 2, "secondary": 2, "secondary_link": 2,
    "tertiary": 3, "tertiary_link": 3,
    "unclassified": 4, "residential": 4, "living_street": 4, "service": 4, "road": 4,
}


def _rank(highway: str) -> int:
    classes = [c.strip(" '[]\"") for c in highway.split(",") if c.strip(" '[]\"")]
    return min((_RANK.get(c, 5) for c in classes), default=5)


def _first_name(raw: str) -> str:
    parts = [p.strip(" '[]\"") for p in raw.split(",")] if raw.startswith("[") else [raw.strip()]
    return next((p for p in parts if p), "")


def _linestring(wkt: str) -> list[list[float]] | None:
    body = wkt.strip()
    if not body.upper().startswith("LINESTRING"):
        return None
    inner = body[body.index("(") + 1: body.rindex(")")]
    out = []
    for pair in inner.split(","):
        x, y = pair.split()[:2]
        out.append([round(float(x), 6), round(float(y), 6)])
    return out


def roads_geojson(path: Path) -> dict[str, Any]:
    """Every road of the GraphML as a LineString feature {r: rank 1-5, n: street name}."""
    keys: dict[str, str] = {}
    nodes: dict[str, list[float]] = {}
    features: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for _, elem in ET.iterparse(path, events=("end",)):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "key":
            keys[elem.get("id", "")] = elem.get("attr.name", "")
        elif tag == "node":
            data = {keys.get(d.get("key", ""), ""): d.text or "" for d in elem}
            nodes[elem.get("id", "")] = [round(float(data["x"]), 6), round(float(data["y"]), 6)]
            elem.clear()
        elif tag == "edge":
            data = {keys.get(d.get("key", ""), ""): d.text or "" for d in elem}
            u, v = elem.get("source", ""), elem.get("target", "")
            elem.clear()
            if u not in nodes or v not in nodes:
                continue
            coords = _linestring(data["geometry"]) if data.get("geometry") else None
            coords = coords or [nodes[u], nodes[v]]
            # A two-way street is two directed edges with the same line reversed: draw it once.
            key = (min(u, v), max(u, v), len(coords), tuple(sorted((tuple(coords[0]), tuple(coords[-1])))))
            if key in seen:
                continue
            seen.add(key)
            features.append({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {"r": _rank(data.get("highway", "")), "n": _first_name(data.get("name", ""))},
            })
    features.sort(key=lambda f: -f["properties"]["r"])  # minor roads first, major ones drawn on top
    return {"type": "FeatureCollection", "features": features}


def districts_geojson() -> dict[str, Any] | None:
    path = shared_data("shenzhen_districts.geojson")
    if path is None:
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def basemap(graph_path: str | None) -> dict[str, Any]:
    """{roads, districts, bounds [[s, w], [n, e]], source}; empty layers when the data is missing."""
    roads: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    source = None
    if graph_path and Path(graph_path).exists():
        roads = roads_geojson(Path(graph_path))
        source = Path(graph_path).name
    else:
        log.warning("basemap: no road graph found (set ZHIHUI_ROAD_GRAPH); the map has no streets")
    xs = [c[0] for f in roads["features"] for c in f["geometry"]["coordinates"]]
    ys = [c[1] for f in roads["features"] for c in f["geometry"]["coordinates"]]
    bounds = [[min(ys), min(xs)], [max(ys), max(xs)]] if xs else None
    return {"roads": roads, "districts": districts_geojson(), "bounds": bounds, "source": source}
