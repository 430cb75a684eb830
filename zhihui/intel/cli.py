"""`zhihui intel …`: the analyst's tactics from the command line (same services as the API, same audit)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from zhihui.core.auth import Actor
from zhihui.core.config import load_settings


def _actor(args: argparse.Namespace) -> Actor:
    # A shell session is a person at a terminal: the audit log names them (their login), as "cli".
    import getpass

    return Actor(user_id=None, username=f"cli:{getpass.getuser()}", role="analyst", seat="cli")


def _when(raw: str) -> datetime:
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        from zhihui.core.clock import SHANGHAI

        at = at.replace(tzinfo=SHANGHAI)  # a bare time on a Chinese console is Beijing time
    return at


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


async def _with_db(fn: Any) -> Any:
    from zhihui.core.store import Database

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        return await fn(db, settings)
    finally:
        await db.dispose()


def _ingest(args: argparse.Namespace) -> int:
    from zhihui.intel import service

    async def run(db: Any, settings: Any) -> Any:
        return await service.ingest_file(db, settings, _actor(args), Path(args.file), args.mapping,
                                         collide=not args.no_collide)

    _print(asyncio.run(_with_db(run)))
    return 0


def _collide(args: argparse.Namespace) -> int:
    from zhihui.intel import service

    async def run(db: Any, settings: Any) -> Any:
        return (await service.run_collision(db, settings, _actor(args), trigger="manual", since=args.since,
                                            until=args.until)).as_dict()

    _print(asyncio.run(_with_db(run)))
    return 0


def _index(args: argparse.Namespace) -> int:
    from zhihui.core.errors import InvalidInput
    from zhihui.intel import keyindex, service

    root = service.activity_dir(load_settings())
    if not service._has_parquet(root):  # a mistyped ZHIHUI_INTEL_DIR must not get an empty index called built
        raise InvalidInput("activity", f"no ingested activity under {root} (ZHIHUI_INTEL_DIR)")
    if args.status:
        out = keyindex.status(root)
    elif args.rebuild:
        keyindex.build(root)
        out = {**keyindex.status(root), "rebuilt": True}
    else:
        out = keyindex.refresh(root)
    _print(out)
    return 0


def _import_sim(args: argparse.Namespace) -> int:
    from zhihui.intel import persons

    async def run(db: Any, settings: Any) -> int:
        async with db.tx() as session:
            return await persons.import_sim_persons(session, _actor(args), Path(args.persons_csv), args.org_id)

    print(f"imported {asyncio.run(_with_db(run))} key-person entries (GENERATED demo data)")
    return 0


def _import_persons(args: argparse.Namespace) -> int:
    from zhihui.core.errors import InvalidInput
    from zhihui.intel import person_files

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {path}: {exc.strerror}") from None

    async def run(db: Any, settings: Any) -> dict[str, Any]:
        async with db.tx() as session:
            return await person_files.import_persons(session, _actor(args), data, path.name,
                                                      dry_run=args.dry_run, org_id=args.org_id)

    out = asyncio.run(_with_db(run))
    if args.json:
        _print(out)
    else:
        for r in out["rejected"]:
            print(f"line {r['line']}: {r['field']}: {r['message']}", file=sys.stderr)
        verb = "would create" if out["dry_run"] else "created"
        print(f"{out['rows']} rows: {verb} {out['valid']}, already on the list {len(out['existing'])}, "
              f"rejected {len(out['rejected'])}")
    return 1 if out["rejected"] else 0


def _export_persons(args: argparse.Namespace) -> int:
    from zhihui.core.errors import InvalidInput
    from zhihui.intel import person_files
    from zhihui.intel.lookups import check_purpose

    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        raise InvalidInput("out", "the file name must end in .xlsx or .csv")
    purpose = check_purpose(args.purpose)

    async def run(db: Any, settings: Any) -> bytes:
        async with db.tx() as session:
            data, _name, _media = await person_files.export_persons(
                session, _actor(args), purpose=purpose, category=args.category, org_id=args.org_id,
                status=args.status, fmt=fmt)
            return data

    out.write_bytes(asyncio.run(_with_db(run)))
    print(f"wrote {out}")
    return 0


def _lookup(fn_name: str, **kw: Any) -> Any:
    """Run one audited look-up from `zhihui.intel.lookups` as the terminal's user."""
    from zhihui.intel import lookups

    async def run(db: Any, settings: Any) -> Any:
        return await getattr(lookups, fn_name)(db, settings, kw.pop("actor"), **kw)

    return asyncio.run(_with_db(run))


