"""The browser screens are served by the API process itself, with nothing to fetch from outside."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import World
from zhihui.core.config import shared_data
from zhihui.web import STATIC

GRAPH = shared_data("shenzhen_futian_drive.graphml")


@pytest.mark.parametrize("path", ["/", "/m", "/stats"])
async def test_pages_are_local_and_locked_down(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    # Every script and stylesheet the page names is ours and is served.
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs
    for ref in refs:
        if ref.startswith("data:"):
            continue
        assert ref.startswith("/static/"), f"{path} refers to {ref} outside the server"
        asset = await client.get(ref)
        assert asset.status_code == 200, ref


async def test_every_module_import_resolves(client: httpx.AsyncClient) -> None:
    """ES modules import each other by path: a typo would only show up in a browser, so check them all."""
    for js in sorted((STATIC / "js").rglob("*.js")):
        text = js.read_text(encoding="utf-8")
        for spec in re.findall(r'^\s*import\s+(?:[^"\']+\s+from\s+)?["\']([^"\']+)["\']', text, flags=re.M):
            target = (js.parent / spec).resolve() if spec.startswith(".") else STATIC / spec.removeprefix("/static/")
            assert target.exists(), f"{js.relative_to(STATIC)} imports missing {spec}"
            assert "://" not in spec


def test_vendor_files_match_the_pinned_npm_packages() -> None:
    lock = json.loads((STATIC.parent / "package-lock.json").read_text())
    versions = json.loads((STATIC / "vendor" / "VERSIONS.json").read_text())
    for name in ("leaflet", "htm"):
        assert lock["packages"][f"node_modules/{name}"]["version"] == versions[name]["version"]
    leaflet = (STATIC / "vendor/leaflet/leaflet.js").read_text()[:300]
    assert f"Leaflet {versions['leaflet']['version']}" in leaflet


@pytest.mark.skipif(GRAPH is None, reason="../shared/data/shenzhen_futian_drive.graphml is missing")
async def test_basemap_is_the_city_road_graph(client: httpx.AsyncClient, world: World) -> None:
    r = await client.get("/api/v1/geo/basemap", headers=world.headers["dispatcher"])
    assert r.status_code == 200
    base = r.json()
    roads = base["roads"]["features"]
    # The file has 4,009 directed edges; a two-way street is drawn once, so clearly fewer lines.
    assert 1500 < len(roads) < 4009
    names = {f["properties"]["n"] for f in roads}
    assert {"深南大道", "香梅路"} <= names
    main = [f for f in roads if f["properties"]["n"] == "深南大道"]
    assert main and all(f["properties"]["r"] <= 2 for f in main)
    (s, w), (n, e) = base["bounds"]
    assert 22.50 < s < n < 22.56 and 113.99 < w < e < 114.05
    assert base["districts"] is None or base["districts"]["type"] == "FeatureCollection"
    assert (await client.get("/api/v1/geo/basemap")).status_code == 401


async def test_key_places_for_the_map(client: httpx.AsyncClient, world: World) -> None:
    r = await client.get("/api/v1/geo/places", headers=world.headers["call_taker"], params={"limit": 50})
    assert r.status_code == 200
    places = r.json()
    assert len(places) <= 50
    for p in places:
        assert p["name"] and p["kind"] in ("place", "community") and 22 < p["lat"] < 23 and 113 < p["lon"] < 115
    if GRAPH is not None:
        assert len(places) == 50


def test_static_root_is_inside_the_package() -> None:
    assert STATIC.is_dir() and (STATIC / "index.html").exists() and (STATIC / "field.html").exists()
    assert Path(STATIC).resolve().is_relative_to(Path(__file__).resolve().parents[2] / "zhihui")
