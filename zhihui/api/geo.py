"""/geo: cameras near a point (一键调用周边视频) and the 辖区 layer for the map."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from shapely.geometry import shape
from sqlalchemy import select

from zhihui.api.deps import ALL_ROLES, UNIT_ADMINS, db_of, require, unit_of_work
from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.errors import InvalidInput
from zhihui.core.orgs import Org, forget_jurisdictions
from zhihui.core.schemas import StrictModel
from zhihui.core.store import fetch
from zhihui.dispatch.recommend import default_graph_path
from zhihui.dispatch.schemas import CRS
from zhihui.geo.basemap import basemap
from zhihui.geo.coords import bbox, haversine_m, to_wgs84
from zhihui.geo.gazetteer import load_default as load_gazetteer
from zhihui.geo.places import Camera
from zhihui.incidents.domain import in_china

router = APIRouter(tags=["geo"])


def parse_near(near: str, crs: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = near.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError as exc:
        raise InvalidInput("near", "near must be 'lat,lon', e.g. 22.5405,114.0553") from exc
    if not (math.isfinite(lat) and math.isfinite(lon)) or not in_china(lat, lon):
        raise InvalidInput("near", "near is outside China")
    return to_wgs84(lat, lon, crs)


@router.get("/geo/cameras")
async def cameras_near(
    request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
    near: Annotated[str, Query(max_length=60)],
    radius: Annotated[float, Query(gt=0, le=5000)] = 500.0,
    crs: CRS = "wgs84",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict]:
    """Cameras within `radius` metres, nearest first: a bounding-box query on the indexed latitude,
    then exact distances."""
    lat, lon = parse_near(near, crs)
    la0, la1, lo0, lo1 = bbox(lat, lon, radius)
    async with db_of(request).read() as session:
        rows = (await session.execute(
            select(Camera).where(Camera.lat.between(la0, la1), Camera.lon.between(lo0, lo1))
        )).scalars().all()
    found = sorted(((haversine_m(lat, lon, c.lat, c.lon), c) for c in rows), key=lambda t: (t[0], t[1].id))
    return [{"id": c.id, "code": c.code, "name": c.name, "kind": c.kind, "lat": c.lat, "lon": c.lon,
             "distance_m": round(d, 1), "stream_url": c.stream_url} for d, c in found if d <= radius][:limit]


class CameraCreate(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["road", "checkpoint", "public", "building"] = "road"
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    crs: CRS = "wgs84"
    org_id: int | None = None
    stream_url: Annotated[str | None, Field(max_length=300)] = None


@router.post("/geo/cameras", status_code=201)
async def add_camera(request: Request, body: CameraCreate,
                     actor: Annotated[Actor, Depends(require(*UNIT_ADMINS))]) -> dict:
    if not in_china(body.lat, body.lon):
        raise InvalidInput("lat", "lat/lon is outside China")
    lat, lon = to_wgs84(body.lat, body.lon, body.crs)
    async with unit_of_work(request) as session:
        camera = Camera(code=body.code, name=body.name, kind=body.kind, lat=lat, lon=lon, org_id=body.org_id,
                        stream_url=body.stream_url)
        session.add(camera)
        await session.flush()
        audit.append(session, actor, "camera.create", component="geo", target_type="camera", target_id=camera.id)
    return {"id": camera.id, "code": camera.code, "lat": lat, "lon": lon}


@router.get("/geo/jurisdictions")
async def jurisdictions(request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict:
    """辖区 polygons as a GeoJSON FeatureCollection (WGS-84) for the map."""
    async with db_of(request).read() as session:
        orgs = (await session.execute(select(Org).where(Org.boundary.is_not(None)).order_by(Org.code))).scalars()
        features = [{"type": "Feature", "geometry": o.boundary,
                     "properties": {"org_id": o.id, "code": o.code, "name": o.name, "kind": o.kind,
                                    "lat": o.lat, "lon": o.lon}} for o in orgs]
    return {"type": "FeatureCollection", "features": features}


class BoundaryUpdate(StrictModel):
    boundary: dict


@router.put("/geo/jurisdictions/{org_id}")
async def set_boundary(request: Request, org_id: int, body: BoundaryUpdate,
                       actor: Annotated[Actor, Depends(require(*UNIT_ADMINS))]) -> dict:
    """Load a station's real 辖区 (GeoJSON Polygon/MultiPolygon, WGS-84)."""
    try:
        geom = shape(body.boundary)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidInput("boundary", f"not a GeoJSON geometry: {exc}") from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid or geom.is_empty:
        raise InvalidInput("boundary", "boundary must be a valid, non-empty Polygon or MultiPolygon")
    async with unit_of_work(request) as session:
        org = await fetch(session, Org, org_id, "org")
        org.boundary = body.boundary
        audit.append(session, actor, "org.boundary", component="geo", target_type="org", target_id=org_id)
    forget_jurisdictions(db_of(request))
    return {"org_id": org_id, "area_deg2": geom.area}


@router.get("/geo/basemap")
async def basemap_layer(request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict:
    """The wall map's base layer (roads by class with names, district outlines, bounds), from local
    data: the isolated network has no tile server. Built once per process (~0.3 s for Futian)."""
    path = default_graph_path()
    return await anyio.to_thread.run_sync(basemap, str(path) if path else None)


@router.get("/geo/places")
async def key_places(request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
                     limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> list[dict]:
    """Key places (重点场所, 社区工作站…) the gazetteer knows, for the map layer."""
    gaz = await anyio.to_thread.run_sync(load_gazetteer)
    out = [{"id": e.id, "name": e.name, "kind": e.kind, "category": e.props.get("category"),
            "lat": e.lat, "lon": e.lon} for e in gaz.entries if e.kind in ("place", "community")]
    return out[:limit]
