"""Intake benchmark: incidents per second through the running HTTP server vs. raw durable inserts.

Method
------
1. Create a fresh database (SQLite: a temp file; PostgreSQL: database ``zhihui_bench``, dropped first).
2. ``zhihui db upgrade`` and ``zhihui user add bench --role call_taker`` as subprocesses.
3. Start ``zhihui serve`` on a free port and wait for ``GET /api/v1/health`` to answer 200.
4. Log in (``POST /api/v1/auth/token``), warm up, then keep ``--concurrency`` keep-alive HTTP/1.1
   connections busy for ``--seconds`` with ``POST /api/v1/incidents`` (unique Idempotency-Key each);
   a minimal asyncio client keeps the load generator cheap because client and server share the CPUs.
   Throughput counts 201 answers over the wall time of the run; latencies are per request.
5. Stop the server, then measure the baseline on the same database kind: rows of similar width
   inserted one row per committed transaction (SQLite: aiosqlite, WAL + synchronous=FULL, one writer
   connection shared under a lock; PostgreSQL: asyncpg pool of min(concurrency, 32) connections,
   synchronous_commit=on). ``ratio_vs_raw`` = throughput_per_s / raw_insert_per_s.
6. Drop the PostgreSQL bench database and print one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "zhihui_bench"
USERNAME = "bench"
PASSWORD = "Bench#Pass2026"
WARMUP_REQUESTS = 200
MAX_ERROR_BODIES = 5


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# --------------------------------------------------------------------------- database setup


def asyncpg_dsn(url: str) -> str:
    """asyncpg wants plain postgresql://; accept SQLAlchemy-style driver suffixes too."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(asyncpg_dsn(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def pg_recreate(server_url: str, *, create: bool) -> None:
    """Drop (and optionally create) the bench database from the server's maintenance database."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        except asyncpg.PostgresSyntaxError:  # PostgreSQL < 13
            await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        if create:
            await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


def run_cli(env: dict[str, str], *args: str) -> None:
    cmd = [sys.executable, "-m", "zhihui.cli", *args]
    shown = " ".join(a if a != PASSWORD else "***" for a in args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"`zhihui {shown}` failed with exit code {proc.returncode}")
    log(f"zhihui {shown}: {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else 'ok'}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fs_type(path: Path) -> str:
    """Filesystem type of the mount holding `path` (to warn when fsync would be free on tmpfs)."""
    best, kind = "", "?"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) >= 3 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


# --------------------------------------------------------------------------- server process


class Server:
    def __init__(self, env: dict[str, str], port: int, log_path: Path, workers: int = 1) -> None:
        self.env = env
        self.workers = workers
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 90.0) -> None:
        cmd = [sys.executable, "-m", "zhihui.cli", "serve", "--port", str(self.port), "--no-access-log",
               "--log-level", "warning", "--workers", str(self.workers)]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if client.get(self.base + "/api/v1/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise SystemExit(f"server did not become healthy in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("server ignored SIGTERM for 30 s; killing it")
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def cpu_seconds(self) -> float | None:
        """user+system CPU time of the server process and its worker processes so far (Linux /proc),
        None when unavailable."""
        if self.proc is None:
            return None
        total, pending, seen = 0, [self.proc.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                if pid == self.proc.pid:
                    return None
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    pending.extend(int(c) for c in task.read_text().split())
        return total / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def login(base: str) -> str:
    resp = httpx.post(base + "/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD},
                      timeout=30.0)
    if resp.status_code != 200:
        raise SystemExit(f"login failed: {resp.status_code} {resp.text[:500]}")
    return str(resp.json()["access_token"])


# --------------------------------------------------------------------------- load generator

ADDRESSES = ("深圳市福田区深南大道6008号", "深圳市福田区福华三路88号", "深圳市福田区华强北路1002号",
             "深圳市福田区车公庙泰然九路", "深圳市福田区益田路5033号")
DESCRIPTIONS = ("有人打架", "两名男子在路边打架，一人受伤", "商场门口有人斗殴", "酒后打架，需要出警")


def incident_body(rng: random.Random) -> bytes:
    doc = {
        "channel": "110",
        "caller_phone": f"138{rng.randrange(10**8):08d}",
        "address": rng.choice(ADDRESSES),
        "lat": round(rng.uniform(22.52, 22.56), 6),
        "lon": round(rng.uniform(114.03, 114.08), 6),
        "category_code": "02",
        "description": rng.choice(DESCRIPTIONS),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class LoadStats:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    error_bodies: list[str] = field(default_factory=list)

    def error(self, what: str, body: str) -> None:
        self.errors += 1
        self.statuses[what] = self.statuses.get(what, 0) + 1
        if len(self.error_bodies) < MAX_ERROR_BODIES:
            self.error_bodies.append(f"{what}: {body[:400]}")
            log(f"error {what}: {body[:400]}")


class Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for this benchmark."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.prefix = (
            f"POST /api/v1/incidents HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nIdempotency-Key: "
        ).encode()

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; if a reused connection turns out closed by the server before any answer,
        resend once on a fresh connection (safe: the Idempotency-Key makes the POST idempotent)."""
        request = (self.prefix + uuid.uuid4().hex.encode() + b"\r\nContent-Length: "
                   + str(len(body)).encode() + b"\r\n\r\n" + body)
        reused = self.writer is not None
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            await self.close()
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.lower().split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line[15:])
            elif line.startswith(b"connection:") and b"close" in line:
                close = True
            elif line.startswith(b"transfer-encoding:"):
                raise RuntimeError("chunked responses are not supported by this client")
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload


