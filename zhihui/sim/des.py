"""Discrete-event simulation of a command centre's day, driving the REAL server through its API.

The simulator owns the world: where each unit is, where it drives (along the road graph at its
edges' speeds, slowed by time-of-day traffic), how long people take to pick up an order, handle a
scene and write feedback. Everything the command centre does goes through HTTP like a console or
a police phone would: the call-taker records each call (POST /incidents with an Idempotency-Key),
merges repeat callers and diverts non-police matters to 12345; the dispatcher picks a unit by the
policy under study and sends it (POST /dispatch); each officer signs for the order, reports en
route / on scene / handled and gives feedback from their own login; the commander closes.

Time is simulated: the server runs as a sandbox (ZHIHUI_SANDBOX=1) and the simulator moves its
clock (PUT /sandbox/clock) to each event's time before acting, so every timestamp the server
writes is simulated time and the study's figures are read back from the server's own timeline.
`speed=None` runs as fast as the server answers; a number paces the events against the wall
clock (1 = real time, 60 = a simulated hour per wall minute).

Dispatch policies:
  road      the server's 辅助指挥 recommendation: the free unit with the shortest road ETA;
  straight  the free unit nearest as the crow flies (haversine over GET /units positions), the
            way a dispatcher eyeballing a map without routing would choose.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from zhihui.core.clock import SHANGHAI
from zhihui.dispatch.recommend import category_unit_types
from zhihui.geo.coords import haversine_m
from zhihui.geo.roads import NoRouteError, RoadGraph
from zhihui.incidents.categories import CategoryTree, categories
from zhihui.sim.callgen import SimCall
from zhihui.sim.demo import FEEDBACK_TEXT, RESULTS_BY_TOP, Seat
from zhihui.sim.seed import FOOT_SHIFT

log = logging.getLogger("zhihui.sim.des")

Policy = Literal["road", "straight"]
POLICIES: tuple[Policy, ...] = ("road", "straight")
DRAIN_S = 3 * 3600.0
TICK_S = 60.0  # moving units report their position once a simulated minute (an AVL gateway's rate)

# Scene times in minutes (lognormal median, spread) by top-level category: a theft report takes a
# statement, a dispute needs mediating, a crash needs photos and a tow.
HANDLE_MIN = {"01": (35, 0.5), "02": (25, 0.5), "03": (30, 0.5), "04": (25, 0.4), "05": (40, 0.4),
              "06": (20, 0.5), "07": (20, 0.5), "08": (25, 0.5), "09": (15, 0.5)}
# Traffic by local hour: multiplies free-flow road times (Shenzhen's peaks 07–09 and 17–19).
CONGESTION = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.3, 1.45, 1.3, 1.15, 1.15,
              1.15, 1.1, 1.1, 1.15, 1.25, 1.45, 1.5, 1.3, 1.15, 1.1, 1.05, 1.0)
# Foot patrols work the day shift only (the city plan's); cars are crewed round the clock.
SHIFTS: dict[str, tuple[int, int]] = {"foot": FOOT_SHIFT}
FOOT_RADIUS_M = 1200.0


def on_duty(unit_type: str, at: datetime) -> bool:
    hours = SHIFTS.get(unit_type)
    if hours is None:
        return True
    h = at.astimezone(SHANGHAI).hour
    start, end = hours
    return start <= h < end if start < end else (h >= start or h < end)


@dataclass
class SimUnit:
    """The simulator's truth about one unit (the server only knows what it is told)."""

    id: int
    call_sign: str
    type: str
    station: str | None
    home: tuple[float, float]
    lat: float
    lon: float
    seat: Seat
    state: str = "free"  # free | busy | off
    moving: tuple[float, float, list[tuple[float, float]], list[float]] | None = None
    """(start time, end time, route points, cumulative share of the route at each point)."""
    busy_since: float | None = None
    busy_s: float = 0.0
    duty_since: float | None = 0.0
    duty_s: float = 0.0
    leave_after_job: bool = False

    def position_at(self, t: float) -> tuple[float, float]:
        if self.moving is None:
            return self.lat, self.lon
        t0, t1, pts, cum = self.moving
        f = 1.0 if t1 <= t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        i = max(0, min(len(cum) - 2, next((k for k, c in enumerate(cum) if c >= f), len(cum) - 1) - 1))
        span = cum[i + 1] - cum[i]
        g = 0.0 if span <= 0 else (f - cum[i]) / span
        (a_lat, a_lon), (b_lat, b_lon) = pts[i], pts[i + 1]
        return a_lat + g * (b_lat - a_lat), a_lon + g * (b_lon - a_lon)


