"""The analyst's person look-ups (技战法) as audited operations, shared by the API and the CLI.

Each one checks its input (a bad value is an `InvalidInput` naming the field, before any worker thread
starts), runs the columnar or graph work off the event loop, and writes one audit entry with the stated
purpose (查询事由) and the size of the answer — whichever door the analyst came in by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from zhihui.core import audit
from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.config import Settings
from zhihui.core.errors import InvalidInput
from zhihui.core.store import Database
from zhihui.incidents.models import Incident
from zhihui.intel import schema, service, tactics
from zhihui.intel.normalise import id_key, phone_key, plate_key

COMPONENT = "intel"
PURPOSE_MIN, PURPOSE_MAX = 4, 200


def check_purpose(purpose: str | None) -> str:
    p = (purpose or "").strip()
    if not PURPOSE_MIN <= len(p) <= PURPOSE_MAX:
        raise InvalidInput("purpose", f"state the purpose of the look-up (查询事由), {PURPOSE_MIN}–{PURPOSE_MAX} "
                                      "characters")
    return p


def _aware(name: str, v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise InvalidInput(name, f"{name} must carry a UTC offset, e.g. 2026-11-23T00:00:00+08:00")
    return v


def check_window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    since, until = _aware("since", since), _aware("until", until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("until", "until must be after since")
    return since, until


async def _audit(db: Database, actor: Actor, action: str, target_type: str, detail: dict[str, Any]) -> None:
    async with db.tx() as session:
        audit.append(session, actor, action, component=COMPONENT, target_type=target_type, detail=detail)


async def _key_persons(db: Database, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The key-person entries among graph nodes: an associate who is himself on a list is the first lead."""
    from zhihui.intel.models import KeyPerson

    want = sorted({i for i in ids if i})
    out: dict[str, dict[str, Any]] = {}
    async with db.read() as session:
        for n in range(0, len(want), 500):
            rows = await session.execute(select(KeyPerson.id, KeyPerson.id_number, KeyPerson.name, KeyPerson.category,
                                                KeyPerson.control_level).where(
                KeyPerson.id_number.in_(want[n:n + 500]), KeyPerson.status == "active"))
            for r in rows:
                out[r.id_number] = {"id": r.id, "name": r.name, "category": r.category,
                                    "control_level": r.control_level}
    return out


def graph_kinds(kinds: Sequence[str] | str | None) -> list[str] | None:
    from zhihui.intel.graph import KINDS

    if not kinds:
        return None
    out = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    for k in out:
        if k not in KINDS:
            raise InvalidInput("kinds", f"unknown relation kind '{k}'; known: {', '.join(KINDS)}")
    return out


# --- 人员轨迹 -----------------------------------------------------------------------------------------------