def _trajectory(args: argparse.Namespace) -> int:
    if not (args.id_number or args.plate or args.phone):
        print("error: id_number: give --id-number, --plate or --phone", file=sys.stderr)
        return 2
    out = _lookup("trajectory", actor=_actor(args), purpose=args.purpose, id_number=args.id_number,
                  plate=args.plate, phone=args.phone, since=args.since, until=args.until)
    if args.json:
        _print(out)
        return 0
    for r in out["points"]:
        print(f"{r['at_local']}  {r['source']:<16} {r['venue_name'] or '':<24} {r['room'] or '':<8} "
              f"{r['lat']:.5f},{r['lon']:.5f}  {r['matched_by']}")
    print(f"{len(out['points'])} records", file=sys.stderr)
    return 0


def _case(raw: str) -> dict[str, Any]:
    """A case on the command line: CASE_ID,TIME,LAT,LON (time in ISO 8601; bare times are Beijing time)."""
    parts = raw.split(",")
    if len(parts) != 4:
        raise ValueError(f"--case '{raw}': expected CASE_ID,TIME,LAT,LON")
    return {"case_id": parts[0], "at": _when(parts[1]), "lat": float(parts[2]), "lon": float(parts[3])}


def _line(row: dict[str, Any], prefix: str = "  ") -> str:
    return prefix + "  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "", []))


def _report(args: argparse.Namespace, out: dict[str, Any], heading: str, *tables: list[dict[str, Any]]) -> int:
    """The whole answer as JSON (--json), or a heading and one line per row for reading at the terminal."""
    if args.json:
        _print(out)
        return 0
    print(heading)
    for rows in tables:
        for r in rows:
            print(_line(r))
    return 0


def _co_presence(args: argparse.Namespace) -> int:
    out = _lookup("co_presence", actor=_actor(args), purpose=args.purpose, cases=[_case(c) for c in args.case],
                  incident_ids=args.incident, dt_minutes=args.dt_minutes, dd_m=args.dd_m, k=args.k)
    return _report(args, out, f"{len(out['results'])} persons/vehicles near ≥{args.k} of {out['cases']} cases "
                              f"(Δt {args.dt_minutes:g} min, Δd {args.dd_m:g} m)", out["results"])


def _origin(args: argparse.Namespace) -> int:
    out = _lookup("high_risk_origin", actor=_actor(args), purpose=args.purpose, prefixes=args.prefixes,
                  since=args.since, until=args.until, sources=args.sources, list_code=args.list)
    return _report(args, out, f"{len(out['rows'])} records of persons from {','.join(out['prefixes'])}", out["rows"])


def _relations(args: argparse.Namespace) -> int:
    out = _lookup("neighbourhood", actor=_actor(args), purpose=args.purpose, person=args.person, k=args.k,
                  kinds=args.kinds, limit=args.limit)
    nodes = out.get("nodes", [])
    return _report(args, out, f"{out['center']}: {len(nodes) - 1} persons within {args.k} hops (of {out['total']})",
                   nodes, out.get("edges", []))


def _path(args: argparse.Namespace) -> int:
    out = _lookup("path", actor=_actor(args), purpose=args.purpose, a=args.a, b=args.b, kinds=args.kinds,
                  weighted=args.weighted)
    if args.json or not out["found"]:
        _print(out)
        return 0 if out["found"] else 1
    print(" → ".join(out["nodes"]))
    for i, step in enumerate(out["steps"], 1):
        for r in step:
            print(_line(r, f"  {i}. "))
    return 0


def _associates(args: argparse.Namespace) -> int:
    out = _lookup("associates_seen", actor=_actor(args), purpose=args.purpose, person=args.person,
                  days=args.days, k=args.k, kinds=args.kinds)
    return _report(args, out, f"associates of {out['person']} seen in the last {args.days:g} days: "
                              f"{len(out['sightings'])}", out["sightings"])


