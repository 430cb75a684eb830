"""Demo reference data: the Futian (福田) command centre, its stations, users for each role, units.

Positions are in central Futian, Shenzhen (WGS-84), inside the road graph kept in ../shared/data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit
from zhihui.core.auth import Actor, Role, User, create_user
from zhihui.core.orgs import Org
from zhihui.dispatch.domain import UnitStatus
from zhihui.dispatch.models import Unit
from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.areas import voronoi_jurisdictions
from zhihui.geo.gazetteer import load_default as load_gazetteer
from zhihui.geo.places import Camera
from zhihui.geo.roads import RoadGraph, load_graphml

BUREAU = ("440304000000", "深圳市公安局福田分局", "bureau")
CENTER = ("440304010000", "福田分局指挥中心", "command_center")
# (code, name, lat, lon): station areas of western central Futian, inside the road graph kept in
# ../shared/data (lat 22.517–22.551, lon 113.997–114.040), so every unit and call lies on its streets.
STATIONS = [
    ("440304520000", "香蜜湖派出所", 22.5440, 114.0300),
    ("440304560000", "沙头派出所", 22.5250, 114.0330),
    ("440304570000", "车公庙派出所", 22.5340, 114.0220),
    ("440304580000", "农林派出所", 22.5440, 114.0120),
    ("440304590000", "竹子林派出所", 22.5350, 114.0040),
    ("440304600000", "景田派出所", 22.5480, 114.0370),
]
# (code, name, lat, lon): the fire and rescue station of the area (its engine answers 119 calls by radio).
FIRE_STATIONS = [("440304F10000", "香蜜湖消防救援站", 22.5330, 114.0300)]
FOOT_SHIFT = (8, 20)  # foot patrols walk the day shift; cars are crewed round the clock
DEMO_PASSWORD = "Zhihui@2026"
# (min lon, min lat, max lon, max lat) of the simulated area: the road graph's extent.
DEMO_BOUNDS = (113.997, 22.517, 114.040, 22.551)
# Cameras along these real main roads of the graph (names as in OpenStreetMap), evenly spaced.
CAMERA_ROADS = ("深南大道", "红荔路", "香蜜湖路", "滨河大道", "农林路", "福强路", "红荔西路", "沙嘴路")
CAMERAS_PER_ROAD = 8
DEMO_USERS = [
    ("jiejing", "接警员 王芳", Role.CALL_TAKER),
    ("diaodu", "调度员 李强", Role.DISPATCHER),
    ("zhihui", "值班指挥长 陈刚", Role.COMMANDER),
    ("yanpan", "研判员 赵敏", Role.ANALYST),
    ("lingdao", "领导 周伟", Role.LEADER),
    ("ducha", "督察 孙丽", Role.INSPECTOR),
    ("admin", "管理员", Role.ADMIN),
]


def _road_graph() -> RoadGraph | None:
    path = default_graph_path()
    return load_graphml(path) if path is not None and path.exists() else None


def on_road(graph: RoadGraph | None, lat: float, lon: float) -> tuple[float, float]:
    """The nearest point on a drivable road (units start on the street, where routing finds them)."""
    if graph is None:
        return lat, lon
    snap = graph.snap(lat, lon)
    return round(snap.lat, 7), round(snap.lon, 7)


def camera_points() -> list[tuple[str, list[tuple[float, float]]]]:
    """Evenly spaced points along each camera road of the gazetteer (real OSM geometry)."""
    gaz = load_gazetteer()
    out = []
    for name in CAMERA_ROADS:
        road = gaz.road(name)
        if road is None:
            continue
        length = gaz.road_length(road)
        pts = [gaz.point_along(road, length * (i + 0.5) / CAMERAS_PER_ROAD) for i in range(CAMERAS_PER_ROAD)]
        out.append((name, [(round(a, 7), round(b, 7)) for a, b in pts]))
    return out


@dataclass(frozen=True)
class UnitPlan:
    call_sign: str
    name: str
    type: str
    station: str | None
    """Code of the home station (None: a bureau-level unit such as the traffic squad)."""
    lat: float
    lon: float
    shift: tuple[int, int] | None
    """Local on-duty hours [start, end) for a shift unit (foot patrols: day shift); None = round the clock."""
    officer: str | None
    """Username of the officer account on the unit's phone (None: answers by radio)."""


@dataclass(frozen=True)
class CityPlan:
    """The command centre's own geography and forces, before anything is written anywhere."""

    seed: int
    stations: list[tuple[str, str, float, float]]
    fire_stations: list[tuple[str, str, float, float]]
    units: list[UnitPlan]
    cameras: list[tuple[str, str, float, float]]
    """(code, name, lat, lon) of road cameras, which double as checkpoints (卡口)."""
    jurisdictions: dict[str, dict[str, Any]]
    """Station code → its provisional 辖区 (nearest-station cells over the area)."""