async def worker(conn: Conn, stats: LoadStats | None, deadline: float | None, budget: list[int],
                 rng: random.Random) -> None:
    """Send requests back to back until `deadline` (or until the shared `budget` runs out)."""
    perf = time.perf_counter
    while True:
        if deadline is not None and perf() >= deadline:
            return
        if deadline is None:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        body = incident_body(rng)
        t0 = perf()
        try:
            status, payload = await conn.post(body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                RuntimeError) as exc:
            await conn.close()
            if stats is not None:
                stats.error("connection", repr(exc))
            await asyncio.sleep(0.05)
            continue
        elapsed = perf() - t0
        if stats is None:
            continue
        if status == 201:
            stats.ok += 1
            stats.latencies.append(elapsed)
        else:
            stats.error(str(status), payload.decode("utf-8", "replace"))


async def run_load(port: int, token: str, concurrency: int, seconds: float,
                   server_cpu: Callable[[], float | None]) -> tuple[LoadStats, float, float, float | None]:
    """Warm up, then load for `seconds`; returns (stats, wall s, client CPU s, server CPU s)."""
    conns = [Conn("127.0.0.1", port, token) for _ in range(concurrency)]
    for c in conns:
        await c.connect()
    rngs = [random.Random(i) for i in range(concurrency)]
    warm = LoadStats()
    budget = [WARMUP_REQUESTS]
    await asyncio.gather(*(worker(c, warm, None, budget, r) for c, r in zip(conns, rngs, strict=True)))
    log(f"warm-up: {warm.ok} ok, {warm.errors} errors")

    stats = LoadStats()
    server0 = server_cpu()
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    tasks = [asyncio.create_task(worker(c, stats, deadline, [0], r))
             for c, r in zip(conns, rngs, strict=True)]
    done, pending = await asyncio.wait(tasks, timeout=seconds + 60)
    wall = time.perf_counter() - start
    for t in pending:
        t.cancel()
        stats.error("timeout", "request still pending 60 s after the end of the run")
    for t in done:
        if t.exception() is not None:
            stats.error("client", repr(t.exception()))
    cpu = time.process_time() - cpu0
    server1 = server_cpu()
    for c in conns:
        await c.close()
    return stats, wall, cpu, None if server0 is None or server1 is None else server1 - server0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[idx]


# --------------------------------------------------------------------------- raw insert baseline

RAW_COLUMNS = ("number", "channel", "caller_phone", "address", "lat", "lon", "category_code", "level",
               "urgent", "description", "status", "received_at")


def raw_row(rng: random.Random, n: int) -> tuple[Any, ...]:
    return (f"R{n:012d}-{rng.randrange(10**6):06d}", "110", f"138{rng.randrange(10**8):08d}",
            rng.choice(ADDRESSES), rng.uniform(22.52, 22.56), rng.uniform(114.03, 114.08), "02", 2, False,
            rng.choice(DESCRIPTIONS), "new", datetime.now(UTC))