def _relate(args: argparse.Namespace) -> int:
    from zhihui.intel import relations, service

    async def run(db: Any, _settings: Any) -> Any:
        a, b = await service.person_key(db, args.a, "a"), await service.person_key(db, args.b, "b")
        async with db.tx() as session:
            return relations.relation_out(await relations.record(session, _actor(args), a, b, args.kind,
                                                                 detail=args.detail, source=args.source))

    _print(asyncio.run(_with_db(run)))
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    from zhihui.intel import relations

    async def run(db: Any, _settings: Any) -> Any:
        async with db.tx() as session:
            return relations.relation_out(await relations.withdraw(session, _actor(args), args.relation_id,
                                                                   args.reason))

    _print(asyncio.run(_with_db(run)))
    return 0


def _series(args: argparse.Namespace) -> int:
    from zhihui.intel import service

    async def run(db: Any, _settings: Any) -> Any:
        return await service.suggest_series(db, args.incident_id, top=args.top)

    out = asyncio.run(_with_db(run))
    if args.json:
        _print(out)
        return 0
    for s in out.get("suggestions", []):
        ev = s.get("evidence") or s.get("reasons") or ""
        ev = "；".join(ev) if isinstance(ev, list) else ev
        print(f"{s.get('score', 0):.3f}  {s.get('number')}  {ev}")
    print(f"{len(out.get('suggestions', []))} suggestions for incident {args.incident_id}", file=sys.stderr)
    return 0


def _safe(fn: Any) -> Any:
    """Bad input on the command line gets the same one-line, field-naming error as the API, not a traceback."""
    from zhihui.core.errors import DomainError

    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except (DomainError, ValueError) as exc:
            field = getattr(exc, "field", None)
            print(f"error: {field + ': ' if field else ''}{exc}", file=sys.stderr)
            return 2

    return run


