"""辖区 (jurisdictions): which station is responsible for a point, via a shapely STRtree.

Boundaries are GeoJSON geometries in WGS-84 kept on the station's org row. `voronoi_jurisdictions`
draws provisional ones (each point goes to the nearest station, clipped to an outer boundary) for a
city whose real boundaries have not been loaded yet; real ones replace them when they exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree


class JurisdictionIndex:
    def __init__(self, areas: Iterable[tuple[int, dict[str, Any]]]) -> None:
        self.ids: list[int] = []
        geoms: list[BaseGeometry] = []
        for org_id, geojson in areas:
            geom = shape(geojson)
            if geom.is_empty:
                continue
            shapely.prepare(geom)
            self.ids.append(org_id)
            geoms.append(geom)
        self.geoms = geoms
        self.tree = STRtree(geoms) if geoms else None

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, lat: float, lon: float) -> int | None:
        """The org whose area covers the point (the smallest one where areas nest); None outside all."""
        if self.tree is None:
            return None
        point = Point(lon, lat)
        hits = [int(i) for i in self.tree.query(point, predicate="covered_by")]
        if not hits:
            return None
        best = min(hits, key=lambda i: (self.geoms[i].area, self.ids[i]))
        return self.ids[best]


def voronoi_jurisdictions(
    stations: Sequence[tuple[int, float, float]], outer: BaseGeometry
) -> dict[int, dict[str, Any]]:
    """Provisional 辖区: the nearest-station cell of each (org_id, lat, lon), clipped to `outer`."""
    points = MultiPoint([(lon, lat) for _, lat, lon in stations])
    cells = shapely.voronoi_polygons(points, extend_to=outer)
    out: dict[int, dict[str, Any]] = {}
    for org_id, lat, lon in stations:
        here = Point(lon, lat)
        cell = next(c for c in cells.geoms if c.covers(here))
        out[org_id] = mapping(cell.intersection(outer))
    return out