@dataclass
class Job:
    incident_id: int
    number: str
    category_code: str
    urgent: bool
    level: int
    lat: float | None
    lon: float | None
    received_t: float
    unit: SimUnit | None = None
    instruction_id: int | None = None


@dataclass
class RunResult:
    policy: Policy
    wall_s: float
    """Wall seconds of the event loop (after the logons)."""
    setup_s: float
    """Wall seconds of the logons before it."""
    simulated_s: float
    """Simulated seconds the loop covered: the window plus the working-off of taken calls."""
    api_calls: int
    units: list[dict[str, Any]]
    stats: dict[str, int] = field(default_factory=dict)


def _route_shares(points: Sequence[tuple[float, float]]) -> list[float]:
    steps = [haversine_m(*points[i], *points[i + 1]) for i in range(len(points) - 1)]
    total = sum(steps) or 1.0
    out, acc = [0.0], 0.0
    for s in steps:
        acc += s
        out.append(acc / total)
    return out


class CommandCentreSim:
    """One run: a call stream through one dispatch policy on one sandbox server."""

    def __init__(self, base_url: str, graph: RoadGraph, calls: Sequence[SimCall], *, start: datetime,
                 hours: float, policy: Policy = "road", seed: int = 1, speed: float | None = None,
                 tree: CategoryTree | None = None, progress: Callable[[float], None] | None = None) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
        self.base_url = base_url
        self.graph = graph
        self.calls = [c for c in calls if start <= c.at < start + timedelta(hours=hours)]
        self.start = start
        self.hours = hours
        self.policy = policy
        self.seed = seed
        self.speed = speed
        self.tree = tree or categories()
        self.progress = progress
        self._queue: list[tuple[float, int, Callable[[], Awaitable[None]]]] = []
        self._seq = itertools.count()
        self.now = 0.0  # simulated seconds since `start`
        self.units: dict[int, SimUnit] = {}
        self.event_incident: dict[int, int] = {}  # event id → the first caller's incident
        self.waiting: list[Job] = []
        self.stats: dict[str, int] = {}
        self.seats: list[Seat] = []

    # Plumbing -----------------------------------------------------------------------------------

    def _rng(self, *key: object) -> random.Random:
        # One generator per decision, keyed by what it is about: both policies see the same human
        # delays and scene times for the same call, so only the choice of unit differs.
        return random.Random(":".join(str(k) for k in (self.seed, *key)))

    def at(self, t: float, action: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._queue, (t, next(self._seq), action))

    def count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def clock(self, t: float | None = None) -> datetime:
        return self.start + timedelta(seconds=self.now if t is None else t)

    async def _seat(self, username: str, seat_name: str) -> Seat:
        s = Seat(self.base_url, username, seat_name)
        await s.login()
        self.seats.append(s)
        return s

    async def call(self, seat: Seat, method: str, path: str, what: str, **kw: Any) -> Any:
        # Logons age on the wall clock (see clock.wallnow): a seat's token outlives a study run, and
        # Seat logs in again by itself should a long paced run outlast it.
        self.count("api_calls")
        return await seat.call(method, path, what, **kw)

    async def setup(self) -> None:
        self.admin = await self._seat("admin", "SIM-CLOCK")
        await self._set_clock(0.0, force=True)
        self.call_taker = await self._seat("jiejing", "JJ-01")
        self.dispatcher = await self._seat("diaodu", "DD-01")
        self.commander = await self._seat("zhihui", "ZH-01")
        self.radio = await self._seat("diaodu", "DD-01-radio")
        users = await self.call(self.admin, "GET", "/users", "list users")
        units = await self.call(self.dispatcher, "GET", "/units", "list units")
        orgs = {j["properties"]["org_id"]: j["properties"]["name"]
                for j in (await self.call(self.dispatcher, "GET", "/geo/jurisdictions", "jurisdictions")
                          or {"features": []})["features"]}
        self.org_names = orgs
        officer_of = {u["unit_id"]: u["username"] for u in users or [] if u["role"] == "officer" and u["active"]}
        for u in units or []:
            if u["lat"] is None:
                continue
            username = officer_of.get(u["id"])
            seat = await self._seat(username, f"phone-{username}") if username else self.radio
            unit = SimUnit(u["id"], u["call_sign"], u["type"], orgs.get(u["org_id"]), (u["lat"], u["lon"]),
                           u["lat"], u["lon"], seat)
            self.units[unit.id] = unit
            if u["status"] == "off_duty":
                unit.state, unit.duty_since = "off", None
        log.info("simulation ready: %d units, %d calls over %.1f h, policy %s", len(self.units), len(self.calls),
                 self.hours, self.policy)

    async def _set_clock(self, t: float, force: bool = False) -> None:
        if t > self.now or force:
            self.now = t
            self.count("clock_moves")
            await self.call(self.admin, "PUT", "/sandbox/clock", "move clock",
                            json={"now": self.clock(t).isoformat()})

    async def close(self) -> None:
        for s in self.seats:
            await s.close()

    # The run ------------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        setup0 = time.perf_counter()
        await self.setup()
        wall0 = time.perf_counter()
        for c in self.calls:
            self.at((c.at - self.start).total_seconds(), lambda c=c: self.call_arrives(c))
        end = self.hours * 3600.0
        t = 0.0
        while t < end + DRAIN_S:
            self.at(t, self.tick)
            t += TICK_S
        # Shift changes on the hour (foot patrols come on at 08:00 and go off at 20:00).
        first_hour = 3600.0 - (self.start.minute * 60 + self.start.second)
        h = first_hour % 3600.0
        while h < end:
            self.at(h, self.shift_change)
            h += 3600.0
        await self.shift_change()
        wall_prev, sim_prev = time.perf_counter(), 0.0
        # After the window no new calls come in, but the incidents already taken are worked off
        # (up to DRAIN_S), so a call near the end is measured like any other.
        while self._queue:
            t, _, action = heapq.heappop(self._queue)
            if t > end and (t > end + DRAIN_S or not (self.waiting or any(
                    u.state == "busy" for u in self.units.values()))):
                break
            if self.speed:
                # Keep pace with the wall clock at `speed` simulated seconds per wall second.
                delay = (t - sim_prev) / self.speed - (time.perf_counter() - wall_prev)
                if delay > 0:
                    await asyncio.sleep(delay)
                wall_prev, sim_prev = time.perf_counter(), t
            await self._set_clock(t)
            await action()
            if self.progress:
                self.progress(t / 3600.0)
        if self.now < end:
            await self._set_clock(end)
        for u in self.units.values():
            self._close_books(u)
        result = RunResult(self.policy, time.perf_counter() - wall0, wall0 - setup0, self.now,
                           self.stats.get("api_calls", 0),
                           [{"id": u.id, "call_sign": u.call_sign, "type": u.type, "station": u.station,
                             "busy_s": round(u.busy_s, 1), "on_duty_s": round(u.duty_s, 1)}
                            for u in self.units.values()], dict(self.stats))
        return result

    def _close_books(self, u: SimUnit) -> None:
        if u.busy_since is not None:
            u.busy_s += self.now - u.busy_since
            u.busy_since = self.now
        if u.duty_since is not None:
            u.duty_s += self.now - u.duty_since
            u.duty_since = self.now

    # 接警 ----------------------------------------------------------------------------------------

    async def call_arrives(self, c: SimCall) -> None:
        key = f"sim-{self.seed}-{c.event_id}-{c.caller_index}"
        incident = await self.call(self.call_taker, "POST", "/incidents", "record call", json=c.body,
                                   headers={"Idempotency-Key": key})
        if incident is None:
            return
        self.count("calls")
        first = self.event_incident.get(c.event_id)
        rng = self._rng("call", c.event_id, c.caller_index)
        if first is not None and c.caller_index > 0:
            # The intake screen flags the repeat caller (重复报警); the call-taker merges it.
            self.at(self.now + rng.uniform(20, 60), lambda: self.merge(incident["id"], first))
            return
        self.event_incident[c.event_id] = incident["id"]
        if not c.police:
            self.at(self.now + rng.uniform(30, 120), lambda: self.divert(incident["id"], c))
            return
        job = Job(incident["id"], incident["number"], incident["category_code"], incident["urgent"],
                  incident["level"], incident["lat"], incident["lon"], self.now)
        # The dispatcher reads the new incident, checks the map and the free units.
        self.at(self.now + rng.uniform(15, 60), lambda: self.dispatch(job))

    async def merge(self, incident_id: int, into_id: int) -> None:
        if await self.call(self.call_taker, "POST", f"/incidents/{incident_id}/merge", "merge repeat call",
                           json={"into_id": into_id}) is not None:
            self.count("merged")

    async def divert(self, incident_id: int, c: SimCall) -> None:
        name = self.tree.get(c.category_code).name if self.tree.get(c.category_code) else c.category_code
        if await self.call(self.call_taker, "POST", f"/incidents/{incident_id}/divert", "divert to 12345",
                           json={"note": f"非警务事项（{name}），已转12345市民服务热线"}) is not None:
            self.count("diverted")

    # 派警 ----------------------------------------------------------------------------------------

    def _free(self, types: Sequence[str]) -> list[SimUnit]:
        return [u for u in self.units.values() if u.state == "free" and u.type in types]

    async def choose(self, job: Job) -> SimUnit | None:
        """The unit the policy picks among free units of the category's types (patrol cars as a
        fallback, a foot patrol nearby as the last resort)."""
        wanted = category_unit_types(job.category_code)
        pools = [wanted] + ([["patrol"]] if "patrol" not in wanted else []) + [["foot"]]
        for types in pools:
            if not self._free(types):
                continue
            if self.policy == "road":
                rec = await self.call(self.dispatcher, "GET", f"/incidents/{job.incident_id}/recommendations",
                                      "recommend", params={"k": 3, "routes": "false", "type": types})
                usable = [(r, self.units.get(r["unit_id"])) for r in (rec or {}).get("units", [])]
                usable = [(r, u) for r, u in usable if u is not None and u.state == "free"
                          and (u.type != "foot" or r["straight_line_m"] <= FOOT_RADIUS_M)]
                for r, u in usable:
                    if r["status"] in ("ok", "straight_line"):
                        return u
                if usable:  # no road time for anyone (e.g. off the graph): the nearest as the crow flies
                    return min(usable, key=lambda x: x[0]["straight_line_m"])[1]
            else:
                free = await self.call(self.dispatcher, "GET", "/units", "list free units",
                                       params={"status": "available"})
                near = sorted(((haversine_m(job.lat, job.lon, f["lat"], f["lon"]), f["id"])
                               for f in free or [] if f["type"] in types and f["lat"] is not None),
                              key=lambda x: x)
                for dist, uid in near:
                    u = self.units.get(uid)
                    if u is not None and u.state == "free" and (u.type != "foot" or dist <= FOOT_RADIUS_M):
                        return u
        return None

    async def dispatch(self, job: Job) -> None:
        if job.unit is not None or job.lat is None or job.lon is None:
            return
        unit = await self.choose(job)
        if unit is None:
            if job not in self.waiting:
                self.waiting.append(job)
                self.count("waited_for_unit")
            return
        out = await self.call(self.dispatcher, "POST", f"/incidents/{job.incident_id}/dispatch", "dispatch",
                              json={"unit_ids": [unit.id]})
        if not out:
            # Refused (e.g. 409: the server saw the unit change meanwhile): try again with the others.
            if job not in self.waiting:
                self.waiting.append(job)
            self.count("dispatch_refused")
            return
        if job in self.waiting:
            self.waiting.remove(job)
        job.unit, job.instruction_id = unit, out[0]["id"]
        self.count("dispatched")
        unit.state = "busy"
        unit.lat, unit.lon = unit.position_at(self.now)
        unit.moving = None
        unit.busy_since = self.now
        rng = self._rng("sign", job.incident_id)
        self.at(self.now + rng.lognormvariate(math.log(25), 0.5), lambda: self.sign(job))

    async def retry_waiting(self) -> None:
        # 急 first, then the most serious level, then the longest waiting.
        for job in sorted(self.waiting, key=lambda j: (not j.urgent, j.level, j.received_t)):
            await self.dispatch(job)

    # 处警 ----------------------------------------------------------------------------------------

    async def step(self, job: Job, status: str) -> bool:
        assert job.unit is not None
        return await self.call(job.unit.seat, "POST", f"/instructions/{job.instruction_id}/status",
                               f"{job.unit.call_sign} {status}", json={"status": status}) is not None

    async def sign(self, job: Job) -> None:
        assert job.unit is not None
        if await self.call(job.unit.seat, "POST", f"/instructions/{job.instruction_id}/acknowledge",
                           f"{job.unit.call_sign} sign") is None:
            return
        rng = self._rng("depart", job.incident_id)
        self.at(self.now + rng.uniform(10, 40), lambda: self.depart(job))

    def drive_time(self, unit: SimUnit, to: tuple[float, float],
                   key: object) -> tuple[float, list[tuple[float, float]]]:
        """Seconds to drive from the unit's position to `to` along the road graph, slowed by the
        hour's traffic and a trip's own luck (lights, a jam); straight line at 70 % of 30 km/h
        where the graph has no route."""
        rng = self._rng("drive", key)
        here = (unit.lat, unit.lon)
        if unit.type == "foot":
            return haversine_m(*here, *to) * 1.3 / (5 / 3.6), [here, to]
        try:
            route = self.graph.route(self.graph.snap(*here), self.graph.snap(*to))
            secs, pts = route.time_s, list(route.points) or [here, to]
        except NoRouteError:
            secs, pts = haversine_m(*here, *to) / (30 / 3.6 * 0.7), [here, to]
        hour = self.clock().astimezone(SHANGHAI).hour
        secs = secs * CONGESTION[hour] * rng.lognormvariate(0.0, 0.15) + 30.0  # parking, finding the door
        if len(pts) < 2:
            pts = [here, to]
        return secs, [here, *pts[1:-1], to]

    async def depart(self, job: Job) -> None:
        unit = job.unit
        assert unit is not None and job.lat is not None and job.lon is not None
        if not await self.step(job, "en_route"):
            return
        secs, pts = self.drive_time(unit, (job.lat, job.lon), job.incident_id)
        unit.moving = (self.now, self.now + secs, pts, _route_shares(pts))
        self.at(self.now + secs, lambda: self.arrive(job))

    async def arrive(self, job: Job) -> None:
        unit = job.unit
        assert unit is not None and job.lat is not None and job.lon is not None
        unit.lat, unit.lon, unit.moving = job.lat, job.lon, None
        await self.call(unit.seat, "PUT", f"/units/{unit.id}/position", f"{unit.call_sign} at scene",
                        json={"lat": job.lat, "lon": job.lon})
        if not await self.step(job, "on_scene"):
            return
        self.count("arrived")
        median, spread = HANDLE_MIN.get(job.category_code[:2], (25, 0.5))
        rng = self._rng("scene", job.incident_id)
        minutes = rng.lognormvariate(math.log(median), spread)
        self.at(self.now + 60 * min(minutes, 240), lambda: self.handled(job))

    async def handled(self, job: Job) -> None:
        if not await self.step(job, "handled"):
            return
        rng = self._rng("write-up", job.incident_id)
        self.at(self.now + rng.uniform(60, 300), lambda: self.feedback(job))

    async def feedback(self, job: Job) -> None:
        unit = job.unit
        assert unit is not None
        rng = self._rng("result", job.incident_id)
        code = rng.choice(RESULTS_BY_TOP.get(job.category_code[:2], ("resolved",)))
        out = await self.call(unit.seat, "POST", f"/instructions/{job.instruction_id}/feedback",
                              f"{unit.call_sign} feedback",
                              json={"result_code": code, "text": f"{unit.call_sign}：{FEEDBACK_TEXT[code]}"})
        if out is None:
            return
        self.count("feedback")
        if unit.busy_since is not None:
            unit.busy_s += self.now - unit.busy_since
            unit.busy_since = None
        self.at(self.now + rng.uniform(120, 600), lambda: self.close_incident(job))
        if unit.leave_after_job:
            await self.go_off(unit)
            return
        unit.state = "free"
        # Back towards the station area, patrolling; free for the next call on the way.
        secs, pts = self.drive_time(unit, unit.home, f"home:{job.incident_id}")
        unit.moving = (self.now, self.now + secs * 1.5, pts, _route_shares(pts))
        await self.retry_waiting()

    async def close_incident(self, job: Job) -> None:
        if await self.call(self.commander, "POST", f"/incidents/{job.incident_id}/close", "close",
                           json={"result": "出警单位已反馈处置结果，予以结案。"}) is not None:
            self.count("closed")

    # Positions and shifts -----------------------------------------------------------------------

    async def tick(self) -> None:
        fixes = []
        for u in self.units.values():
            if u.moving is None:
                continue
            lat, lon = u.position_at(self.now)
            if self.now >= u.moving[1]:
                u.lat, u.lon, u.moving = lat, lon, None
            fixes.append({"unit_id": u.id, "lat": round(lat, 6), "lon": round(lon, 6)})
        if fixes:
            await self.call(self.dispatcher, "POST", "/units/positions", "AVL batch", json={"positions": fixes})
        if self.waiting:
            await self.retry_waiting()

    async def shift_change(self) -> None:
        at = self.clock()
        for u in self.units.values():
            duty = on_duty(u.type, at)
            if duty and u.state == "off":
                await self.call(self.dispatcher, "POST", f"/units/{u.id}/status", f"{u.call_sign} on duty",
                                json={"status": "available"})
                u.state, u.duty_since, u.leave_after_job = "free", self.now, False
                u.lat, u.lon = u.home
                await self.call(self.dispatcher, "PUT", f"/units/{u.id}/position", f"{u.call_sign} at station",
                                json={"lat": u.lat, "lon": u.lon})
            elif not duty and u.state == "free":
                await self.go_off(u)
            elif not duty and u.state == "busy":
                u.leave_after_job = True
        if any(u.state == "free" for u in self.units.values()):
            await self.retry_waiting()

    async def go_off(self, u: SimUnit) -> None:
        u.lat, u.lon = u.position_at(self.now)
        u.moving = None
        await self.call(self.dispatcher, "POST", f"/units/{u.id}/status", f"{u.call_sign} off duty",
                        json={"status": "off_duty"})
        self._close_books(u)
        u.state, u.duty_since, u.leave_after_job = "off", None, False


