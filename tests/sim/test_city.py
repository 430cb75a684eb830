"""`zhihui sim city`: one seed, one city (files byte for byte); the pieces fit together."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.coords import haversine_m
from zhihui.geo.geocode import geocode
from zhihui.sim.city import build_city, digest, write_city

GRAPH = default_graph_path()
pytestmark = pytest.mark.skipif(GRAPH is None or not GRAPH.exists(),
                                reason="../shared/data/shenzhen_futian_drive.graphml is missing")


def _city(seed: int, out: Path) -> dict[str, Path]:
    return write_city(build_city(seed, n_persons=400, days=2, calls_per_day=200), out)


def test_same_seed_same_city_in_another_process(tmp_path: Path) -> None:
    here = _city(4, tmp_path / "a")
    # Another interpreter with another hash seed: nothing may depend on set or dict order.
    out = tmp_path / "b"
    subprocess.run([sys.executable, "-m", "zhihui.cli", "sim", "city", "--seed", "4", "--persons", "400", "--days",
                    "2", "--calls-per-day", "200", "--out", str(out)], check=True, capture_output=True,
                   env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}, cwd=Path.cwd())
    there = {p.name.split(".")[0]: p for p in out.iterdir()}
    assert digest(here) == digest(there)
    other = _city(5, tmp_path / "c")
    assert digest(other) != digest(here)


def test_city_pieces_agree(tmp_path: Path) -> None:
    paths = _city(2, tmp_path)
    city = json.loads(paths["city"].read_text(encoding="utf-8"))
    assert city["generated"] is True and city["counts"]["stations"] == 6 and city["counts"]["fire_stations"] >= 1
    cells = {f["properties"]["code"]: shape(f["geometry"])
             for f in json.loads(paths["jurisdictions"].read_text(encoding="utf-8"))["features"]}
    # Every station lies in its own 辖区; every unit belongs to a station or fire station, or the bureau.
    for s in city["stations"]:
        assert cells[s["code"]].covers(Point(s["lon"], s["lat"])), s["name"]
    homes = {s["code"] for s in city["stations"]} | {s["code"] for s in city["fire_stations"]}
    assert all(u["station"] is None or u["station"] in homes for u in city["units"])
    assert {u["type"] for u in city["units"]} >= {"patrol", "foot", "traffic", "fire"}
    assert all(u["shift"] == [8, 20] for u in city["units"] if u["type"] == "foot")
    # Residents' addresses geocode to their homes (the places are the gazetteer's own).
    with paths["persons"].open(encoding="utf-8") as f:
        residents = [r for r in csv.DictReader(f) if r["home_lat"]]
    near = 0
    for r in residents[:60]:
        best = geocode(r["address"]).best
        if best is not None and haversine_m(best.lat, best.lon, float(r["home_lat"]), float(r["home_lon"])) < 300:
            near += 1
    assert near >= 54, f"only {near}/60 resident addresses geocode within 300 m of the home"
    # Checkpoint passes happen at the city's own cameras.
    cams = {c["code"] for c in city["cameras"]}
    with paths["activities"].open(encoding="utf-8") as f:
        passes = [r for r in csv.DictReader(f) if r["kind"] == "checkpoint_pass"]
    assert passes and all(r["venue_code"] in cams for r in passes)
    with paths["calls"].open(encoding="utf-8") as f:
        calls = list(csv.DictReader(f))
    assert 300 <= len(calls) <= 560  # 2 days at 200 events/day, plus repeat callers
