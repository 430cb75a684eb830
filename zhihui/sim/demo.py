"""`zhihui demo`: a live command centre on SQLite with a simulated Futian (福田) call stream.

The demo runs the real API server (uvicorn, in-process) and, beside it, a simulator that behaves
like the people around a 110 command centre. Every simulated person logs in with their own demo
account and talks to the server over HTTP exactly like a browser or a police phone would, so the
demo exercises the same code paths (auth, audit, idempotency, status machines) as production and
anything the simulator does shows up in the API, the timeline and the live event stream.

Actors:
  接警员 call taker   records calls (Poisson arrivals) and diverts non-police calls to 12345;
  调度员 dispatcher   sends the nearest free suitable unit to each new incident;
  民警   officers     sign (签收), drive to the scene (position reports), handle it and give 反馈;
  指挥长 commander    closes (结案) incidents whose units have all given feedback.
Units without an officer account (traffic, fire) answer by radio: the dispatcher seat records
their steps on their behalf (代签收), which the API allows for desk roles.

`speed` compresses the actors' human delays, driving and handling times (not the call rate), so
tests can run the whole loop in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from zhihui.api.app import create_app
from zhihui.core.auth import Role, User
from zhihui.core.config import Settings, load_settings
from zhihui.core.migrate import upgrade
from zhihui.core.store import Database, is_sqlite
from zhihui.geo.coords import haversine_m
from zhihui.geo.gazetteer import Gazetteer, GazetteerEntry
from zhihui.geo.gazetteer import load_default as load_gazetteer
from zhihui.incidents.categories import Category, CategoryTree, categories
from zhihui.sim.places import HOUSE_SPACING_M
from zhihui.sim.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo

log = logging.getLogger("zhihui.sim.demo")

SPEED = 1.0  # 1.0 = real time for the live demo; tests pass a large factor
API = "/api/v1"

# Western central Futian (the demo city): the extent of the road graph in ../shared/data, so every
# simulated call, unit and camera lies on the streets the wall map draws and routing knows.
LAT_RANGE = (22.517, 22.551)
LON_RANGE = (113.997, 114.040)

# Wall-clock floors: however large `speed` is, the simulator must not hammer the single SQLite
# connection with polls and position reports.
MIN_POLL_S = 0.5
MIN_TICK_S = 0.5
POSITION_TICK_S = 3.0  # a phone reports its position every few seconds
NON_POLICE_SHARE = 0.15  # share of calls that are not police matters (diverted to 12345)
# Visible events draw more than one caller (a fire, a crash, a fight): the chance that a second
# person reports the same event a minute or two later, by top-level category.
REPEAT_CALLER = {"05": 0.35, "04": 0.25, "02": 0.15, "03": 0.25}
MERGE_SCORE = 0.75  # the call-taker merges a suggested duplicate this sure without a second look


@dataclass(frozen=True)
class Street:
    """A real street of central Futian, approximated by a straight segment (WGS-84)."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    max_number: int


# Used only when no road graph is available: approximate straight courses of real streets inside the
# box. With the graph, callers name the gazetteer's real streets (see DemoCity.location).
STREETS = (
    Street("深南大道", (22.5410, 114.0010), (22.5400, 114.0395), 800),
    Street("红荔路", (22.5490, 114.0190), (22.5450, 114.0399), 400),
    Street("滨河大道", (22.5310, 114.0090), (22.5300, 114.0316), 400),
    Street("香蜜湖路", (22.5390, 114.0285), (22.5285, 114.0230), 300),
    Street("农林路", (22.5494, 114.0139), (22.5380, 114.0066), 300),
    Street("福荣路", (22.5167, 114.0162), (22.5310, 114.0366), 500),
    Street("香梅路", (22.5414, 114.0350), (22.5501, 114.0355), 200),
)
# Streets callers name when the graph is there: real named roads, not interchanges or side roads.
_NOT_AN_ADDRESS = re.compile(r"(立交|辅路|辅道|匝道|隧道|桥)$")
_ADDRESS_CLASSES = frozenset({"trunk", "primary", "secondary", "tertiary", "residential", "unclassified",
                              "living_street"})
MIN_STREET_M = 250.0
PLACES = ("小区门口", "地铁站出口", "商场一楼", "公交站旁", "写字楼大堂", "城中村巷子里", "十字路口",
          "便利店内", "地下停车场", "公园东门", "餐馆门前", "学校附近")
DIRECTIONS = ("东", "南", "西", "北")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"

