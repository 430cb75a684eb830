"""The browser screens: the command-centre console (`/`), the officers' phone page (`/m`), 研判统计
(`/stats`) and 情报研判 (`/intel`).

Everything the browser loads is served from `static/` by this process: the isolated 公安网 has no
CDN or tile server, and the Content-Security-Policy below makes the browser refuse anything else.
Third-party files in `static/vendor` are built from npm by scripts/build-web.sh and committed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Leaflet positions map panes with inline styles, hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return _page("index.html")

    @app.get("/m", include_in_schema=False)
    async def field() -> FileResponse:
        return _page("field.html")

    @app.get("/stats", include_in_schema=False)
    async def statistics() -> FileResponse:
        return _page("stats.html")

    @app.get("/intel", include_in_schema=False)
    async def intelligence() -> FileResponse:
        return _page("intel.html")
