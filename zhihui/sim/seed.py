"""Demo reference data: the Futian (福田) command centre, its stations, users for each role, units.

Positions are in central Futian, Shenzhen (WGS-84), inside the road graph kept in ../shared/data.
"""

from __future__ import annotations

import random

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


async def seed_demo(session: AsyncSession, *, units_per_station: int = 4, seed: int = 7) -> dict[str, int]:
    """Idempotent: does nothing when the bureau already exists."""
    if (await session.execute(select(Org.id).where(Org.code == BUREAU[0]))).first():
        return {"created": 0}
    rng = random.Random(seed)
    bureau = Org(code=BUREAU[0], name=BUREAU[1], kind=BUREAU[2])
    session.add(bureau)
    await session.flush()
    center = Org(code=CENTER[0], name=CENTER[1], kind=CENTER[2], parent_id=bureau.id)
    session.add(center)
    await session.flush()
    system = Actor.system()
    n_units = 0
    stations: list[Org] = []
    graph = _road_graph()
    for s_idx, (code, name, lat0, lon0) in enumerate(STATIONS, start=1):
        station = Org(code=code, name=name, kind="station", parent_id=bureau.id, lat=lat0, lon=lon0)
        session.add(station)
        await session.flush()
        stations.append(station)
        short = name[:-3]
        for k in range(1, units_per_station + 1):
            kind = "foot" if k == units_per_station else "patrol"
            lat, lon = on_road(graph, lat0 + rng.uniform(-0.004, 0.004), lon0 + rng.uniform(-0.004, 0.004))
            unit = Unit(
                call_sign=f"{short}{'步' if kind == 'foot' else '巡'}{k:02d}",
                name=f"{name}{'步巡组' if kind == 'foot' else '巡逻车'}{k}",
                type=kind, org_id=station.id, status=UnitStatus.AVAILABLE.value, lat=lat, lon=lon,
            )
            session.add(unit)
            await session.flush()
            n_units += 1
            # One officer account per unit for the phone page.
            await create_user(session, username=f"mj{s_idx}{k:02d}", password=DEMO_PASSWORD, role=Role.OFFICER,
                              full_name=f"{name}民警{k}", org_id=station.id, unit_id=unit.id)
    for username, full_name, role in DEMO_USERS:
        await create_user(session, username=username, password=DEMO_PASSWORD, role=role, full_name=full_name,
                          org_id=center.id)
    t_lat, t_lon = on_road(graph, 22.5405, 114.0250)
    f_lat, f_lon = on_road(graph, 22.5330, 114.0300)
    traffic = Unit(call_sign="福田交警01", name="福田交警大队铁骑1", type="traffic", org_id=bureau.id,
                   status=UnitStatus.AVAILABLE.value, lat=t_lat, lon=t_lon)
    fire = Unit(call_sign="福田消防01", name="福田消防救援站1号车", type="fire", org_id=bureau.id,
                status=UnitStatus.AVAILABLE.value, lat=f_lat, lon=f_lon)
    session.add_all([traffic, fire])
    # Provisional 辖区: nearest-station cells over the simulated area (real boundaries replace them).
    cells = voronoi_jurisdictions([(st.id, st.lat, st.lon) for st in stations], box(*DEMO_BOUNDS))  # type: ignore[misc]
    for st in stations:
        st.boundary = cells[st.id]
    n_cameras = 0
    for street, points in camera_points():
        for i, (lat, lon) in enumerate(points, start=1):
            n_cameras += 1
            session.add(Camera(code=f"440304C{n_cameras:04d}", name=f"{street}{i:02d}号点位", kind="road",
                               lat=lat, lon=lon))
    audit.append(session, system, "demo.seed", component="sim", detail={"units": n_units + 2, "cameras": n_cameras})
    users = (await session.execute(select(User.id))).all()
    return {"created": 1, "units": n_units + 2, "users": len(users)}