async def timed_inserts(concurrency: int, seconds: float,
                        insert: Callable[[random.Random, int], Coroutine[Any, Any, None]]) -> float:
    """Run `insert` back to back from `concurrency` tasks for `seconds`; returns committed rows/s."""
    done = [0]
    start = time.perf_counter()
    deadline = start + seconds

    async def loop(i: int) -> None:
        rng = random.Random(1000 + i)
        n = 0
        while time.perf_counter() < deadline:
            await insert(rng, i * 10**7 + n)
            n += 1
            done[0] += 1

    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return done[0] / (time.perf_counter() - start)


async def raw_sqlite(path: Path, concurrency: int, seconds: float) -> float:
    import aiosqlite

    db = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            await db.execute(f"PRAGMA {pragma}")
        await db.execute("DROP TABLE IF EXISTS bench_raw")
        await db.execute(
            "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, number VARCHAR(32) UNIQUE, channel VARCHAR(16),"
            " caller_phone VARCHAR(24), address VARCHAR(300), lat FLOAT, lon FLOAT, category_code VARCHAR(8),"
            " level INTEGER, urgent BOOLEAN, description TEXT, status VARCHAR(16), received_at DATETIME)"
        )
        sql = f"INSERT INTO bench_raw ({', '.join(RAW_COLUMNS)}) VALUES ({', '.join('?' * len(RAW_COLUMNS))})"
        lock = asyncio.Lock()  # one writer connection, like the server's SQLite pool

        async def insert(rng: random.Random, n: int) -> None:
            row = raw_row(rng, n)
            row = (*row[:-1], row[-1].replace(tzinfo=None).isoformat(" "))
            async with lock:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    await db.execute(sql, row)
                except BaseException:
                    await db.execute("ROLLBACK")
                    raise
                await db.execute("COMMIT")

        rate = await timed_inserts(concurrency, seconds, insert)
        await db.execute("DROP TABLE bench_raw")
        return rate
    finally:
        await db.close()


async def raw_postgres(url: str, concurrency: int, seconds: float) -> float:
    import asyncpg

    size = max(1, min(concurrency, 32))
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=size, max_size=size)
    try:
        async with pool.acquire() as conn:
            sc = await conn.fetchval("SHOW synchronous_commit")
            if sc != "on":
                log(f"warning: synchronous_commit={sc} on the server")
            await conn.execute("DROP TABLE IF EXISTS bench_raw")
            await conn.execute(
                "CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, number VARCHAR(32) UNIQUE,"
                " channel VARCHAR(16), caller_phone VARCHAR(24), address VARCHAR(300), lat FLOAT, lon FLOAT,"
                " category_code VARCHAR(8), level INTEGER, urgent BOOLEAN, description TEXT,"
                " status VARCHAR(16), received_at TIMESTAMPTZ)"
            )
        params = ", ".join(f"${i}" for i in range(1, len(RAW_COLUMNS) + 1))
        sql = f"INSERT INTO bench_raw ({', '.join(RAW_COLUMNS)}) VALUES ({params})"

        async def insert(rng: random.Random, n: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(sql, *raw_row(rng, n))

        rate = await timed_inserts(size, seconds, insert)
        async with pool.acquire() as conn:
            await conn.execute("DROP TABLE bench_raw")
        return rate
    finally:
        await pool.close()


# --------------------------------------------------------------------------- main


def server_log_problems(text: str) -> tuple[int, Counter[str], str]:
    """Tracebacks in the server log: their number, the distinct exception lines, the first one in full."""
    lines = text.splitlines()
    kinds: Counter[str] = Counter()
    first = ""
    skip = ("Traceback", "During handling", "The above exception", "+", "|")
    for i, ln in enumerate(lines):
        if not ln.startswith("Traceback (most recent call last)"):
            continue
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j] and not lines[j][0].isspace() and not lines[j].startswith(skip)), None)
        if end is None:
            continue
        kinds[lines[end][:300]] += 1
        if not first:
            first = "\n".join(lines[i: end + 1][-30:])
    # A chained traceback ("During handling ... another exception") names several exceptions; count
    # the requests by the uvicorn/app error lines when present.
    count = sum(1 for ln in lines if ln.startswith("Traceback (most recent call last)"))
    return count, kinds, first


