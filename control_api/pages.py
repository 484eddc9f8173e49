"""Serving the built web apps: ``/admin/`` (the back office), ``/pos/`` (the station POS) and ``/h5/`` (the
customers' phone pages, docs/h5.md) from ``control_api/web/dist``.

``scripts/web.sh`` builds ``control_api/web`` (one Vite project, one entry per app) into ``dist/``:
``dist/<app>/index.html`` per app and the hashed, shared ``dist/assets/*``, each text file with a
gzipped twin (``name.gz``). Here:

- ``/<app>/…`` answers the app's file when one exists, else its ``index.html`` (history-mode routes
  such as ``/admin/equipment/devices``), never cached so a new build is seen at once; a missing file
  that looks like one (``/admin/x.js``) is a 404, not the page.
- ``/assets/…`` answers a hashed asset, cached for a year (its name changes with its content).
- Either is sent gzipped when the browser accepts it and the build wrote the twin.
- An app that is not built answers 503 with a page saying how to build it.

No CDN: every asset the pages load comes from here.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

APPS = ("admin", "pos", "h5")                            # one per Vite entry (control_api/web/vite.config.js)
DIST = Path(__file__).parent / "web" / "dist"
ASSET_CACHE = "public, max-age=31536000, immutable"  # hashed names: a new build has new names
PAGE_CACHE = "no-cache"                              # index.html names the current build's assets

NOT_BUILT = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>页面未构建</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>页面未构建</h1>
<p>The web app <b>{app}</b> is not built: run <code>scripts/web.sh</code> (it builds
<code>control_api/web</code> into <code>control_api/web/dist</code>) and reload.</p>
</body></html>
"""


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``gzip;q=0`` refuses it)."""
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return False
    return False


def inside(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None when it is missing or would leave ``root``."""
    parts = PurePosixPath(relative).parts
    if any(part in ("..", "") or "\\" in part or part.startswith("/") for part in parts):
        return None
    candidate = root.joinpath(*parts)
    return candidate if candidate.is_file() else None


def page_file(app_root: Path, path: str) -> Path | None:
    """What ``/<app>/<path>`` serves: the file, else ``index.html`` for a route; None for a missing file."""
    found = inside(app_root, path) if path else None
    if found is not None:
        return found
    if PurePosixPath(path).suffix:    # a missing file, not a route of the app
        return None
    return app_root / "index.html"


def _send(file: Path, request: Request, cache: str) -> Response:
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    twin = file.with_name(file.name + ".gz")
    if twin.is_file() and accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return FileResponse(twin, media_type=media_type, headers=headers)
    return FileResponse(file, media_type=media_type, headers=headers)


def pages_router(dist: Path = DIST) -> APIRouter:
    """Routes for every app in ``APPS`` and the shared assets, served from ``dist``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/assets/{name:path}")
    async def asset(name: str, request: Request) -> Response:
        found = inside(dist / "assets", name)
        if found is None:
            return Response(status_code=404)
        return _send(found, request, ASSET_CACHE)

    for app in APPS:
        _add_app(router, dist, app)
    return router


def _add_app(router: APIRouter, dist: Path, app: str) -> None:
    app_root = dist / app

    @router.get(f"/{app}")
    async def bare() -> Response:
        return RedirectResponse(f"/{app}/", status_code=308)

    @router.get(f"/{app}/{{path:path}}")
    async def page(path: str, request: Request) -> Response:
        if not (app_root / "index.html").is_file():
            return HTMLResponse(NOT_BUILT.format(app=app), status_code=503, headers={"Cache-Control": "no-store"})
        found = page_file(app_root, path)
        if found is None:
            return Response(status_code=404)
        return _send(found, request, PAGE_CACHE)


router = pages_router()