def register(sub: Any) -> None:
    """Add the `intel` command group to the top-level parser's subparsers."""
    p = sub.add_parser("intel", help="情报: ingest activity data, batch collision, trajectories, key persons")
    isub = p.add_subparsers(dest="intel_command", required=True)
    g = isub.add_parser("ingest", help="ingest a CSV/Parquet file through a mapping, then collide the batch")
    g.add_argument("file")
    g.add_argument("--mapping", required=True, help="sim_activities, hotel_gb, netbar, checkpoint, ticket or a YAML")
    g.add_argument("--no-collide", action="store_true", help="ingest only")
    g.set_defaults(func=_safe(_ingest))
    c = isub.add_parser("collide", help="批量比对碰撞 now over all ingested activity; new hits become 核查指令")
    c.add_argument("--since", type=_when)
    c.add_argument("--until", type=_when)
    c.set_defaults(func=_safe(_collide))
    ix = isub.add_parser("index", help="键值索引: bring the activity's key index up to date (full collisions use it)")
    mode = ix.add_mutually_exclusive_group()
    mode.add_argument("--rebuild", action="store_true", help="rebuild now, whatever it covers")
    mode.add_argument("--status", action="store_true", help="only say what it covers")
    ix.set_defaults(func=_safe(_index))
    i = isub.add_parser("import-sim", help="load a GENERATED persons.csv's tagged persons as key persons")
    i.add_argument("persons_csv")
    i.add_argument("--org-id", type=int, help="responsible station (orgs.id)")
    i.set_defaults(func=_safe(_import_sim))
    ip = isub.add_parser("import-persons", help="重点人员批量导入: key persons from a .csv (UTF-8/GBK) or .xlsx list")
    ip.add_argument("file")
    ip.add_argument("--org-id", type=int, help="responsible organ (orgs.id) for rows that name none")
    ip.add_argument("--dry-run", action="store_true", help="check every row, add nothing")
    ip.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ip.set_defaults(func=_safe(_import_persons))
    ep = isub.add_parser("export-persons", help="导出名单: the list as .xlsx or .csv (the import's headers; audited)")
    ep.add_argument("out", help="file to write, .xlsx or .csv")
    ep.add_argument("--purpose", required=True, help="查询事由 (audited)")
    ep.add_argument("--category", help="one list, e.g. 在逃")
    ep.add_argument("--org-id", type=int, help="one responsible organ (orgs.id)")
    ep.add_argument("--status", choices=("active", "archived"), default="active")
    ep.set_defaults(func=_safe(_export_persons))
    t = isub.add_parser("trajectory", help="人员轨迹: a person's or vehicle's records in time order")
    t.add_argument("--id-number")
    t.add_argument("--plate")
    t.add_argument("--phone")
    t.add_argument("--since", type=_when)
    t.add_argument("--until", type=_when)
    _common(t, _trajectory)
    cp = isub.add_parser("co-presence", help="串并: persons/vehicles recorded near at least k of the cases")
    cp.add_argument("--case", action="append", default=[], metavar="ID,TIME,LAT,LON",
                    help="a case (repeatable); TIME in ISO 8601, bare = Beijing time; WGS-84")
    cp.add_argument("--incident", action="append", type=int, default=[], metavar="INCIDENT_ID",
                    help="a platform incident as a case (repeatable)")
    cp.add_argument("--dt-minutes", type=float, default=60)
    cp.add_argument("--dd-m", type=float, default=500)
    cp.add_argument("-k", type=int, default=2, help="present near at least k cases")
    _common(cp, _co_presence)
    o = isub.add_parser("origin", help="高危地区检索: local activity of persons from the given region codes")
    o.add_argument("--prefixes", help="GB/T 2260 prefixes, 2/4/6 digits, comma-separated")
    o.add_argument("--list", help="a 高危地区名单's code (zhihui/intel/origins.yaml), instead of or besides --prefixes")
    o.add_argument("--since", type=_when, required=True)
    o.add_argument("--until", type=_when, required=True)
    o.add_argument("--sources", help="hotel_checkin,internet_cafe,… (default all)")
    _common(o, _origin)
    r = isub.add_parser("relations", help="关系人员倒查: a person's k-hop relations with the evidence")
    r.add_argument("person", help="ID number or key-person id")
    r.add_argument("-k", type=int, default=2)
    r.add_argument("--kinds", help="co_stay,co_travel,… (default all)")
    r.add_argument("--limit", type=int, default=200)
    _common(r, _relations)
    pa = isub.add_parser("path", help="the shortest chain of relations between two persons")
    pa.add_argument("a")
    pa.add_argument("b")
    pa.add_argument("--kinds")
    pa.add_argument("--weighted", action="store_true", help="strongest chain instead of fewest hops")
    _common(pa, _path)
    a = isub.add_parser("associates", help="where this person's associates were seen in the last N days")
    a.add_argument("person", help="ID number or key-person id")
    a.add_argument("--days", type=float, default=7)
    a.add_argument("-k", type=int, default=1)
    a.add_argument("--kinds")
    _common(a, _associates)
    rr = isub.add_parser("relate", help="登记关系: record 亲属 (family) or 同案 (co-offending) between two persons")
    rr.add_argument("a", help="ID number or key-person id")
    rr.add_argument("b", help="ID number or key-person id")
    rr.add_argument("--kind", required=True, choices=("family", "co_offending"))
    rr.add_argument("--detail", default="", help="父子, 夫妻 … or the 案件编号")
    rr.add_argument("--source", default="", help="户籍信息 / 案卷 / 研判 …")
    rr.set_defaults(func=_safe(_relate))
    rw = isub.add_parser("withdraw-relation", help="撤销 a recorded relation (kept with the reason)")
    rw.add_argument("relation_id", type=int)
    rw.add_argument("--reason", required=True)
    rw.set_defaults(func=_safe(_withdraw))
    se = isub.add_parser("series", help="串并案: incidents likely by the same offender, with the evidence")
    se.add_argument("incident_id", type=int)
    se.add_argument("--top", type=int, default=10)
    se.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    se.set_defaults(func=_safe(_series))


def _common(p: argparse.ArgumentParser, fn: Any) -> None:
    p.add_argument("--purpose", required=True, help="查询事由 (audited)")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.set_defaults(func=_safe(fn))
