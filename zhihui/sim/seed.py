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
from zhihui.geo.areas import voronoi_jurisdictions
from zhihui.geo.places import Camera

BUREAU = ("440304000000", "深圳市公安局福田分局", "bureau")
CENTER = ("440304010000", "福田分局指挥中心", "command_center")
# (code, name, lat, lon): approximate positions of the station areas in central Futian.
STATIONS = [
    ("440304510000", "福田派出所", 22.5235, 114.0655),
    ("440304520000", "香蜜湖派出所", 22.5440, 114.0330),
    ("440304530000", "莲花派出所", 22.5530, 114.0520),
    ("440304540000", "华富派出所", 22.5450, 114.0790),
    ("440304550000", "园岭派出所", 22.5540, 114.0930),
    ("440304560000", "沙头派出所", 22.5300, 114.0350),
]
DEMO_PASSWORD = "Zhihui@2026"
# (min lon, min lat, max lon, max lat) of the simulated area in central Futian.
DEMO_BOUNDS = (114.015, 22.515, 114.095, 22.565)
# Demo camera lines along main roads: (street, lat0, lon0, lat1, lon1), approximate, WGS-84.
CAMERA_LINES = [
    ("深南大道", 22.5400, 114.0200, 22.5425, 114.0900),
    ("红荔路", 22.5480, 114.0300, 22.5500, 114.0900),
    ("益田路", 22.5200, 114.0560, 22.5600, 114.0560),
    ("华强北路", 22.5350, 114.0850, 22.5550, 114.0850),
]
DEMO_USERS = [
    ("jiejing", "接警员 王芳", Role.CALL_TAKER),
    ("diaodu", "调度员 李强", Role.DISPATCHER),
    ("zhihui", "值班指挥长 陈刚", Role.COMMANDER),
    ("yanpan", "研判员 赵敏", Role.ANALYST),
    ("lingdao", "领导 周伟", Role.LEADER),
    ("ducha", "督察 孙丽", Role.INSPECTOR),
    ("admin", "管理员", Role.ADMIN),
]


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
    for s_idx, (code, name, lat, lon) in enumerate(STATIONS, start=1):
        station = Org(code=code, name=name, kind="station", parent_id=bureau.id, lat=lat, lon=lon)
        session.add(station)
        await session.flush()
        stations.append(station)
        short = name[:-3]
        for k in range(1, units_per_station + 1):
            kind = "foot" if k == units_per_station else "patrol"
            unit = Unit(
                call_sign=f"{short}{'步' if kind == 'foot' else '巡'}{k:02d}",
                name=f"{name}{'步巡组' if kind == 'foot' else '巡逻车'}{k}",
                type=kind, org_id=station.id, status=UnitStatus.AVAILABLE.value,
                lat=lat + rng.uniform(-0.006, 0.006), lon=lon + rng.uniform(-0.006, 0.006),
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
    traffic = Unit(call_sign="福田交警01", name="福田交警大队铁骑1", type="traffic", org_id=bureau.id,
                   status=UnitStatus.AVAILABLE.value, lat=22.5410, lon=114.0600)
    fire = Unit(call_sign="福田消防01", name="福田消防救援站1号车", type="fire", org_id=bureau.id,
                status=UnitStatus.AVAILABLE.value, lat=22.5380, lon=114.0450)
    session.add_all([traffic, fire])
    # Provisional 辖区: nearest-station cells over the simulated area (real boundaries replace them).
    cells = voronoi_jurisdictions([(st.id, st.lat, st.lon) for st in stations], box(*DEMO_BOUNDS))  # type: ignore[misc]
    for st in stations:
        st.boundary = cells[st.id]
    n_cameras = 0
    for street, lat0, lon0, lat1, lon1 in CAMERA_LINES:
        for i in range(12):
            f = i / 11
            n_cameras += 1
            session.add(Camera(code=f"440304C{n_cameras:04d}", name=f"{street}{i + 1:02d}号点位", kind="road",
                               lat=lat0 + f * (lat1 - lat0), lon=lon0 + f * (lon1 - lon0)))
    audit.append(session, system, "demo.seed", component="sim", detail={"units": n_units + 2, "cameras": n_cameras})
    users = (await session.execute(select(User.id))).all()
    return {"created": 1, "units": n_units + 2, "users": len(users)}