async def trajectory(db: Database, settings: Settings, actor: Actor, *, purpose: str, id_number: str | None = None,
                     plate: str | None = None, phone: str | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> dict[str, Any]:
    """A person's or vehicle's records in time order, for the map."""
    purpose = check_purpose(purpose)
    keys = {"id_number": id_key(id_number)[0] if id_number else None,
            "plate": plate_key(plate) if plate else None, "phone": phone_key(phone) if phone else None}
    for name, raw in (("id_number", id_number), ("plate", plate), ("phone", phone)):
        if raw and keys[name] is None:
            raise InvalidInput(name, f"'{raw}' is not a readable {name}")
    if not any(keys.values()):
        raise InvalidInput("id_number", "give id_number, plate or phone")
    since, until = check_window(since, until)

    def run() -> list[dict[str, Any]]:
        with service.tactic_engine(settings) as eng:
            return tactics.trajectory(eng, **keys, since=since, until=until).to_pylist()

    points = await asyncio.to_thread(run)
    used = {k: v for k, v in keys.items() if v}
    await _audit(db, actor, "person.trajectory", "activity", {"purpose": purpose, **used, "records": len(points)})
    return {"keys": used, "points": points}


# --- 串并: persons present around several cases --------------------------------------------------------------


async def co_presence(db: Database, settings: Settings, actor: Actor, *, purpose: str,
                      cases: Sequence[dict[str, Any]] = (), incident_ids: Sequence[int] = (),
                      dt_minutes: float = 60, dd_m: float = 500, k: int = 2) -> dict[str, Any]:
    """Persons and vehicles recorded within Δt and Δd of at least k of the cases (given, or the incidents')."""
    purpose = check_purpose(purpose)
    if not 0 < dt_minutes <= 7 * 24 * 60:
        raise InvalidInput("dt_minutes", "dt_minutes must be in (0, 10080]")
    if not 0 < dd_m <= 20_000:
        raise InvalidInput("dd_m", "dd_m must be in (0, 20000] metres")
    if not 1 <= k <= 50:
        raise InvalidInput("k", "k must be 1–50")
    out = [dict(c) for c in cases]
    for i, c in enumerate(out):
        if c["at"].tzinfo is None:
            raise InvalidInput(f"cases.{i}.at", "at must carry a UTC offset")
    if incident_ids:
        async with db.read() as session:
            found = {i.id: i for i in (await session.execute(
                select(Incident).where(Incident.id.in_(list(incident_ids))))).scalars()}
        for n, iid in enumerate(incident_ids):
            inc = found.get(iid)
            if inc is None:
                raise InvalidInput(f"incident_ids.{n}", f"no incident {iid}")
            if inc.lat is None or inc.lon is None:
                raise InvalidInput(f"incident_ids.{n}", f"incident {iid} has no location")
            out.append({"case_id": inc.number, "at": inc.received_at, "lat": inc.lat, "lon": inc.lon})
    if not out:
        raise InvalidInput("cases", "give cases or incident_ids")

    def run() -> list[dict[str, Any]]:
        with service.tactic_engine(settings) as eng:
            return tactics.co_presence(eng, out, dt_minutes=dt_minutes, dd_m=dd_m, k=k).to_pylist()

    rows = await asyncio.to_thread(run)
    await _audit(db, actor, "person.co_presence", "activity", {
        "purpose": purpose, "cases": [c["case_id"] for c in out][:100], "found": len(rows)})
    return {"cases": len(out), "results": rows}


# --- 高危地区检索 ---------------------------------------------------------------------------------------------


async def high_risk_origin(db: Database, settings: Settings, actor: Actor, *, purpose: str,
                           prefixes: Sequence[str] | str | None = None, since: datetime, until: datetime,
                           sources: Sequence[str] | str | None = None,
                           list_code: str | None = None) -> dict[str, Any]:
    """Local activity of persons whose ID region code (GB/T 2260) starts with one of the prefixes, or with one
    of a named 高危地区名单's (`list_code`, see zhihui.intel.origins)."""
    from zhihui.intake.text.ids import region_name
    from zhihui.intel import origins

    purpose = check_purpose(purpose)
    given = prefixes.split(",") if isinstance(prefixes, str) else prefixes or []
    pre = [p.strip() for p in given if p.strip()]
    named = None
    if list_code:
        lists = origins.load_lists()
        named = lists.get(list_code)
        if named is None:
            raise InvalidInput("list", f"no 高危地区名单 '{list_code}'; known: {', '.join(lists) or 'none'}")
        pre = list(dict.fromkeys([*named.prefixes, *pre]))
    if not pre:
        raise InvalidInput("prefixes", "give region code prefixes, e.g. 4508,4509, or a list")
    for p in pre:
        if not p.isdigit() or len(p) not in (2, 4, 6):
            raise InvalidInput("prefixes", f"'{p}': region prefixes are 2, 4 or 6 digits (GB/T 2260)")
    src = [s for s in (sources.split(",") if isinstance(sources, str) else sources or []) if s] or None
    for s in src or []:
        if s not in schema.SOURCES:
            raise InvalidInput("sources", f"unknown source '{s}'; known: {', '.join(schema.SOURCES)}")
    if since is None or until is None:
        raise InvalidInput("since" if since is None else "until", "a period is required (since and until)")
    a, b = check_window(since, until)

    def run() -> list[dict[str, Any]]:
        with service.tactic_engine(settings) as eng:
            return tactics.high_risk_origin(eng, pre, since=a, until=b, sources=src).to_pylist()  # type: ignore[arg-type]

    rows = await asyncio.to_thread(run)
    await _audit(db, actor, "person.origin_search", "activity", {"purpose": purpose, "prefixes": pre,
                                                                  "list": list_code, "rows": len(rows)})
    return {"prefixes": pre, "regions": {p: region_name(p) for p in pre},
            "list": origins.list_out(named) if named else None, "rows": rows}


# --- 关系人员倒查 ----------------------------------------------------------------------------------------------


async def _graph_for(db: Database, settings: Settings, person: str, k: int,
                     kinds: Sequence[str] | str | None) -> tuple[str, Any, list[str] | None]:
    """(the person's graph node, the relation graph, the kinds) after the checks the k-hop tactics share."""
    if not 1 <= k <= 3:
        raise InvalidInput("k", "k must be 1–3 hops")
    kk = graph_kinds(kinds)
    return await service.person_key(db, person), await service.relation_graph(db, settings), kk


async def neighbourhood(db: Database, settings: Settings, actor: Actor, *, purpose: str, person: str, k: int = 2,
                        kinds: Sequence[str] | str | None = None, limit: int = 200) -> dict[str, Any]:
    """The k-hop subgraph around a person (ID number or key-person id) with each relation's evidence."""
    purpose = check_purpose(purpose)
    if not 1 <= limit <= 500:
        raise InvalidInput("limit", "limit must be 1–500")
    node, graph, kk = await _graph_for(db, settings, person, k, kinds)
    try:
        out = await asyncio.to_thread(graph.to_json, node, k, kinds=kk, limit=limit)
    except KeyError:  # a person with no relation yet: an answer ("none"), not an error
        out = {"center": node, "k": k, "total": 0, "truncated": False,
               "nodes": [{"id": node, "hops": 0, "score": 1.0}], "edges": []}
    known = await _key_persons(db, [n["id"] for n in out.get("nodes", [])])
    for n in out.get("nodes", []):
        n["key_person"] = known.get(n["id"])
    await _audit(db, actor, "person.relations", "person", {"purpose": purpose, "person": node, "k": k,
                                                            "nodes": len(out.get("nodes", []))})
    return out


async def path(db: Database, settings: Settings, actor: Actor, *, purpose: str, a: str, b: str,
               kinds: Sequence[str] | str | None = None, weighted: bool = False) -> dict[str, Any]:
    """The shortest chain of relations between two persons (fewest hops, or strongest with weighted)."""
    purpose = check_purpose(purpose)
    kk = graph_kinds(kinds)
    na, nb = await service.person_key(db, a), await service.person_key(db, b)
    graph = await service.relation_graph(db, settings)
    try:
        found = await asyncio.to_thread(graph.shortest_path, na, nb, kk, weighted=weighted)
    except KeyError:  # one of them has no relation at all
        found = None
    await _audit(db, actor, "person.relations", "person", {"purpose": purpose, "persons": [na, nb],
                                                            "found": found is not None})
    if found is None:
        return {"a": na, "b": nb, "found": False, "nodes": [], "steps": []}
    known = await _key_persons(db, list(found.nodes))
    return {"a": na, "b": nb, "found": True, "nodes": list(found.nodes), "strength": found.strength,
            "key_persons": {n: known[n] for n in found.nodes if n in known},
            "steps": [[r.to_dict() for r in step] for step in found.steps]}


async def associates_seen(db: Database, settings: Settings, actor: Actor, *, purpose: str, person: str,
                          days: float = 7, k: int = 1, kinds: Sequence[str] | str | None = None) -> dict[str, Any]:
    """"Where were this person's associates seen in the last N days": associates within k hops and their
    latest records, newest first."""
    purpose = check_purpose(purpose)
    if not 0 < days <= 365:
        raise InvalidInput("days", "days must be in (0, 365]")
    node, graph, kk = await _graph_for(db, settings, person, k, kinds)
    src = [str(f) for f in service.activity_files(settings)]
    now = utcnow()

    def run() -> list[dict[str, Any]]:
        if not src:
            return []
        con = service.activity_connection(src)
        try:
            return [s._asdict() for s in graph.associates_seen(node, con, days=days, now=now, k=k, kinds=kk)]
        except KeyError:  # no relation, so no associates
            return []
        finally:
            con.close()

    seen = await asyncio.to_thread(run)
    known = await _key_persons(db, [x["key"] for x in seen])
    for x in seen:
        x["key_person"] = known.get(x["key"])
    await _audit(db, actor, "person.associates", "person", {"purpose": purpose, "person": node, "days": days,
                                                             "found": len(seen)})
    return {"person": node, "days": days, "now": now, "sightings": seen}


# --- the records behind a relation ------------------------------------------------------------------------

RECORD_COLUMNS = ("record_id", "source", "at", "id_number", "name", "plate", "venue_code", "venue_name", "room",
                  "trip", "lat", "lon")


async def records(db: Database, settings: Settings, actor: Actor, *, purpose: str,
                  ids: Sequence[str]) -> dict[str, Any]:
    """The activity records a relation's evidence names (e.g. the two check-ins of a 同住), for the analyst to
    read the room and the night; a person look-up, audited."""
    purpose = check_purpose(purpose)
    want = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not want:
        raise InvalidInput("ids", "give the record ids (a relation's evidence)")
    if len(want) > 100:
        raise InvalidInput("ids", "at most 100 record ids at once")
    src = [str(f) for f in service.activity_files(settings)]

    def run() -> list[dict[str, Any]]:
        if not src:
            return []
        con = service.activity_connection(src)
        try:
            cols = ", ".join(f'"{c}"' for c in RECORD_COLUMNS)
            sql = f'SELECT {cols} FROM activity WHERE record_id IN (SELECT unnest(?)) ORDER BY "at"'
            cur = con.execute(sql, [want])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()

    rows = await asyncio.to_thread(run)
    await _audit(db, actor, "person.records", "activity", {"purpose": purpose, "ids": want[:20], "found": len(rows)})
    return {"records": rows, "missing": [i for i in want if i not in {r["record_id"] for r in rows}]}