# What callers say, by top-level category (类别); {name} is the finest category picked.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "01": ("报警人称{place}发生{name}，嫌疑人已向{dir}逃离，身穿深色上衣。",
           "报警人称刚在{place}遭遇{name}，损失约{money}元，现场有监控。",
           "群众报称{place}有人实施{name}，请求民警到场。"),
    "02": ("报警人称{place}有人{name}，现场约{n}人，情绪激动。",
           "群众反映{place}发生{name}，影响周边秩序，请求处置。",
           "报警人称{place}{name}，已持续约{mins}分钟。"),
    "03": ("报警人称{place}发生{name}，有人员受困，请求救援。",
           "群众反映{place}出现{name}险情，需要民警到场维持秩序。"),
    "04": ("报警人称{place}发生{name}，涉及{n}辆车，暂无人员受伤。",
           "驾驶员报称在{place}发生{name}，对方车辆未停留，往{dir}去了。"),
    "05": ("报警人称{place}{name}，能看到明火和浓烟。",
           "群众报称{place}有烟雾冒出，疑似{name}。"),
    "06": ("报警人称{place}有人需要帮助（{name}），请求民警协助。",
           "群众求助：{place}{name}，请派人到场。"),
    "07": ("群众举报{place}存在{name}问题，要求查处。",
           "报警人举报{place}{name}，已持续多日。"),
    "08": ("报警人称在{place}与他人发生{name}，双方争执不下。",
           "群众反映{place}有{name}，双方情绪激动，请民警调解。"),
    "09": ("报警人来电反映{place}{name}，请求处理。",),
}
NON_POLICE_DESCRIPTIONS = ("市民来电反映{place}{name}，希望有关部门处理。",
                           "来电人咨询{name}相关事宜，称{place}长期存在该情况。")
# How often each top-level category is called in (治安, 求助 and 纠纷 dominate a city 110 line).
TOP_WEIGHTS = {"01": 12, "02": 22, "03": 3, "04": 12, "05": 3, "06": 18, "07": 6, "08": 16, "09": 8}

# Field behaviour by unit type and by category.
SPEED_KMH = {"patrol": 30.0, "traffic": 35.0, "fire": 35.0, "ambulance": 35.0, "criminal": 30.0,
             "special": 30.0, "foot": 5.0}
# Kept short enough that ~3 calls a minute (the CLI default) do not exhaust the ~20 patrol cars.
HANDLE_MINUTES = {"01": (4, 8), "02": (2, 6), "03": (3, 8), "04": (3, 7), "05": (4, 10), "06": (2, 4),
                  "07": (2, 5), "08": (3, 6), "09": (2, 4)}
FOOT_RADIUS_M = 1200.0  # a foot patrol is sent only as a last resort, and only to what is near
TYPE_HANDLE_FACTOR = {"foot": 0.8, "traffic": 1.2, "fire": 1.5}
RESULTS_BY_TOP = {
    "01": ("case_filed", "arrested", "no_trace"),
    "02": ("resolved", "mediated", "case_filed", "arrested"),
    "03": ("resolved", "transferred"),
    "04": ("resolved", "transferred"),
    "05": ("transferred", "resolved"),
    "06": ("resolved", "transferred"),
    "07": ("resolved", "transferred", "no_trace"),
    "08": ("mediated", "resolved", "transferred"),
    "09": ("resolved", "false_alarm", "other"),
}
FEEDBACK_TEXT = {
    "resolved": "民警到场后依法处置完毕，现场秩序已恢复。",
    "case_filed": "已对当事人进行询问，按程序受案，后续由派出所跟进。",
    "transferred": "经现场核实，已移交相关职能部门处理。",
    "mediated": "经民警现场调解，双方达成和解。",
    "false_alarm": "到场核实为误报，已对报警人进行教育。",
    "no_trace": "到场后未发现报警所述情况，已联系报警人说明。",
    "referred_12345": "属非警务事项，已告知报警人向12345反映。",
    "arrested": "已将嫌疑人当场抓获，带回派出所进一步审查。",
    "other": "已按现场情况妥善处理。",
}


@dataclass(frozen=True)
class Call:
    body: dict[str, Any]
    category: Category
    idempotency_key: str


