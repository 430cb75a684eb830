from __future__ import annotations

from shapely.geometry import box, shape

from zhihui.geo.areas import JurisdictionIndex, voronoi_jurisdictions

SQUARE_A = {"type": "Polygon", "coordinates": [[[114.00, 22.50], [114.05, 22.50], [114.05, 22.55],
                                                 [114.00, 22.55], [114.00, 22.50]]]}
SQUARE_B = {"type": "Polygon", "coordinates": [[[114.05, 22.50], [114.10, 22.50], [114.10, 22.55],
                                                 [114.05, 22.55], [114.05, 22.50]]]}
INNER_A = {"type": "Polygon", "coordinates": [[[114.01, 22.51], [114.02, 22.51], [114.02, 22.52],
                                                [114.01, 22.52], [114.01, 22.51]]]}


def test_locate_points_edges_nesting_and_outside() -> None:
    idx = JurisdictionIndex([(1, SQUARE_A), (2, SQUARE_B), (3, INNER_A)])
    assert idx.locate(22.53, 114.03) == 1  # (lat, lon) order
    assert idx.locate(22.53, 114.07) == 2
    assert idx.locate(22.515, 114.015) == 3  # the smaller, nested area wins
    assert idx.locate(22.53, 114.05) in (1, 2)  # on the shared border: covered by both, deterministic
    assert idx.locate(22.53, 114.05) == idx.locate(22.53, 114.05)
    assert idx.locate(22.60, 114.03) is None
    assert JurisdictionIndex([]).locate(22.53, 114.03) is None


def test_voronoi_cells_tile_the_area_and_contain_their_station() -> None:
    outer = box(114.0, 22.5, 114.1, 22.56)
    stations = [(10, 22.52, 114.02), (11, 22.54, 114.05), (12, 22.53, 114.08)]
    cells = voronoi_jurisdictions(stations, outer)
    total = sum(shape(c).area for c in cells.values())
    assert abs(total - outer.area) < 1e-9
    idx = JurisdictionIndex(cells.items())
    for org_id, lat, lon in stations:
        assert idx.locate(lat, lon) == org_id
    # Any point goes to its nearest station.
    assert idx.locate(22.55, 114.049) == 11