def make_loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("ZHIHUI_TEST_PG_URL") or DEFAULT_PG_URL,
                    help=f"server URL for creating the bench database (default $ZHIHUI_TEST_PG_URL or "
                         f"{DEFAULT_PG_URL})")
    ap.add_argument("--seconds", type=float, default=15.0, help="load duration")
    ap.add_argument("--baseline-seconds", type=float, default=5.0, help="raw insert baseline duration")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s load, 1 s baseline")
    ap.add_argument("--workers", type=int, default=None,
                    help="server processes (default: 2 on PostgreSQL, 1 on SQLite, whose writes serialise anyway)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, server log)")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.baseline_seconds = 3.0, 1.0
    concurrency = max(1, args.concurrency)

    tmp = Path(tempfile.mkdtemp(prefix="zhihui-bench-"))
    if args.db == "sqlite" and fs_type(tmp) in ("tmpfs", "ramfs"):
        log(f"warning: {tmp} is on {fs_type(tmp)}; fsync is free there, numbers will be flattering")
    env = dict(os.environ)
    env["ZHIHUI_SECRET_FILE"] = str(tmp / "secret.key")
    env.pop("ZHIHUI_SECRET_KEY", None)
    env["PYTHONUNBUFFERED"] = "1"
    bench_url = ""
    if args.db == "sqlite":
        env["ZHIHUI_DATABASE_URL"] = f"sqlite:///{tmp / 'bench.db'}"
    else:
        bench_url = with_database(args.pg_url, BENCH_DB)
        env["ZHIHUI_DATABASE_URL"] = bench_url

    runner = make_loop_runner()
    workers = args.workers or (2 if args.db == "postgresql" else 1)
    server = Server(env, free_port(), tmp / "server.log", workers)
    pg_created = False
    try:
        if args.db == "postgresql":
            log(f"recreating database {BENCH_DB} on {urlsplit(asyncpg_dsn(args.pg_url)).hostname}")
            runner.run(pg_recreate(args.pg_url, create=True))
            pg_created = True
        run_cli(env, "db", "upgrade")
        run_cli(env, "user", "add", USERNAME, "--role", "call_taker", "--password", PASSWORD)

        log(f"starting server on port {server.port}")
        server.start()
        token = login(server.base)
        log(f"load: {concurrency} connections for {args.seconds:g} s")
        stats, wall, client_cpu, server_cpu = runner.run(
            run_load(server.port, token, concurrency, args.seconds, server.cpu_seconds))
        code = server.stop()
        log(f"server stopped (exit code {code})")
        problems, kinds, first_tb = server_log_problems(server.log_text())
        if problems:
            log(f"server log has {problems} tracebacks; first one (tail):\n{first_tb}")
            for line, n in kinds.most_common(5):
                log(f"  {n} x {line}")

        log(f"baseline: raw durable inserts for {args.baseline_seconds:g} s")
        if args.db == "sqlite":
            raw = runner.run(raw_sqlite(tmp / "raw.db", concurrency, args.baseline_seconds))
        else:
            raw = runner.run(raw_postgres(bench_url, concurrency, args.baseline_seconds))
    finally:
        server.stop()
        if pg_created:
            try:
                runner.run(pg_recreate(args.pg_url, create=False))
            except Exception as exc:
                log(f"could not drop {BENCH_DB}: {exc!r}")
        runner.close()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    lat = sorted(stats.latencies)
    throughput = stats.ok / wall if wall > 0 else 0.0
    result = {
        "db": args.db,
        "throughput_per_s": round(throughput, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else None,
        "p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else None,
        "raw_insert_per_s": round(raw, 1),
        "ratio_vs_raw": round(throughput / raw, 3) if raw > 0 else None,
        "requests": stats.ok + stats.errors,
        "errors": stats.errors,
        "error_kinds": stats.statuses,
        "concurrency": concurrency, "workers": workers,
        "duration_s": round(wall, 2),
        "client_cpu_s": round(client_cpu, 2),
        "server_cpu_s": None if server_cpu is None else round(server_cpu, 2),
        "server_tracebacks": problems,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if stats.ok > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