class DemoCity:
    """The synthetic callers of central Futian: where they are, who they are and what they report."""

    def __init__(self, tree: CategoryTree, rng: random.Random) -> None:
        self.tree = tree
        self.rng = rng
        self._streets: list[tuple[GazetteerEntry, float]] | None = None
        self._gazetteer: Gazetteer | None = None
        # Calls are about specific matters, so pick the finest codes (leaves of the tree).
        leaves = [c for c in tree.nodes.values() if not tree.children(c.code)]
        police = [c for c in leaves if c.police]
        self.non_police = [c for c in leaves if not c.police] or [
            c for c in tree.nodes.values() if not c.police
        ]
        per_top = Counter(c.top for c in police)
        # Weight each leaf so that the top-level categories keep their shares however many
        # sub-types each one has.
        self.police = police
        self.police_weights = [TOP_WEIGHTS.get(c.top, 5) / per_top[c.top] for c in police]

    def pick_category(self) -> Category:
        if self.non_police and self.rng.random() < NON_POLICE_SHARE:
            return self.rng.choice(self.non_police)
        return self.rng.choices(self.police, weights=self.police_weights)[0]

    def phone(self) -> str:
        return "1" + self.rng.choice("3456789") + "".join(self.rng.choice("0123456789") for _ in range(9))

    def caller_name(self) -> str | None:
        if self.rng.random() < 0.3:
            return None  # many callers do not give a name
        return self.rng.choice(SURNAMES) + self.rng.choice(("先生", "女士"))

    def streets(self) -> list[tuple[GazetteerEntry, float]]:
        """(road, length) of the streets callers name, from the gazetteer (loaded on first use)."""
        if self._streets is None:
            gaz = load_gazetteer()
            self._gazetteer = gaz
            self._streets = []
            for e in gaz.entries:
                if e.kind != "road" or _NOT_AN_ADDRESS.search(e.name):
                    continue
                if not set(e.props.get("highway") or ()) & _ADDRESS_CLASSES:
                    continue
                if not (LAT_RANGE[0] <= e.lat <= LAT_RANGE[1] and LON_RANGE[0] <= e.lon <= LON_RANGE[1]):
                    continue
                length = gaz.road_length(e)
                if length >= MIN_STREET_M:
                    self._streets.append((e, length))
            self._streets.sort(key=lambda x: x[0].name)
        return self._streets

    def street_names(self) -> list[str]:
        return [e.name for e, _ in self.streets()] or [s.name for s in STREETS]

    def location(self) -> tuple[str, float, float]:
        """A house number on a real street and the caller's point there (a few tens of metres off),
        placed by the gazetteer's own house-number interpolation, so that the address the call-taker
        types and the point the phone reports agree the way they would in the city."""
        streets = self.streets()
        if streets:
            road, length = self.rng.choices(streets, weights=[n for _, n in streets])[0]
            number = self.rng.randint(1, max(1, int(length // HOUSE_SPACING_M) * 2))
            assert self._gazetteer is not None
            lat, lon, _, _ = self._gazetteer.interpolate(road, number)
            lat = min(max(lat + self.rng.uniform(-0.00015, 0.00015), LAT_RANGE[0]), LAT_RANGE[1])
            lon = min(max(lon + self.rng.uniform(-0.00015, 0.00015), LON_RANGE[0]), LON_RANGE[1])
            return f"深圳市福田区{road.name}{number}号", round(lat, 6), round(lon, 6)
        street = self.rng.choice(STREETS)
        t = self.rng.random()
        lat = street.start[0] + t * (street.end[0] - street.start[0]) + self.rng.uniform(-0.0008, 0.0008)
        lon = street.start[1] + t * (street.end[1] - street.start[1]) + self.rng.uniform(-0.0008, 0.0008)
        lat = min(max(lat, LAT_RANGE[0]), LAT_RANGE[1])
        lon = min(max(lon, LON_RANGE[0]), LON_RANGE[1])
        number = self.rng.randint(1, street.max_number)
        return f"深圳市福田区{street.name}{number}号", round(lat, 6), round(lon, 6)

    def description(self, category: Category) -> str:
        templates = DESCRIPTIONS.get(category.top, DESCRIPTIONS["09"]) if category.police \
            else NON_POLICE_DESCRIPTIONS
        return self.rng.choice(templates).format(
            name=category.name, place=self.rng.choice(PLACES), dir=self.rng.choice(DIRECTIONS) + "边",
            n=self.rng.randint(2, 6), mins=self.rng.randint(10, 40), money=self.rng.randint(2, 80) * 100,
        )

    def channel(self, category: Category) -> str:
        # 三台合一: traffic and fire calls also come in on 122 and 119; a few people text 12110.
        roll = self.rng.random()
        if category.top == "04" and roll < 0.5:
            return "122"
        if category.top == "05" and roll < 0.5:
            return "119"
        return "12110-SMS" if roll > 0.95 else "110"

    def repeat_of(self, call: Call) -> Call | None:
        """Another caller reporting the same event (or None): own phone, own words, own handset
        position a few tens of metres away."""
        if self.rng.random() >= REPEAT_CALLER.get(call.category.top, 0.0):
            return None
        body = dict(call.body)
        body["caller_phone"] = self.phone()
        body["caller_name"] = self.caller_name()
        body["description"] = self.description(call.category)
        body["lat"] = round(body["lat"] + self.rng.uniform(-0.0004, 0.0004), 6)
        body["lon"] = round(body["lon"] + self.rng.uniform(-0.0004, 0.0004), 6)
        return Call(body, call.category, f"demo-{uuid.uuid4()}")

    def call(self) -> Call:
        category = self.pick_category()
        address, lat, lon = self.location()
        body: dict[str, Any] = {
            "channel": self.channel(category),
            "caller_phone": self.phone(),
            "caller_name": self.caller_name(),
            "address": address,
            "lat": lat,
            "lon": lon,
            "category_code": category.code,
            "description": self.description(category),
        }
        # A fresh key per call (not from the seeded rng): a re-run on the same database with the
        # same seed must not be mistaken for a retry of an old call.
        return Call(body, category, f"demo-{uuid.uuid4()}")


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer (connection refused, timeout)
    data: Any  # the JSON body of a 2xx answer, else None


class Seat:
    """One person at one seat: their own HTTP client, login token and X-Seat header.

    `call()` never raises for HTTP trouble: an actor logs what went wrong and carries on with the
    next action, as a person at a console would.
    """

    def __init__(self, base_url: str, username: str, seat: str, password: str = DEMO_PASSWORD,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.username = username
        self.stopping = stopping
        self.seat = seat
        self.password = password
        self.unit_id: int | None = None
        self.client = httpx.AsyncClient(base_url=base_url + API, timeout=60, headers={"X-Seat": seat})

    async def login(self) -> None:
        r = await self.client.post("/auth/token", data={"username": self.username, "password": self.password})
        r.raise_for_status()
        body = r.json()
        self.unit_id = body.get("unit_id")
        self.client.headers["Authorization"] = f"Bearer {body['access_token']}"

    async def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """JSON of a 2xx answer, else None (after logging at a level that matches the cause)."""
        return (await self.send(method, path, what, **kwargs)).data

    async def send(self, method: str, path: str, what: str, **kwargs: Any) -> Reply:
        """Like `call()`, also telling the status (None after a transport error) for retry decisions."""
        for attempt in (1, 2):
            try:
                r = await self.client.request(method, path, **kwargs)
                if r.status_code == 401 and attempt == 1:
                    # The token expired (12 h) during a long demo: log in again and retry once.
                    log.info("%s: token rejected, logging in again", self.username)
                    await self.login()
                    continue
            except httpx.HTTPError as exc:
                # While the server shuts down (Ctrl-C) a refused connection is expected, not news.
                level = logging.DEBUG if self.stopping() else logging.WARNING
                log.log(level, "%s: %s failed: %s: %s", self.username, what, type(exc).__name__, exc)
                return Reply(None, None)
            if r.is_success:
                return Reply(r.status_code, r.json())
            detail = _detail(r)
            if r.status_code == 409:
                # Someone else got there first (a unit taken by another dispatch, an instruction
                # withdrawn): normal in a busy centre.
                log.info("%s: %s not done (409): %s", self.username, what, detail)
            elif r.status_code >= 500:
                log.error("%s: %s: server error %d: %s", self.username, what, r.status_code, detail)
            else:
                log.warning("%s: %s refused (%d): %s", self.username, what, r.status_code, detail)
            return Reply(r.status_code, None)
        raise AssertionError("unreachable: the second attempt always returns")

    async def close(self) -> None:
        await self.client.aclose()


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail"))
    except (ValueError, AttributeError):
        return r.text[:200]


@dataclass
class UnitInfo:
    id: int
    call_sign: str
    type: str


# Instruction statuses a crew can pick up again after a restart (a signed order not yet answered).
RESUMABLE = ("signed", "en_route", "on_scene", "handled")


class Simulator:
    """The people of the demo command centre, each an asyncio task driving the API."""

    def __init__(self, base_url: str, rate_per_min: float, *, speed: float = SPEED, seed: int | None = None,
                 tree: CategoryTree | None = None, stopping: Callable[[], bool] = lambda: False) -> None:
        self.base_url = base_url
        self.stopping = stopping
        self.rate_per_min = rate_per_min
        self.speed = speed
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
        self.tree = tree or categories()
        self.city = DemoCity(self.tree, self._rng("call_taker"))
        self.stats: Counter[str] = Counter()
        self.result_codes: dict[str, str] = {}
        self.seats: list[Seat] = []
        self.crews: list[tuple[UnitInfo, Seat]] = []

    def _rng(self, who: str) -> random.Random:
        # One generator per actor: the call stream stays reproducible for a seed however the
        # other actors' timings interleave.
        return random.Random(f"{self.seed}:{who}")

    def _seat(self, username: str, seat: str) -> Seat:
        s = Seat(self.base_url, username, seat, stopping=self.stopping)
        self.seats.append(s)
        return s

    async def sleep(self, sim_seconds: float, floor: float = 0.0) -> None:
        """Sleep for simulated seconds, compressed by `speed`."""
        await asyncio.sleep(max(sim_seconds / self.speed, floor))

    async def start(self) -> None:
        """Log every actor in and learn which officer account belongs to which unit."""
        self.call_taker = self._seat("jiejing", "JJ-01")
        self.dispatcher = self._seat("diaodu", "DD-01")
        self.commander = self._seat("zhihui", "ZH-01")
        # Seat ids go into an HTTP header, so they are ASCII: JJ = 接警席, DD = 调度席, ZH = 指挥席.
        # Desk roles may record a radio-only unit's steps on its behalf (代签收); a separate seat
        # name keeps those entries apart in the timeline and the audit log.
        self.radio = self._seat("diaodu", "DD-01-radio")
        admin = Seat(self.base_url, "admin", "ADMIN-01")
        try:
            for seat in (self.call_taker, self.dispatcher, self.commander, self.radio, admin):
                await seat.login()
            users = (await admin.client.get("/users")).raise_for_status().json()
        finally:
            await admin.close()
        codes = await self.dispatcher.client.get("/instructions/result-codes")
        self.result_codes = codes.raise_for_status().json()
        units = (await self.dispatcher.client.get("/units")).raise_for_status().json()
        officer_of = {u["unit_id"]: u["username"] for u in users
                      if u["role"] == Role.OFFICER.value and u["unit_id"] is not None and u["active"]}
        for u in units:
            info = UnitInfo(u["id"], u["call_sign"], u["type"])
            username = officer_of.get(info.id)
            if username is None:
                self.crews.append((info, self.radio))
                continue
            seat = self._seat(username, f"phone-{username}")
            await seat.login()
            if seat.unit_id != info.id:
                log.warning("%s is attached to unit %s, not %s", username, seat.unit_id, info.id)
            self.crews.append((info, seat))
        log.info("simulator ready (seed %d): %d units, %d with an officer phone, %d by radio", self.seed,
                 len(self.crews), sum(1 for _, s in self.crews if s is not self.radio),
                 sum(1 for _, s in self.crews if s is self.radio))

    async def run(self) -> None:
        await self.start()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._forever("call taker", self.call_taker_loop))
            tg.create_task(self._forever("dispatcher", self.dispatcher_loop))
            tg.create_task(self._forever("commander", self.commander_loop))
            for unit, seat in self.crews:
                tg.create_task(self._forever(f"crew {unit.call_sign}", partial(self._crew_loop, unit, seat)))

    async def _forever(self, name: str, actor: Callable[[], Awaitable[None]]) -> None:
        """Run an actor's loop; an unexpected bug is logged and the actor starts over, so one
        failure does not stop the whole demo."""
        while True:
            try:
                await actor()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: unexpected failure; carrying on", name)
                await asyncio.sleep(1)

    async def close(self) -> None:
        for seat in self.seats:
            await seat.close()
        summary = ", ".join(f"{k}={v}" for k, v in sorted(self.stats.items()))
        log.info("demo summary: %s", summary or "nothing happened")

    # 接警 -----------------------------------------------------------------------------------

    async def call_taker_loop(self) -> None:
        """Poisson arrivals at `rate_per_min` (wall clock, so `--rate` means what it says)."""
        await self.divert_leftovers()
        if self.rate_per_min <= 0:
            await asyncio.Event().wait()  # no new calls: the others just work off what is open
        loop = asyncio.get_running_loop()
        rng = self.city.rng
        next_at = loop.time()
        # Each call is handled in its own task, so a call still being talked through (a 12345
        # diversion) does not hold back the next caller: arrivals stay Poisson, not bunched.
        async with asyncio.TaskGroup() as calls:
            while True:
                next_at += rng.expovariate(self.rate_per_min / 60.0)
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                # All random draws happen here, in arrival order, so a seed gives the same calls.
                call = self.city.call()
                talk_s = rng.uniform(5, 20)  # explaining 12345 to a non-police caller
                calls.create_task(self.take_call(call, talk_s))
                repeat = self.city.repeat_of(call)
                if repeat is not None:
                    calls.create_task(self.take_call(repeat, talk_s, after_s=rng.uniform(20, 120)))

    async def divert_leftovers(self) -> None:
        """Divert non-police calls an earlier run left undiverted (stopped mid-call); the dispatcher
        never takes them, so they would stay open for ever."""
        received = await self.call_taker.call("GET", "/incidents", "list new incidents",
                                              params={"status": "received", "limit": 1000})
        for incident in received or []:
            category = self.tree.get(incident["category_code"])
            if category is not None and not category.police:
                await self.divert(incident, category)

    async def divert(self, incident: dict[str, Any], category: Category) -> None:
        note = f"非警务事项（{category.name}），已告知来电人并转12345市民服务热线"
        out = await self.call_taker.call("POST", f"/incidents/{incident['id']}/divert", "divert to 12345",
                                         json={"note": note})
        if out is not None:
            self.stats["diverted"] += 1
            log.info("分流 %s → 12345", incident["number"])

    async def analyse(self, call: Call) -> dict[str, Any] | None:
        """What the intake form shows while the call-taker types (智能接警)."""
        b = call.body
        body = {"text": b["description"], "phone": b["caller_phone"], "address": b["address"], "lat": b["lat"],
                "lon": b["lon"]}
        out = await self.call_taker.call("POST", "/intake/analyze", "analyse call", json=body)
        if out is None:
            return None
        self.stats["analysed"] += 1
        cls = out.get("classification") or {}
        if cls.get("top_category") == call.category.top:
            self.stats["type_suggestion_right"] += 1
        return out

    async def take_call(self, call: Call, talk_s: float, after_s: float = 0.0) -> None:
        seat = self.call_taker
        if after_s:
            await self.sleep(after_s)
        analysis = await self.analyse(call)
        for attempt in range(3):
            # The same Idempotency-Key on a retry: if the first attempt was recorded but the
            # answer lost, the server returns that incident instead of recording the call twice.
            reply = await seat.send("POST", "/incidents", "record call", json=call.body,
                                    headers={"Idempotency-Key": call.idempotency_key})
            if reply.status is not None and reply.status < 500:
                break  # recorded, or refused for a reason a retry would not change
            await asyncio.sleep(0.5 * (attempt + 1))
        incident = reply.data
        if incident is None:
            return
        self.stats["calls"] += 1
        log.info("接警 %s %s %s @ %s", incident["number"], incident["category_label"], call.body["channel"],
                 call.body["address"])
        dup = next((d for d in (analysis or {}).get("duplicates", []) if d["score"] >= MERGE_SCORE), None)
        if dup is not None:
            merged = await seat.call("POST", f"/incidents/{incident['id']}/merge", "merge duplicate call",
                                     json={"into_id": dup["id"]})
            if merged is not None:
                self.stats["merged"] += 1
                log.info("合并 %s → %s (重复报警, score %.2f)", incident["number"], dup["number"], dup["score"])
                return
        if not call.category.police:
            await self.sleep(talk_s)
            await self.divert(incident, call.category)

    # 派警 -----------------------------------------------------------------------------------

    def wanted_types(self, code: str) -> tuple[str, ...]:
        """Unit types the category asks for, from the finest level that names any."""
        for node in reversed(self.tree.path(code)):
            if node.units:
                return node.units
        return ()

    def choose_unit(self, incident: dict[str, Any], free: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """Nearest free unit of a type the category wants; else the nearest patrol car; else a foot
        patrol close by (better someone on foot in ten minutes than nobody)."""
        located = [u for u in free if u["lat"] is not None and u["lon"] is not None]
        wanted = set(self.wanted_types(incident["category_code"]))
        suitable = [u for u in located if u["type"] in wanted]
        patrols = [u for u in located if u["type"] == "patrol"]
        lat, lon = incident["lat"], incident["lon"]
        if lat is None or lon is None:
            pool = suitable or patrols
            return pool[0] if pool else None  # no location: whoever is free

        def dist(u: dict[str, Any]) -> float:
            return haversine_m(u["lat"], u["lon"], lat, lon)

        walkers = [u for u in located if u["type"] == "foot" and dist(u) <= FOOT_RADIUS_M]
        for pool in (suitable, patrols, walkers):
            if pool:
                return min(pool, key=dist)
        return None

    async def road_choice(self, seat: Seat, incident: dict[str, Any],
                          free: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, float | None]:
        """The server's road-time recommendation, if it has one for a still-free unit."""
        if incident["lat"] is None:
            return None, None
        rec = await seat.call("GET", f"/incidents/{incident['id']}/recommendations", "recommend",
                              params={"k": 1, "routes": "false"})
        if not rec or rec.get("method") != "road":
            return None, None
        free_by_id = {u["id"]: u for u in free}
        for r in rec["units"]:
            if r["status"] == "ok" and r["unit_id"] in free_by_id:
                return free_by_id[r["unit_id"]], r["eta_s"]
        return None, None

    async def dispatcher_loop(self) -> None:
        seat = self.dispatcher
        rng = self._rng("dispatcher")
        waiting: set[int] = set()  # incidents already reported as waiting for a unit
        while True:
            await self.sleep(4, floor=MIN_POLL_S)
            received = await seat.call("GET", "/incidents", "list new incidents",
                                       params={"status": "received"})
            if not received:
                continue
            # 急 first, then level 1 (most serious) first, then oldest first.
            received.sort(key=lambda i: (not i["urgent"], i["level"], i["received_at"]))
            free = await seat.call("GET", "/units", "list free units", params={"status": "available"})
            if free is None:
                continue
            for incident in received:
                category = self.tree.get(incident["category_code"])
                if category is not None and not category.police:
                    continue  # the call taker diverts it to 12345
                # 辅助指挥: the fastest suitable unit by road; straight-line rules only as a fallback.
                unit, eta = await self.road_choice(seat, incident, free)
                unit = unit or self.choose_unit(incident, free)
                if unit is None:
                    if incident["id"] not in waiting:
                        waiting.add(incident["id"])
                        log.info("派警 %s: no suitable unit free, will retry", incident["number"])
                    continue
                await self.sleep(rng.uniform(3, 10))  # reads the incident, checks by radio
                out = await seat.call("POST", f"/incidents/{incident['id']}/dispatch", "dispatch",
                                      json={"unit_ids": [unit["id"]]})
                free = [u for u in free if u["id"] != unit["id"]]
                if out is None:
                    continue  # e.g. 409: the unit or the incident changed meanwhile; next round
                waiting.discard(incident["id"])
                self.stats["dispatched"] += 1
                log.info("派警 %s → %s (%.0f m%s)", incident["number"], unit["call_sign"],
                         haversine_m(unit["lat"], unit["lon"], incident["lat"], incident["lon"])
                         if incident["lat"] is not None else float("nan"),
                         f", road ETA {eta:.0f} s" if eta is not None else ", straight line")

    # 处警 (field) ---------------------------------------------------------------------------

    async def _crew_loop(self, unit: UnitInfo, seat: Seat) -> None:
        rng = self._rng(f"crew:{unit.id}")
        # Phones poll out of step with each other, not all in the same millisecond.
        await asyncio.sleep(rng.uniform(0, max(MIN_POLL_S, 3 / self.speed)))
        # Orders left half-done by an earlier run on the same database (Ctrl-C mid-call) are
        # finished first; otherwise the unit would stay busy for ever.
        unfinished = await seat.call("GET", "/instructions", f"{unit.call_sign} resume orders",
                                     params={"unit_id": unit.id, "status": list(RESUMABLE)})
        for instr in self._own_orders(unit, unfinished):
            await self.handle_instruction(unit, seat, instr, rng)
        while True:
            sent = await seat.call("GET", "/instructions", f"{unit.call_sign} check orders",
                                   params={"unit_id": unit.id, "status": "sent"})
            for instr in self._own_orders(unit, sent):
                await self.handle_instruction(unit, seat, instr, rng)
            await self.sleep(3, floor=MIN_POLL_S)

    @staticmethod
    def _own_orders(unit: UnitInfo, instructions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        # 处警 orders only, oldest first: 研判/核查 desk instructions are not for the patrol simulation.
        mine = [i for i in instructions or []
                if i["kind"] == "dispatch" and i["incident_id"] is not None and i["unit_id"] == unit.id]
        return sorted(mine, key=lambda i: i["id"])

    async def handle_instruction(self, unit: UnitInfo, seat: Seat, instr: dict[str, Any],
                                 rng: random.Random) -> None:
        """签收 → 出发 → 到场 → 处置完毕 → 反馈, each step one API call like the phone app.

        Starts from the instruction's current status, so a resumed order continues where it stopped.
        """
        iid, name, status = instr["id"], unit.call_sign, instr["status"]

        async def step(new_status: str) -> bool:
            done = await seat.call("POST", f"/instructions/{iid}/status", f"{name} {new_status}",
                                   json={"status": new_status})
            return done is not None

        if status == "sent":
            await self.sleep(rng.uniform(5, 40))  # picks up the phone, reads the order
            if await seat.call("POST", f"/instructions/{iid}/acknowledge", f"{name} sign") is None:
                return
            self.stats["signed"] += 1
            log.info("签收 %s instruction %d", name, iid)
            status = "signed"
        incident = await seat.call("GET", f"/incidents/{instr['incident_id']}", f"{name} read incident")
        if incident is None:
            return
        if status == "signed":
            if not await step("en_route"):
                return
            status = "en_route"
        if status == "en_route":
            await self.drive(unit, seat, incident, rng)
            if not await step("on_scene"):
                return
            log.info("到场 %s at %s", name, incident["number"])
            status = "on_scene"
        if status == "on_scene":
            low, high = HANDLE_MINUTES.get(incident["category_code"][:2], (3, 8))
            await self.sleep(60 * rng.uniform(low, high) * TYPE_HANDLE_FACTOR.get(unit.type, 1.0))
            if not await step("handled"):
                return
        await self.sleep(rng.uniform(20, 60))  # writes up the feedback on the phone
        code = self.result_code(incident["category_code"], rng)
        text = FEEDBACK_TEXT.get(code, FEEDBACK_TEXT["other"])
        if await seat.call("POST", f"/instructions/{iid}/feedback", f"{name} feedback",
                           json={"result_code": code, "text": f"{name}：{text}"}) is None:
            return
        self.stats["feedback"] += 1
        log.info("反馈 %s %s: %s", name, incident["number"], self.result_codes.get(code, code))

    def result_code(self, category_code: str, rng: random.Random) -> str:
        """A plausible 处置结果 for the category, among the codes the server accepts."""
        known = [c for c in RESULTS_BY_TOP.get(category_code[:2], ()) if c in self.result_codes]
        if rng.random() < 0.08:
            known = [c for c in ("false_alarm", "no_trace") if c in self.result_codes] or known
        if not known:
            known = ["resolved"] if "resolved" in self.result_codes else sorted(self.result_codes)
        return rng.choice(known)

    async def drive(self, unit: UnitInfo, seat: Seat, incident: dict[str, Any], rng: random.Random) -> None:
        """Move the unit in a straight line to the scene, reporting its position every few seconds."""
        here = await seat.call("GET", f"/units/{unit.id}", f"{unit.call_sign} own position")
        if (here is None or here["lat"] is None or incident["lat"] is None
                or incident["lon"] is None or here["lon"] is None):
            await self.sleep(rng.uniform(120, 300))  # no coordinates to animate: just the time
            return
        lat, lon = here["lat"], here["lon"]
        dest = (incident["lat"], incident["lon"])
        total = haversine_m(lat, lon, *dest)
        mps = SPEED_KMH.get(unit.type, 30.0) / 3.6 * rng.uniform(0.8, 1.1)  # traffic lights, jams
        loop = asyncio.get_running_loop()
        covered = 0.0
        last = loop.time()
        while covered < total:
            await self.sleep(POSITION_TICK_S, floor=MIN_TICK_S)
            now = loop.time()
            # Distance from the wall time actually elapsed, so a slow tick does not slow the unit.
            covered = min(total, covered + mps * (now - last) * self.speed)
            last = now
            f = covered / total
            pos = {"lat": round(lat + f * (dest[0] - lat), 6), "lon": round(lon + f * (dest[1] - lon), 6)}
            await seat.call("PUT", f"/units/{unit.id}/position", f"{unit.call_sign} position", json=pos)

    # 结案 -----------------------------------------------------------------------------------

    async def commander_loop(self) -> None:
        seat = self.commander
        rng = self._rng("commander")
        while True:
            await self.sleep(10, floor=MIN_POLL_S)
            handled = await seat.call("GET", "/incidents", "list handled incidents",
                                      params={"status": "handled"})
            for incident in sorted(handled or [], key=lambda i: i["handled_at"] or ""):
                await self.sleep(rng.uniform(5, 30))  # reads the feedback before closing
                result = f"经审核，出警单位已反馈处置结果，{incident['category_label']}警情予以结案。"
                out = await seat.call("POST", f"/incidents/{incident['id']}/close", "close",
                                      json={"result": result})
                if out is not None:
                    self.stats["closed"] += 1
                    log.info("结案 %s", incident["number"])


# Server and lifecycle --------------------------------------------------------------------------


async def prepare_database(url: str) -> list[str]:
    """Migrate, seed (idempotent) and return the officer usernames for the banner."""
    if is_sqlite(url):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    await upgrade(url)
    db = Database(url)
    try:
        async with db.tx() as session:
            created = await seed_demo(session)
            officers = (await session.execute(
                select(User.username).where(User.role == Role.OFFICER.value).order_by(User.username)
            )).scalars().all()
    finally:
        await db.dispose()
    log.info("demo data %s", "seeded" if created.get("created") else "already present")
    return list(officers)


def banner(base_url: str, database_url: str, officers: Sequence[str], rate_per_min: float, minutes: float,
           speed: float) -> str:
    accounts = "\n".join(f"    {name:<8} {full}" for name, full, _role in DEMO_USERS)
    officer_range = f"{officers[0]} … {officers[-1]}" if officers else "(none)"
    stop = f"{minutes:g} 分钟后自动停止 / stops after {minutes:g} min" if minutes > 0 else \
        "按 Ctrl-C 停止 / press Ctrl-C to stop"
    line = "=" * 78
    where = database_url.split("///")[-1] if is_sqlite(database_url) else database_url.split("@")[-1]
    return f"""
{line}
 zhihui 情指行一体化平台 · 演示指挥中心 (福田)   demo command centre (Futian, Shenzhen)
{line}
 指挥中心 console:   {base_url}/      (log in as diaodu, zhihui or jiejing)
 民警手机 phone page: {base_url}/m     (log in as an officer, e.g. {officers[0] if officers else "mj101"})
 研判统计 statistics: {base_url}/stats (log in as yanpan or lingdao)
 情报研判 intelligence: {base_url}/intel (log in as yanpan: key persons, hits and their orders, relations …)
 接口文档 API docs:  {base_url}/api/v1/docs
 数据库 database:    {where}

 演示账号 demo accounts — 密码 password: {DEMO_PASSWORD}
{accounts}
    {officer_range:<8} 各警组民警 one officer per unit (警务通 phone)

 模拟内容 simulated (all through the HTTP API, each person with their own login and seat):
  · 接警员 jiejing records ~{rate_per_min:g} calls/min in central Futian (类别 from the category tree,
    caller mobile, street address, coordinates) and diverts non-police calls to 12345;
  · 调度员 diaodu sends the nearest free suitable unit (派警);
  · 民警 mjXXX sign (签收), drive to the scene with live positions, handle it and give 反馈;
    traffic and fire units answer by radio through the dispatcher seat;
  · 指挥长 zhihui closes (结案) incidents once every unit has given feedback.
  time factor 速度 ×{speed:g};  {stop}
{line}
"""


async def run_async(settings: Settings, host: str, port: int, rate_per_min: float, minutes: float,
                    speed: float = SPEED, seed: int | None = None, *,
                    log_config: dict[str, Any] | str | None = uvicorn.config.LOGGING_CONFIG,
                    show_banner: bool = True) -> int:
    """Prepare the database, serve the API and run the simulator until `minutes` pass (0 = until
    the server stops, e.g. on Ctrl-C). Returns the exit code.

    `log_config=None` leaves logging alone (tests capture uvicorn's records through the root logger).
    """
    try:
        tree = categories()
    except (OSError, ValueError) as exc:
        log.error("the incident category tree cannot be loaded (%s); the demo needs it", exc)
        return 1
    officers = await prepare_database(settings.database_url)
    from zhihui.intel.demo import seed_intel

    try:
        await seed_intel(settings)
    except Exception:  # the command centre runs without its 情报 demo data rather than not at all
        log.exception("the 情报 demo data could not be prepared")

    # Access logs are off: the simulator's own log says what happens in words, and position reports
    # every few seconds would drown the console.
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="info",
                            log_config=log_config, access_log=False)
    server = uvicorn.Server(config)
    serve_task = asyncio.create_task(server.serve(), name="uvicorn")
    while not server.started and not serve_task.done():  # noqa: ASYNC110  (uvicorn exposes only a flag)
        await asyncio.sleep(0.05)
    if serve_task.done():
        log.error("the API server did not start")
        return 1
    bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{bound}"
    if show_banner:
        print(banner(base_url, settings.database_url, officers, rate_per_min, minutes, speed), flush=True)

    sim = Simulator(base_url, rate_per_min, speed=speed, seed=seed, tree=tree,
                    stopping=lambda: server.should_exit)
    sim_task = asyncio.create_task(sim.run(), name="simulator")
    rc = 0
    try:
        await asyncio.wait({serve_task, sim_task}, timeout=minutes * 60 if minutes > 0 else None,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled = server.should_exit  # uvicorn sets it on Ctrl-C / SIGTERM
        # Stop the people before the server, so that no request is cut off by the shutdown.
        sim_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({sim_task})  # unlike `await sim_task`, does not re-raise its failure
        failure = None if sim_task.cancelled() else sim_task.exception()
        await sim.close()
        server.should_exit = True
        await serve_task
    # A simulator that lost the server to a Ctrl-C during its start-up did not fail.
    if failure is not None and not signalled:
        log.error("simulator stopped: %s: %s", type(failure).__name__, failure, exc_info=failure)
        rc = 1
    log.info("demo stopped")
    return rc


def run_demo(host: str, port: int, rate_per_min: float, minutes: float, *, speed: float = SPEED,
             seed: int | None = None) -> int:
    """Entry point of `zhihui demo` (ZHIHUI_DATABASE_URL is set by the CLI)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    settings = load_settings()
    try:
        return asyncio.run(run_async(settings, host, port, rate_per_min, minutes, speed, seed))
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled after a clean shutdown; that is a normal stop.
        print("已停止 / stopped", flush=True)
        return 0
    except SystemExit as exc:  # uvicorn exits when it cannot bind the port
        print(f"error: the API server could not start on {host}:{port}", flush=True)
        return int(exc.code) if isinstance(exc.code, int) and exc.code else 1
