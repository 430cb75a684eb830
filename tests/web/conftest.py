"""Real-browser fixtures: a live server on a seeded demo database and Debian's chromium.

Playwright must not download a browser (the isolated network has none to offer): it drives the
system package at /usr/bin/chromium (ZHIHUI_CHROMIUM overrides), which `make test` installs
(scripts/ensure-browser.sh). Tests here are plain sync functions: Playwright's sync API runs its
own event loop, and pytest-asyncio only runs one for async tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect

from tests.conftest import BACKEND, _pg_admin, pg_url
from zhihui.api.app import create_app
from zhihui.core.config import load_settings, sqlite_url
from zhihui.sim.demo import prepare_database

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
CHROMIUM = os.environ.get("ZHIHUI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--no-first-run", "--disable-extensions"]


@dataclass
class LiveServer:
    url: str
    db_url: str


def _run(coro: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps a loop running in this one."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app (background timers on) in a thread, on a migrated database seeded with the demo
    bureau: stations, units, cameras, desk users and one officer account per unit. A test module may
    set LIVE_SETTINGS (load_settings overrides, e.g. short deadlines)."""
    tmp = tmp_path_factory.mktemp("web")
    saved = {k: os.environ.get(k) for k in ("ZHIHUI_SECRET_FILE", "ZHIHUI_SECRET_KEY")}
    os.environ["ZHIHUI_SECRET_FILE"] = str(tmp / "secret.key")
    os.environ.pop("ZHIHUI_SECRET_KEY", None)
    pg_name = None
    if BACKEND == "postgresql":
        pg_name = f"zhihui_web_{os.getpid()}_{int(time.time() * 1000) % 100000}"
        _run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}"'))
        _run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
        url = pg_url(pg_name)
    else:
        url = sqlite_url(tmp / "web.db")
    _run(prepare_database(url))
    overrides = {"intel_dir": tmp_path_factory.mktemp("intel"), **getattr(request.module, "LIVE_SETTINGS", {})}
    settings = load_settings(database_url=url, **overrides)
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            loop="asyncio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.2)
    try:
        yield LiveServer(url=base, db_url=url)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if pg_name:
            _run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


# Screens on a loaded 2-core CI machine can take a few seconds to settle: wait up to 15 s for any
# expected state (Playwright's default for expect() is 5 s).
expect.set_options(timeout=15_000)


# Module scope: Playwright's sync API keeps an event loop running while it is started, which
# would stop pytest-asyncio from running the async tests collected after this module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"chromium not found at {CHROMIUM}: run scripts/ensure-browser.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class _Watch:
    allowed: set[str]
    off_origin: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """new_page(width, height, *, mobile=False, geolocation=None, also_origin=None) -> Page in a fresh context (own
    session storage, like a second workstation or a phone). At teardown the test fails if any page
    asked for something off the server's origin (the deployment network has no internet) or threw
    an uncaught error."""
    contexts: list[Any] = []
    watch = _Watch(allowed={live_server.url})

    def make(width: int = 1280, height: int = 720, *, mobile: bool = False,
             geolocation: dict[str, float] | None = None, also_origin: str | None = None,
             bypass_csp: bool = False, timezone: str = "Asia/Shanghai") -> Any:
        if also_origin:
            watch.allowed.add(also_origin)
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", timezone_id=timezone,
            is_mobile=mobile, has_touch=mobile, device_scale_factor=1,
            geolocation=geolocation, permissions=["geolocation"] if geolocation else [],
            bypass_csp=bypass_csp,  # only for injecting a test tool (axe) into the page
        )
        contexts.append(ctx)

        def on_request(req: Any) -> None:
            parts = urlsplit(req.url)
            if parts.scheme in ("data", "blob", "about"):
                return
            if f"{parts.scheme}://{parts.netloc}" not in watch.allowed:
                watch.off_origin.append(req.url)

        ctx.on("request", on_request)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert watch.off_origin == [], f"requests left the server's origin: {watch.off_origin[:5]}"
    assert watch.page_errors == [], f"uncaught errors in the page: {watch.page_errors[:5]}"


@pytest.fixture
def shot() -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


class DroppableProxy:
    """A TCP relay in front of the live server whose connections can be cut and refused, like a
    network outage between a workstation and the centre (the browser's offline switch leaves an
    open event stream alone)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.down = False
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self.lock:
                self.open.difference_update((src, dst))

    def drop(self) -> None:
        self.down = True
        with self.lock:
            sockets = list(self.open)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.stopped = True
        self.drop()
        self.listener.close()


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[DroppableProxy]:
    p = DroppableProxy(int(urlsplit(live_server.url).port or 0))
    try:
        yield p
    finally:
        p.close()
