"""`zhihui` command line: serve, db upgrade, user add, audit verify, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from zhihui.core.clock import SHANGHAI
from zhihui.core.config import load_settings, sqlite_url


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from zhihui.api.app import create_app

    settings = load_settings()
    if args.upgrade:
        asyncio.run(_upgrade(settings.database_url))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers > 1:
        # Each worker runs its own timers; they coordinate through the database (row locks with
        # SKIP LOCKED for escalation, an advisory lock for audit sealing, SQLite's write lock).
        uvicorn.run("zhihui.api.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, access_log=args.access_log)
    else:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                    access_log=args.access_log)
    return 0


async def _upgrade(url: str) -> None:
    from zhihui.core.migrate import upgrade

    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    await upgrade(url)


def _db_upgrade(_args: argparse.Namespace) -> int:
    url = load_settings().database_url
    asyncio.run(_upgrade(url))
    print(f"database at head: {url.split('@')[-1]}")
    return 0


def _user_add(args: argparse.Namespace) -> int:
    from zhihui.core import audit
    from zhihui.core.auth import Actor, create_user
    from zhihui.core.errors import DomainError
    from zhihui.core.store import Database

    password = args.password or os.environ.get("ZHIHUI_PASSWORD") or getpass.getpass("password: ")

    async def run() -> None:
        db = Database(load_settings().database_url)
        try:
            async with db.tx() as session:
                user = await create_user(session, username=args.username, password=password, role=args.role,
                                         full_name=args.full_name, unit_id=args.unit_id)
                audit.append(session, Actor(None, getpass.getuser(), "cli"), "user.create", component="auth",
                             target_type="user", target_id=user.id, detail={"role": user.role})
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"user {args.username} ({args.role}) created")
    return 0


def _audit_verify(_args: argparse.Namespace) -> int:
    from zhihui.core import audit
    from zhihui.core.store import Database

    async def run() -> audit.VerifyReport:
        db = Database(load_settings().database_url)
        try:
            async with db.tx() as session:
                await audit.seal(session)
            async with db.read() as session:
                return await audit.verify(session)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    print(f"audit rows: {report.rows}, sealed: {report.sealed}, unsealed: {report.unsealed}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("audit chain OK" if report.ok else "audit chain BROKEN")
    return 0 if report.ok else 1


def _demo(args: argparse.Namespace) -> int:
    from zhihui.sim.demo import run_demo

    if not os.environ.get("ZHIHUI_DATABASE_URL"):
        os.environ["ZHIHUI_DATABASE_URL"] = sqlite_url(Path("var") / "demo.db")
    return run_demo(host=args.host, port=args.port, rate_per_min=args.rate, minutes=args.minutes)


def _sim_city(args: argparse.Namespace) -> int:
    from zhihui.sim.city import build_city, describe, digest, write_city

    city = build_city(args.seed, units_per_station=args.units_per_station, n_persons=args.persons, days=args.days,
                      calls_per_day=args.calls_per_day)
    paths = write_city(city, Path(args.out))
    print(describe(city))
    for name, path in sorted(paths.items()):
        print(f"  {name:<14} {path}")
    print(f"  sha256 {digest(paths)}")
    return 0


def _csv_ints(raw: str) -> list[int]:
    try:
        values = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {raw!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("each staffing level must be at least 1 unit per station")
    return values


def _csv_policies(raw: str) -> list[str]:
    from zhihui.sim.des import POLICIES

    values = [x.strip() for x in raw.split(",") if x.strip()]
    bad = [v for v in values if v not in POLICIES]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"policies must be among {', '.join(POLICIES)}; got {raw!r}")
    return values


def _sim_study(args: argparse.Namespace) -> int:
    from zhihui.sim.report import compare, fmt_min, write_report
    from zhihui.sim.study import run_study_async

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    study = asyncio.run(run_study_async(seed=args.seed, hours=args.hours, calls_per_day=args.calls_per_day,
                                        staffing=args.staffing, policies=args.policies, speed=args.speed,
                                        show_progress=not args.quiet))
    out = write_report(study, Path(args.out))
    for row in compare(study):
        imp = row["improvement"]
        print(f"{row['units_per_station']}/所: p90 road {fmt_min(row['p90_a'])} min, straight "
              f"{fmt_min(row['p90_b'])} min, improvement {'n/a' if imp is None else f'{imp:.1%}'}")
    print(f"report: {out} (data: {out.with_suffix('.json')})")
    return 0


def _sim_run(args: argparse.Namespace) -> int:
    from zhihui.sim.study import run_live

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run_live(seed=args.seed, hours=args.hours, calls_per_day=args.calls_per_day,
                                policy=args.policy, speed=args.speed or None, host=args.host, port=args.port,
                                units_per_station=args.units_per_station, database=Path(args.db)))


def _when(raw: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {raw!r}") from None
    # A bare date or time is Beijing time, as the people asking mean it.
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def _analytics(args: argparse.Namespace) -> int:
    from zhihui.analytics import stats
    from zhihui.core.clock import utcnow
    from zhihui.core.store import Database

    async def run() -> dict:
        db = Database(load_settings().database_url)
        try:
            async with db.read() as session:
                since, until = (args.since, args.until) if args.since else stats.default_window(utcnow())
                until = until or utcnow()
                if args.analytics_command == "stats":
                    return await stats.statistics(session, since, until, args.by, police_only=args.police_only)
                return await stats.kpis(session, since, until, args.by)
        finally:
            await db.dispose()

    try:
        out = asyncio.run(run())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        sys.stdout.write(stats.to_csv(out["groups"]).lstrip("\ufeff"))
        return 0
    if args.xlsx:
        Path(args.xlsx).write_bytes(stats.to_xlsx(out["groups"], f"{args.analytics_command}-{args.by}"))
        print(f"wrote {args.xlsx} ({len(out['groups'])} rows)")
        return 0
    print(f"{out['since'].astimezone(SHANGHAI):%Y-%m-%d %H:%M} – {out['until'].astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
          f" (Beijing time), by {out['by']}")
    if args.analytics_command == "stats":
        print(f"total {out['total']}  环比 {out['previous_total']} ({_chg(out['mom_change'])})  "
              f"同比 {out['year_before_total']} ({_chg(out['yoy_change'])})")
        for g in out["groups"]:
            extra = f"  环比 {_chg(g.get('mom_change'))}  同比 {_chg(g.get('yoy_change'))}" if "previous" in g else ""
            print(f"  {g['label']:<24} {g['count']:>6}{extra}")
    else:
        for g in out["groups"]:
            a, s, r = g["answer_to_dispatch"], g["dispatch_to_sign"], g["received_to_arrival"]
            print(f"  {g['label']:<16} incidents {g['incidents']:>5}  接警→派警 p50/p90 {a['p50_s']}/{a['p90_s']} s  "
                  f"派警→签收 {s['p50_s']}/{s['p90_s']} s  接警→到场 {r['p50_s']}/{r['p90_s']} s  "
                  f"超时签收 {g['sign_overdue']}  结案率 {_pct(g['closure_rate'])}  分流 {_pct(g['diversion_share'])}")
    return 0


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _chg(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}"


def _report_day(raw: str) -> datetime:
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {raw!r}") from None


def _analytics_report(args: argparse.Namespace) -> int:
    import json
    from datetime import timedelta

    from zhihui.analytics.report import SituationReport, build_report
    from zhihui.core.clock import utcnow
    from zhihui.core.store import Database

    # Default: yesterday as Beijing counts days (a daily report is written the morning after).
    day = args.date.date() if args.date else (utcnow().astimezone(SHANGHAI) - timedelta(days=1)).date()

    async def run() -> SituationReport:
        db = Database(load_settings().database_url)
        try:
            async with db.read() as session:
                return await build_report(session, period=args.period, day=day)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    if args.format == "pdf":
        data = report.pdf()
    elif args.format == "json":
        data = json.dumps(report.as_dict(), ensure_ascii=False, indent=1).encode("utf-8")
    else:
        data = report.html().encode("utf-8")
    out = Path(args.out or report.filename(args.format))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # write-then-rename: no reader sees half a file
    tmp.write_bytes(data)
    os.replace(tmp, out)
    t = report.totals
    print(f"{report.title} {report.period_label}: {t['total']} 起, 环比 {_chg(t['mom_change'])}, "
          f"同比 {_chg(t['yoy_change'])}")
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zhihui", description="情指行一体化 command-center platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the API server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info")
    p.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL: one per core)")
    p.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--upgrade", action=argparse.BooleanOptionalAction, default=True,
                   help="apply database migrations before starting (default on)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations up to head")
    up.set_defaults(func=_db_upgrade)

    p = sub.add_parser("user", help="user administration")
    usub = p.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True,
                     choices=["call_taker", "dispatcher", "commander", "analyst", "officer", "leader",
                              "inspector", "admin"])
    add.add_argument("--password", help="(else $ZHIHUI_PASSWORD, else prompted)")
    add.add_argument("--full-name")
    add.add_argument("--unit-id", type=int)
    add.set_defaults(func=_user_add)

    p = sub.add_parser("audit", help="audit log")
    asub = p.add_subparsers(dest="audit_command", required=True)
    ver = asub.add_parser("verify", help="seal pending rows and verify the hash chain")
    ver.set_defaults(func=_audit_verify)

    p = sub.add_parser("demo", help="demo command centre on SQLite with a simulated call stream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--rate", type=float, default=3.0, help="simulated calls per minute")
    p.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (0 = run until Ctrl-C)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("sim", help="city simulator: synthetic city, accelerated runs, staffing studies")
    simsub = p.add_subparsers(dest="sim_command", required=True)
    c = simsub.add_parser("city", help="write the synthetic city (stations, units, persons, activities, calls)")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--out", default="var/city", help="output folder (default var/city)")
    c.add_argument("--persons", type=int, default=2000)
    c.add_argument("--days", type=int, default=7, help="days of activity records and calls")
    c.add_argument("--calls-per-day", type=float, default=300.0)
    c.add_argument("--units-per-station", type=int, default=4)
    c.set_defaults(func=_sim_city)
    st = simsub.add_parser("study", help="the same day under dispatch policies and staffing levels; HTML report")
    st.add_argument("--seed", type=int, default=1)
    st.add_argument("--hours", type=float, default=24.0, help="simulated hours per run")
    st.add_argument("--calls-per-day", type=float, default=300.0)
    st.add_argument("--staffing", type=_csv_ints, default=[3, 4], help="units per station, e.g. 2,3,4")
    st.add_argument("--policies", type=_csv_policies, default=["road", "straight"])
    st.add_argument("--speed", type=float, default=None,
                    help="simulated seconds per wall second (default: as fast as possible)")
    st.add_argument("--out", default="var/study/report.html")
    st.add_argument("--quiet", action="store_true", help="no progress bar")
    st.set_defaults(func=_sim_study)
    r = simsub.add_parser("run", help="serve a sandbox command centre and play a simulated day on it (watch the "
                                      "console)")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--hours", type=float, default=24.0)
    r.add_argument("--calls-per-day", type=float, default=300.0)
    r.add_argument("--policy", choices=["road", "straight"], default="road")
    r.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per wall second (default 60: an hour a minute; 0 = as fast as possible)")
    r.add_argument("--units-per-station", type=int, default=4)
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8000)
    r.add_argument("--db", default="var/sim.db", help="sandbox SQLite file (recreated)")
    r.set_defaults(func=_sim_run)

    p = sub.add_parser("analytics", help="警情统计 and 处警时效 KPIs (default window: yesterday, Beijing time)")
    ansub = p.add_subparsers(dest="analytics_command", required=True)
    from zhihui.analytics.stats import GROUPS, KPI_GROUPS

    for name, groups, default in (("stats", GROUPS, "category"), ("kpis", KPI_GROUPS, "overall")):
        a = ansub.add_parser(name, help="counts with 同比/环比" if name == "stats" else "timeliness KPIs")
        a.add_argument("--since", type=_when, help="start, ISO (a bare date/time is Beijing time)")
        a.add_argument("--until", type=_when, help="end, ISO (default now)")
        a.add_argument("--by", choices=groups, default=default)
        a.add_argument("--csv", action="store_true", help="CSV on standard output")
        a.add_argument("--xlsx", metavar="FILE", help="write an Excel workbook to FILE")
        if name == "stats":
            a.add_argument("--police-only", action="store_true", help="leave out calls diverted to 12345")
        a.set_defaults(func=_analytics)
    rep = ansub.add_parser("report", help="治安形势评估报告 (daily / monthly situation report) as HTML or PDF")
    rep.add_argument("--period", choices=["daily", "monthly"], default="daily")
    rep.add_argument("--date", type=_report_day, help="the Beijing day, or a day of the month (default: yesterday)")
    rep.add_argument("--format", choices=["html", "pdf", "json"], default="html")
    rep.add_argument("--out", metavar="FILE", help="output file (default situation-<period>-<date>.<format>)")
    rep.set_defaults(func=_analytics_report)

    from zhihui.intel import cli as intel_cli

    intel_cli.register(sub)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