async def read_timeline(base_url: str, org_names: dict[int, str], tree: CategoryTree | None = None,
                        *, username: str = "lingdao", password: str | None = None) -> list[dict[str, Any]]:
    """Per incident, what the study measures, from the server's own records (GET /incidents)."""
    from zhihui.sim.demo import DEMO_PASSWORD

    tree = tree or categories()
    seat = Seat(base_url, username, "SIM-READ", password=password or DEMO_PASSWORD)
    await seat.login()
    rows: list[dict[str, Any]] = []
    try:
        offset = 0
        while True:
            page = await seat.call("GET", "/incidents", "read incidents", params={"limit": 1000, "offset": offset})
            if not page:
                break
            rows.extend(page)
            offset += len(page)
            if len(page) < 1000:
                break
    finally:
        await seat.close()
    out = []
    for i in rows:
        cat = tree.get(i["category_code"])
        if cat is None or not cat.police or i["status"] in ("merged", "diverted", "cancelled"):
            continue
        rec = datetime.fromisoformat(i["received_at"])
        dis = datetime.fromisoformat(i["dispatched_at"]) if i["dispatched_at"] else None
        arr = datetime.fromisoformat(i["on_scene_at"]) if i["on_scene_at"] else None
        out.append({
            "number": i["number"], "category_top": i["category_code"][:2], "category_label": i["category_label"],
            "jurisdiction": org_names.get(i["jurisdiction_org_id"]) if i["jurisdiction_org_id"] else None,
            "received_at": i["received_at"],
            "dispatch_s": (dis - rec).total_seconds() if dis else None,
            "arrival_s": (arr - rec).total_seconds() if arr else None,
            "drive_s": (arr - dis).total_seconds() if arr and dis else None,
            "unit": None,
        })
    return out