def plan_city(*, units_per_station: int = 4, seed: int = 7, graph: RoadGraph | None = None) -> CityPlan:
    """Stations, units (the last of each station a foot patrol on the day shift), cameras and
    jurisdictions; deterministic for a seed. `graph` defaults to the city's road graph."""
    if units_per_station < 1:
        raise ValueError("units_per_station must be at least 1")
    rng = random.Random(seed)
    graph = graph if graph is not None else _road_graph()
    units: list[UnitPlan] = []
    for s_idx, (code, name, lat0, lon0) in enumerate(STATIONS, start=1):
        short = name[:-3]
        for k in range(1, units_per_station + 1):
            foot = k == units_per_station and units_per_station > 1
            lat, lon = on_road(graph, lat0 + rng.uniform(-0.004, 0.004), lon0 + rng.uniform(-0.004, 0.004))
            units.append(UnitPlan(
                call_sign=f"{short}{'步' if foot else '巡'}{k:02d}",
                name=f"{name}{'步巡组' if foot else '巡逻车'}{k}", type="foot" if foot else "patrol",
                station=code, lat=lat, lon=lon, shift=FOOT_SHIFT if foot else None, officer=f"mj{s_idx}{k:02d}"))
    t_lat, t_lon = on_road(graph, 22.5405, 114.0250)
    units.append(UnitPlan("福田交警01", "福田交警大队铁骑1", "traffic", None, t_lat, t_lon, None, None))
    for i, (code, name, lat, lon) in enumerate(FIRE_STATIONS, start=1):
        f_lat, f_lon = on_road(graph, lat, lon)
        units.append(UnitPlan(f"福田消防{i:02d}", f"{name}1号车", "fire", code, f_lat, f_lon, None, None))
    cells = voronoi_jurisdictions([(code, lat, lon) for code, _, lat, lon in STATIONS], box(*DEMO_BOUNDS))
    cameras = []
    for street, points in camera_points():
        for i, (lat, lon) in enumerate(points, start=1):
            cameras.append((f"440304C{len(cameras) + 1:04d}", f"{street}{i:02d}号点位", lat, lon))
    return CityPlan(seed, list(STATIONS), list(FIRE_STATIONS), units, cameras, cells)


async def seed_demo(session: AsyncSession, *, units_per_station: int = 4, seed: int = 7,
                    plan: CityPlan | None = None) -> dict[str, int]:
    """Write the city plan (stations, units, officers' accounts, desk users, cameras) into the
    database. Idempotent: does nothing when the bureau already exists."""
    if (await session.execute(select(Org.id).where(Org.code == BUREAU[0]))).first():
        return {"created": 0}
    plan = plan or plan_city(units_per_station=units_per_station, seed=seed)
    bureau = Org(code=BUREAU[0], name=BUREAU[1], kind=BUREAU[2])
    session.add(bureau)
    await session.flush()
    center = Org(code=CENTER[0], name=CENTER[1], kind=CENTER[2], parent_id=bureau.id)
    session.add(center)
    await session.flush()
    orgs: dict[str, Org] = {}
    for kind, rows in (("station", plan.stations), ("fire_station", plan.fire_stations)):
        for code, name, lat, lon in rows:
            org = Org(code=code, name=name, kind=kind, parent_id=bureau.id, lat=lat, lon=lon)
            if code in plan.jurisdictions:  # unset, not JSON null: a fire station has no 辖区
                org.boundary = plan.jurisdictions[code]
            session.add(org)
            orgs[code] = org
    await session.flush()
    for up in plan.units:
        org = orgs[up.station] if up.station else bureau
        unit = Unit(call_sign=up.call_sign, name=up.name, type=up.type, org_id=org.id,
                    status=UnitStatus.AVAILABLE.value, lat=up.lat, lon=up.lon)
        session.add(unit)
        await session.flush()
        if up.officer:  # one officer account per unit for the phone page
            await create_user(session, username=up.officer, password=DEMO_PASSWORD, role=Role.OFFICER,
                              full_name=f"{org.name}民警{int(up.call_sign[-2:])}", org_id=org.id,
                              unit_id=unit.id)
    for username, full_name, role in DEMO_USERS:
        await create_user(session, username=username, password=DEMO_PASSWORD, role=role, full_name=full_name,
                          org_id=center.id)
    for code, name, lat, lon in plan.cameras:
        session.add(Camera(code=code, name=name, kind="road", lat=lat, lon=lon))
    audit.append(session, Actor.system(), "demo.seed", component="sim",
                 detail={"units": len(plan.units), "cameras": len(plan.cameras), "seed": plan.seed})
    users = (await session.execute(select(User.id))).all()
    return {"created": 1, "units": len(plan.units), "users": len(users)}
