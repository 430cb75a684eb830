"""辅助指挥: which available units reach an incident fastest by ROAD, with ETA and route.

The city road graph is loaded once per process (from ZHIHUI_ROAD_GRAPH, else the Futian extract kept
in ../shared/data). Units are snapped to the road when their position changes, not per query. When no
graph is configured the answer says so and falls back to straight-line distance, marked as such.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhihui.core.config import shared_data
from zhihui.core.errors import DomainError
from zhihui.dispatch.domain import UnitStatus
from zhihui.dispatch.models import Unit
from zhihui.geo.coords import haversine_m
from zhihui.geo.roads import RoadGraph, Snap, load_graphml
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident

log = logging.getLogger(__name__)
# A point farther than this from any road of the graph is outside its coverage (or deep inside a
# compound): a road ETA from the far-away snapped point would be fiction.
SNAP_LIMIT_M = 500.0


def default_graph_path() -> Path | None:
    env = os.environ.get("ZHIHUI_ROAD_GRAPH")
    if env:
        return Path(env)
    return shared_data("shenzhen_futian_drive.graphml")


class RoadNetwork:
    """The loaded graph plus a cache of unit snaps keyed by (unit id, lat, lon)."""

    def __init__(self, graph: RoadGraph | None, source: str) -> None:
        self.graph = graph
        self.source = source
        self._snaps: dict[int, tuple[float, float, Snap | None]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None) -> RoadNetwork:
        path = path or default_graph_path()
        if path is None or not Path(path).exists():
            log.warning("no road graph found (set ZHIHUI_ROAD_GRAPH): recommendations use straight lines")
            return cls(None, "none")
        graph = load_graphml(path)
        # The graph is millions of long-lived Python objects (the search's adjacency lists): move
        # them out of the cyclic GC's generations so collections during queries do not walk them.
        gc.freeze()
        log.info("road graph %s: %d nodes, %d edges", path, graph.n_nodes, graph.n_edges)
        return cls(graph, str(path))

    def snap_unit(self, unit_id: int, lat: float, lon: float) -> Snap | None:
        assert self.graph is not None
        with self._lock:
            cached = self._snaps.get(unit_id)
            if cached and cached[0] == lat and cached[1] == lon:
                return cached[2]
        snap = self.graph.snap(lat, lon)
        if snap.distance_m > SNAP_LIMIT_M:
            snap = None
        with self._lock:
            self._snaps[unit_id] = (lat, lon, snap)
        return snap


@dataclass(frozen=True)
class Recommendation:
    unit: Unit
    eta_s: float | None
    road_distance_m: float | None
    straight_line_m: float
    status: str
    route: list[tuple[float, float]] | None
    streets: list[str] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit.id, "call_sign": self.unit.call_sign, "type": self.unit.type,
            "org_id": self.unit.org_id, "lat": self.unit.lat, "lon": self.unit.lon,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "road_distance_m": None if self.road_distance_m is None else round(self.road_distance_m, 1),
            "straight_line_m": round(self.straight_line_m, 1), "status": self.status,
            "route": self.route, "streets": self.streets,
        }


def wanted_types(incident: Incident, types: list[str] | None) -> list[str]:
    """Explicit types, else the ones the incident's category normally needs, else patrol cars."""
    return types or category_unit_types(incident.category_code)


def category_unit_types(category_code: str) -> list[str]:
    """The unit types a category normally needs (ambulances are 120's, not ours), else patrol cars."""
    cat = categories().get(category_code)
    wanted = [t for t in (cat.units if cat else ()) if t != "ambulance"]
    return wanted or ["patrol"]


def recommend(
    network: RoadNetwork, incident: Incident, units: list[Unit], *, k: int = 5, types: list[str] | None = None,
    with_routes: bool = True,
) -> tuple[str, list[Recommendation]]:
    """The k best available units of the wanted types; returns (method, recommendations)."""
    if incident.lat is None or incident.lon is None:
        raise DomainError("incident has no location; place it on the map first", state=incident.status,
                          code="no_location")
    want = set(wanted_types(incident, types))
    candidates = [u for u in units if u.status == UnitStatus.AVAILABLE and u.type in want
                  and u.lat is not None and u.lon is not None]
    straight = {u.id: haversine_m(incident.lat, incident.lon, u.lat, u.lon) for u in candidates}  # type: ignore[arg-type]
    graph = network.graph
    target = graph.snap(incident.lat, incident.lon) if graph is not None else None
    if graph is None or target is None or target.distance_m > SNAP_LIMIT_M:
        ranked = sorted(candidates, key=lambda u: (straight[u.id], u.id))[:k]
        return "straight_line", [Recommendation(u, None, None, straight[u.id], "straight_line", None, None)
                                 for u in ranked]
    by_id = {u.id: u for u in candidates}
    sources = []
    off_road = []
    for u in candidates:
        snap = network.snap_unit(u.id, u.lat, u.lon)  # type: ignore[arg-type]
        if snap is None:
            off_road.append(u)
        else:
            sources.append((u.id, snap))
    results = graph.nearest_by_time(target, sources, k) if sources else []
    out = []
    for res in results:
        if len(out) >= k:
            break
        unit = by_id[res.key]  # type: ignore[index]
        route = graph.build_route(res.pieces) if with_routes and res.reachable else None
        out.append(Recommendation(
            unit, res.eta_s if res.reachable else None, res.distance_m if res.reachable else None,
            straight[unit.id], res.status, route.points if route else None, route.street_names if route else None,
        ))
    for unit in sorted(off_road, key=lambda u: u.id):
        if len(out) >= k:
            break
        out.append(Recommendation(unit, None, None, straight[unit.id], "off_road", None, None))
    return "road", out
