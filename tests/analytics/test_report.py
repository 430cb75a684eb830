"""治安形势评估报告 (daily / monthly situation report): figures against stats, HTML, PDF, API and CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import zlib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import World, incident_body
from zhihui import cli
from zhihui.analytics import report as situation
from zhihui.analytics import stats
from zhihui.core.auth import Actor
from zhihui.core.clock import SHANGHAI
from zhihui.core.orgs import Org, forget_jurisdictions
from zhihui.dispatch.models import Unit
from zhihui.incidents.schemas import IncidentCreate
from zhihui.incidents.service import create_incident, divert_incident

DAY = date(2026, 3, 4)  # a Wednesday: the latest complete week by its end is 23 Feb – 1 Mar
STATION_A = {"type": "Polygon", "coordinates": [[[114.00, 22.50], [114.05, 22.50], [114.05, 22.56],
                                                   [114.00, 22.56], [114.00, 22.50]]]}
STATION_B = {"type": "Polygon", "coordinates": [[[114.05, 22.50], [114.10, 22.50], [114.10, 22.56],
                                                   [114.05, 22.56], [114.05, 22.50]]]}
WHERE = {"A": (22.53, 114.02), "B": (22.53, 114.08), None: (22.60, 114.07)}  # None: outside every 辖区


def bj(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), SHANGHAI)


# (received, category, station, diverted to 12345)
PLAN: list[tuple[datetime, str, str | None, bool]] = [
    *[(bj(DAY, 9 + i), "0201", "A", False) for i in range(1, 4)],  # 9:00 is created through the API
    (bj(DAY, 14), "0105", "A", False),
    (bj(DAY, 10), "0105", "B", False), (bj(DAY, 20), "0105", "B", False), (bj(DAY, 23, 30), "0402", "B", False),
    (bj(DAY, 21), "0201", None, False),
    (bj(DAY, 22), "020803", "B", True),
    # the day before (环比)
    (bj(DAY - timedelta(days=1), 21), "0201", "A", False), (bj(DAY - timedelta(days=1), 22), "0201", "A", False),
    (bj(DAY - timedelta(days=1), 8), "0105", "B", False),
    # a fight in A at 21:00 on each day of the week 23 Feb – 1 Mar: a 四色预警 and A's patrol hours
    *[(bj(DAY - timedelta(days=k), 21), "0201", "A", False) for k in range(3, 10)],
    # February's others, 30 January (inside the 31 days before 1 March, outside February), and the same day a
    # year earlier (同比)
    (bj(date(2026, 2, 10), 15), "0402", "B", False), (bj(date(2026, 2, 11), 15), "0105", "B", False),
    (bj(date(2026, 1, 30), 15), "0402", "B", False),
    *[(bj(date(2025, 3, 4), 10 + i), "0201", "A", False) for i in range(5)],
]


async def seed(app: Any, client: httpx.AsyncClient, world: World) -> dict[str, int]:
    """Two stations with 辖区, the PLAN through the service layer, and one fight through the API that
    福田巡01 (a unit of station A) is dispatched to, for the KPI table."""
    db = app.state.db
    async with db.tx() as session:
        bureau = Org(code="440304000000", name="测试市公安局", kind="bureau")
        session.add(bureau)
        await session.flush()
        a = Org(code="440304510000", name="A派出所", kind="station", parent_id=bureau.id, lat=22.53, lon=114.02,
                boundary=STATION_A)
        b = Org(code="440304520000", name="B派出所", kind="station", parent_id=bureau.id, lat=22.53, lon=114.08,
                boundary=STATION_B)
        session.add_all([a, b])
        await session.flush()
        ids = {"A": a.id, "B": b.id}
        await session.execute(update(Unit).where(Unit.id == world.units["福田巡01"]).values(org_id=a.id))
    forget_jurisdictions(db)
    actor, settings = Actor.system(), app.state.settings
    for n, (at, code, station, divert) in enumerate(PLAN):
        lat, lon = WHERE[station]
        body = IncidentCreate(channel="110", caller_phone=f"1380013{n:04d}", lat=lat + n * 1e-4, lon=lon,
                              category_code=code, description="测试警情", received_at=at)
        incident, _ = await create_incident(db, settings, actor, body, f"report-test-{n}")
        if divert:
            async with db.tx() as session:
                await divert_incident(session, actor, incident.id, "转12345")
    r = await client.post("/api/v1/incidents", json=incident_body(category_code="0201", lat=22.52, lon=114.01,
                                                                  received_at=bj(DAY, 9).isoformat()),
                          headers={**world.headers["call_taker"], "Idempotency-Key": "report-test-api"})
    assert r.status_code == 201, r.text
    assert r.json()["jurisdiction_org_id"] == ids["A"]
    r = await client.post(f"/api/v1/incidents/{r.json()['id']}/dispatch", json={"unit_ids": [world.units["福田巡01"]]},
                          headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    return ids


def planned(since: date, until: date, station: str | None = "any") -> int:
    """Incidents of the plan (plus the API one) received on Beijing days [since, until)."""
    rows = [*PLAN, (bj(DAY, 9), "0201", "A", False)]
    return sum(since <= at.date() < until and (station == "any" or s == station) for at, _, s, _ in rows)


# ------------------------------------------------------------------------------------------------ PDF text


def _pdf_objects(pdf: bytes) -> dict[int, bytes]:
    objects = {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)\s*endobj", pdf, re.S)}
    for body in list(objects.values()):
        if b"/ObjStm" in body.split(b"stream", 1)[0]:
            data = _stream(body)
            first = int(re.search(rb"/First (\d+)", body).group(1))  # type: ignore[union-attr]
            head = [int(x) for x in data[:first].split()]
            pairs = list(zip(head[::2], head[1::2], strict=True))
            for i, (num, off) in enumerate(pairs):
                end = pairs[i + 1][1] if i + 1 < len(pairs) else len(data) - first
                objects[num] = data[first + off:first + end]
    return objects


def _stream(body: bytes) -> bytes:
    m = re.search(rb"stream\r?\n(.*)\r?\nendstream", body, re.S)
    if not m:
        return b""
    return zlib.decompress(m.group(1)) if b"/FlateDecode" in body.split(b"stream", 1)[0] else m.group(1)


def _cmap(text: bytes) -> tuple[dict[int, str], int]:
    out: dict[int, str] = {}
    width = 2
    if m := re.search(rb"begincodespacerange\s*<([0-9a-fA-F]+)>", text):
        width = len(m.group(1)) // 2
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            out[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            start = int(dst, 16)
            for k, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(start + k)
    return out, width


def pdf_text(pdf: bytes) -> tuple[str, list[str]]:
    """(the text the PDF shows, decoded through its fonts' ToUnicode maps; the embedded font names).

    No PDF tool is installed here (no poppler), so this reads what WeasyPrint writes: Type0 fonts with
    ToUnicode maps, objects possibly packed in object streams, Flate-compressed content."""
    objects = _pdf_objects(pdf)
    fonts: dict[int, tuple[dict[int, str], int]] = {}
    for num, body in objects.items():
        if b"/Type /Font" in body or b"/Type/Font" in body:
            if m := re.search(rb"/ToUnicode\s+(\d+) 0 R", body):
                fonts[num] = _cmap(_stream(objects[int(m.group(1))]))
    names: dict[bytes, int] = {}  # resource name -> font, wherever the /Font dictionary sits
    for body in objects.values():
        for name, num in re.findall(rb"/([^\s/<>\[\]]+)\s+(\d+) 0 R", body.split(b"stream", 1)[0]):
            if int(num) in fonts:
                names[name] = int(num)
    text = []
    for body in objects.values():
        if b"stream" not in body:
            continue
        try:
            content = _stream(body)
        except zlib.error:
            continue
        if b" Tf" not in content:
            continue
        current: tuple[dict[int, str], int] | None = None
        for m in re.finditer(rb"/([^\s/\[\]<>()]+)\s+[-\d.]+\s+Tf|<([0-9a-fA-F]*)>|\bET\b", content):
            if m.group(1) is not None:
                current = fonts.get(names.get(m.group(1), -1))
            elif m.group(2) is not None and current is not None:
                cmap, width = current
                raw = bytes.fromhex(m.group(2).decode()) if len(m.group(2)) % 2 == 0 else b""
                text += [cmap.get(int.from_bytes(raw[i:i + width], "big"), "") for i in range(0, len(raw), width)]
            else:
                text.append("\n")
    embedded = [n.decode() for n in re.findall(rb"/FontName\s*/([^\s/<>]+)", b"\n".join(objects.values()))]
    return "".join(text), embedded


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------------------------------ tests


async def test_daily_report_figures_match_stats(app: Any, client: httpx.AsyncClient, world: World) -> None:
    ids = await seed(app, client, world)
    since, until, _ = situation.period_window("daily", DAY)
    async with app.state.db.read() as session:
        rep = await situation.build_report(session, period="daily", day=DAY)
        by_cat = await stats.statistics(session, since, until, "category")
        by_area = await stats.statistics(session, since, until, "jurisdiction")
        four = await stats.area_warnings(session, bj(date(2026, 2, 23), 0))
        kpis = await stats.kpis(session, since, until, "station")
    t = rep.totals
    # Independently of stats: the plan holds 10 that day, 3 the day before, 5 a year earlier.
    assert (t["total"], t["previous_total"], t["year_before_total"]) == (10, 3, 5)
    assert t["total"] == planned(DAY, DAY + timedelta(days=1))
    assert t["previous_total"] == planned(DAY - timedelta(days=1), DAY)
    for k in ("total", "previous_total", "mom_change", "year_before_total", "yoy_change"):
        assert t[k] == by_cat[k], k
    assert t["mom_change"] == pytest.approx(7 / 3, abs=1e-4) and t["yoy_change"] == 1.0
    assert t["diverted"] == 1 and t["police"] == 9 and t["located"] == 10
    assert [(c["label"], c["count"]) for c in rep.categories] == [("治安", 6), ("刑事", 3), ("交通事故", 1)]
    assert [c["count"] for c in rep.categories] == [g["count"] for g in by_cat["groups"]]
    assert [(x["label"], x["count"]) for x in rep.types[:2]] == [("治安/打架斗殴", 5), ("刑事/盗窃", 3)]
    assert [(a["label"], a["count"]) for a in rep.areas] == [("A派出所", 5), ("B派出所", 4), ("辖区外/未定位", 1)]
    assert [a["count"] for a in rep.areas] == [g["count"] for g in by_area["groups"]]
    assert rep.areas[0]["key"] == str(ids["A"]) and rep.areas[0]["top_type"] == "治安/打架斗殴"
    # A's 30 days: fights at 21:00 on 8 days, one at 22:00, four in the morning, a theft at 14:00 (14 in all):
    # 19–23 holds 9 of them, the earliest of the equal four-hour windows.
    assert rep.areas[0]["peak"]["label"] == "19–23 时" and rep.areas[0]["peak"]["share"] == pytest.approx(9 / 14,
                                                                                                         abs=1e-4)
    assert rep.hours[9] == 1 and rep.hours[21] == 1 and sum(rep.hours) == 10
    assert len(rep.trend) == 30 and rep.trend[-1] == {"day": DAY, "count": 10}
    assert rep.trend[-2]["count"] == 3 and rep.trend[-3]["count"] == 0
    # 四色预警 of the week 23 Feb – 1 Mar, the one stats grades; A's seven fights are a warning.
    assert rep.warnings["week_label"] == "2月23日—3月1日"
    assert rep.warnings["warnings"] == [w for w in four["warnings"] if w["level"] != "green"]
    top = rep.warnings["warnings"][0]
    assert (top["area"], top["category"], top["observed"]) == ("A派出所", "治安", 7)
    assert top["level"] in ("orange", "red")
    assert rep.warnings["countermeasures"] == four["countermeasures"]
    assert [k["label"] for k in rep.kpi_stations] == [g["label"] for g in kpis["groups"]] == ["A派出所"]
    assert rep.kpi_overall is not None and rep.kpi_overall["incidents"] == 10
    # Countermeasures: the warning's own, then patrol focus for A at its peak hours.
    assert rep.countermeasures[0] == four["countermeasures"][0]
    assert any(c.startswith("A派出所：本日警情 5 起") and "19–23 时" in c for c in rep.countermeasures), \
        rep.countermeasures
    assert rep.summary.startswith("2026年3月4日（周三），本日共接报警情 10 起，环比上升 233.3%（前一日 3 起），"
                                  "同比上升 100.0%（去年同日 5 起）。")
    assert "高发区域：A派出所（5 起" in rep.summary

    page = rep.html()
    assert page.startswith("<!DOCTYPE html>") and "治安形势评估报告（日报）" in page
    assert not re.search(r"https?://", page), re.search(r".{60}https?://.{60}", page)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)  # nothing to fetch, not even a file
    assert page.count('src="data:image/png;base64,') == 4  # categories, map, hours, trend
    assert "@page" in page and "size: A4" in page
    assert "A派出所" in page and f'class="chip {top["level"]}"' in page
    assert rep.summary in page

    pdf = rep.pdf()
    assert pdf.startswith(b"%PDF")
    text, fonts = pdf_text(pdf)
    flat = squash(text)
    for phrase in ("治安形势评估报告（日报）", "本日共接报警情10起", "高发区域", "打防对策建议", "A派出所"):
        assert phrase in flat, phrase
    font = situation.cjk_font()
    assert font is not None, "fonts-noto-cjk is installed on the CI image"
    if "CJK" in font.family:
        assert any("CJK" in f for f in fonts), fonts

    js = rep.as_dict()
    assert js["totals"]["total"] == 10 and js["date"] == "2026-03-04" and js["map"] == {
        "mode": "points", "areas": 2, "points": 10}


async def test_monthly_report(app: Any, client: httpx.AsyncClient, world: World) -> None:
    await seed(app, client, world)
    async with app.state.db.read() as session:
        rep = await situation.build_report(session, period="monthly", day=date(2026, 3, 20))
        march = await stats.statistics(session, bj(date(2026, 3, 1), 0), bj(date(2026, 4, 1), 0), "category")
        feb = await stats.statistics(session, bj(date(2026, 2, 1), 0), bj(date(2026, 3, 1), 0), "category")
    t = rep.totals
    assert t["total"] == planned(date(2026, 3, 1), date(2026, 4, 1)) == march["total"] == 14
    # 环比 against February as a calendar month (8), not the 31 days before 1 March.
    assert t["previous_total"] == planned(date(2026, 2, 1), date(2026, 3, 1)) == feb["total"] == 8
    assert t["mom_change"] == 0.75
    assert t["year_before_total"] == march["year_before_total"] == 5 and t["yoy_change"] == march["yoy_change"]
    assert len(rep.trend) == 31 and sum(d["count"] for d in rep.trend) == 14
    assert rep.trend_reference == round(8 / 28, 2)
    assert rep.categories[0]["label"] == "治安" and rep.categories[0]["previous"] == 6  # February's fights
    # The latest week complete by 31 March: 23–29 March.
    assert rep.warnings["week_label"] == "3月23日—3月29日"
    assert rep.summary.startswith("2026年3月，本月共接报警情 14 起，环比上升 75.0%（上月 8 起）")
    page = rep.html()  # its PDF is fetched through the API below
    assert "治安形势评估报告（月报）" in page and not re.search(r"https?://", page)
    assert page.count('src="data:image/png;base64,') == 4
    assert rep.filename("pdf") == "situation-monthly-2026-03.pdf"


async def test_empty_day_and_empty_database(db: Any) -> None:
    async with db.read() as session:
        rep = await situation.build_report(session, period="daily", day=date(2026, 5, 1))
        month = await situation.build_report(session, period="monthly", day=date(2026, 5, 1))
    assert rep.totals["total"] == 0 and rep.categories == [] and rep.areas == [] and rep.kpi_overall is None
    assert rep.map_mode == "none" and rep.warnings["unavailable"]
    assert "未接报警情（无数据）" in rep.summary
    page = rep.html()
    assert page.count("无数据") >= 5 and "<img" not in page and "<svg" not in page
    assert not re.search(r"https?://", page)
    text, _ = pdf_text(rep.pdf())
    assert "无数据" in squash(text)
    assert month.totals["total"] == 0 and "无数据" in month.html()


async def test_report_without_a_cjk_font_still_renders(app: Any, client: httpx.AsyncClient, world: World,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    await seed(app, client, world)
    from matplotlib import font_manager

    monkeypatch.setattr(situation, "_fontconfig_candidates", list)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    situation.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="zhihui.analytics.report"):
            assert situation.cjk_font() is None
        assert "no CJK font found" in caplog.text
        async with app.state.db.read() as session:
            rep = await situation.build_report(session, period="daily", day=DAY)
        page = rep.html()
        # Charts fall back to inline SVG whose text the viewer's fonts draw; still no URL anywhere.
        assert page.count("<svg") == 4 and "data:image/png" not in page and "打架斗殴" in page
        assert not re.search(r"https?://", page)
    finally:
        situation.cjk_font.cache_clear()


async def test_report_api(app: Any, client: httpx.AsyncClient, world: World) -> None:
    await seed(app, client, world)
    url = "/api/v1/analytics/report"
    r = await client.get(url, params={"date": DAY.isoformat()}, headers=world.headers["call_taker"])
    assert r.status_code == 403
    r = await client.get(url, params={"date": "2026-02-30"}, headers=world.headers["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "date", r.text
    r = await client.get(url, params={"date": "0001-01-01"}, headers=world.headers["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "date", r.text
    r = await client.get(url, params={"period": "weekly"}, headers=world.headers["analyst"])
    assert r.status_code == 422 and "period" in r.text
    r = await client.get(url, params={"format": "docx"}, headers=world.headers["analyst"])
    assert r.status_code == 422 and "format" in r.text
    r = await client.get(url, params={"date": DAY.isoformat(), "format": "json"}, headers=world.headers["leader"])
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["total"] == 10 and r.json()["areas"][0]["label"] == "A派出所"
    r = await client.get(url, params={"date": "2026-03-10"}, headers=world.headers["inspector"])  # a quiet day
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "2026年3月10日（周二），本日未接报警情（无数据）；前一日 0 起" in r.text
    r = await client.get(url, params={"period": "monthly", "date": DAY.isoformat(), "format": "pdf"},
                         headers=world.headers["commander"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert 'attachment; filename="situation-monthly-2026-03.pdf"' in r.headers["content-disposition"]
    r = await client.get(url, params={"format": "json"}, headers=world.headers["admin"])  # default: yesterday
    assert r.status_code == 200 and r.json()["period"] == "daily"
    assert r.json()["date"] == (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()


async def test_cli_writes_the_report(app: Any, client: httpx.AsyncClient, world: World, db_url: str,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    await seed(app, client, world)
    monkeypatch.setenv("ZHIHUI_DATABASE_URL", db_url)
    out = tmp_path / "out" / "daily.html"
    # The CLI runs its own event loop: give it a thread of its own.
    code = await asyncio.to_thread(cli.main, ["analytics", "report", "--period", "daily", "--date", DAY.isoformat(),
                                              "--format", "html", "--out", str(out)])
    assert code == 0 and "本日共接报警情 10 起" in out.read_text(encoding="utf-8")
    js = tmp_path / "m.json"
    code = await asyncio.to_thread(cli.main, ["analytics", "report", "--period", "monthly", "--date", "2026-03-01",
                                              "--format", "json", "--out", str(js)])
    assert code == 0 and json.loads(js.read_text(encoding="utf-8"))["totals"]["total"] == 14
    assert str(js) in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["analytics", "report", "--date", "2026-13-01"])
    assert "not a date" in capsys.readouterr().err


async def test_many_points_become_a_grid_heat_layer(db: Any) -> None:
    async with db.read() as session:
        rep = await situation.build_report(session, period="daily", day=DAY)
    rng = random.Random(7)
    rep.map_areas = [{"id": 1, "name": "A派出所", "count": 300, "geometry": STATION_A},
                     {"id": 2, "name": "B派出所", "count": 200, "geometry": STATION_B}]
    rep.map_points = [(rng.uniform(114.0, 114.1), rng.uniform(22.5, 22.56), "治安") for _ in range(500)]
    assert rep.map_mode == "grid"
    page = rep.html()
    assert page.count('src="data:image/png;base64,') == 1 and "格网热力" in page
