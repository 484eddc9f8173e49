"""How the control API serves the built apps (control_api/pages.py): history-mode fallback, caching,
gzip, no escape from dist/, and a clear 503 when the apps are not built."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from control_api.app import create_app
from control_api.pages import accepts_gzip, inside, page_file
from tests.e2e.web.contract_app import build_contract_app


def client(dist: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_contract_app(dist)), base_url="http://test")


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip, deflate, br", True),
    ("br;q=1.0, gzip;q=0.8", True),
    ("*", True),
    ("gzip;q=0", False),
    ("gzip;q=abc", False),
    ("deflate, br", False),
    ("", False),
])
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_paths_never_leave_the_app(tmp_path: Path) -> None:
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "index.html").write_text("<html>")
    (tmp_path / "secret.txt").write_text("no")
    app_root = tmp_path / "admin"
    assert inside(app_root, "../secret.txt") is None
    assert inside(app_root, "/etc/passwd") is None
    assert inside(app_root, "a\\..\\..\\secret.txt") is None
    assert inside(app_root, "index.html\x00.js") is None
    assert page_file(app_root, "../secret.txt") is None
    assert page_file(app_root, "equipment/devices") == app_root / "index.html"
    assert page_file(app_root, "missing.js") is None


async def test_not_built_is_a_clear_503(tmp_path: Path) -> None:
    async with client(tmp_path / "dist") as http:
        answer = await http.get("/admin/equipment/devices")
    assert answer.status_code == 503
    assert "页面未构建" in answer.text and "scripts/web.sh" in answer.text


async def test_routes_fall_back_to_the_page_and_assets_are_cached_and_gzipped(web_dist: Path) -> None:
    index = (web_dist / "admin" / "index.html").read_text()
    script = next(p for p in (web_dist / "assets").iterdir() if p.name.startswith("admin-") and p.suffix == ".js")
    async with client(web_dist) as http:
        bare = await http.get("/admin")
        route = await http.get("/admin/equipment/devices", headers={"Accept-Encoding": "identity"})
        missing = await http.get("/admin/nothing-here.js")
        zipped = await http.get(f"/assets/{script.name}", headers={"Accept-Encoding": "gzip"})
        plain = await http.get(f"/assets/{script.name}", headers={"Accept-Encoding": "identity"})
        no_asset = await http.get("/assets/nothing-here.js")
    assert (bare.status_code, bare.headers["location"]) == (308, "/admin/")
    assert route.status_code == 200 and route.text == index and route.headers["cache-control"] == "no-cache"
    assert f"/assets/{script.name}" in index and "http" not in index.replace("http-equiv", "")   # no CDN
    assert missing.status_code == 404 and no_asset.status_code == 404
    assert zipped.headers["content-encoding"] == "gzip" and "immutable" in zipped.headers["cache-control"]
    assert zipped.content == script.read_bytes()               # httpx decoded the gzip: the same bytes
    assert int(zipped.headers["content-length"]) < len(script.read_bytes()) / 2
    assert "content-encoding" not in plain.headers and plain.content == script.read_bytes()
    assert gzip.decompress((script.parent / (script.name + ".gz")).read_bytes()) == script.read_bytes()


async def test_the_control_api_serves_the_back_office(web_dist: Path) -> None:
    app = create_app("postgresql://unused@127.0.0.1:1/none")   # no lifespan: the database is never opened
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        answer = await http.get("/admin/login")
        schema = await http.get("/openapi.json")
    assert answer.status_code == 200 and '<div id="app">' in answer.text
    assert not any(path.startswith(("/admin", "/assets")) for path in schema.json()["paths"])


def test_web_sh_builds_only_when_a_source_changed(web_dist: Path, tmp_path: Path) -> None:
    """scripts/web.sh in a copy of the tree (node_modules shared): a build, none, then one after an edit."""
    root = Path(__file__).resolve().parents[3]
    web = tmp_path / "control_api" / "web"
    skip = shutil.ignore_patterns("node_modules", "dist", ".web.lock")
    shutil.copytree(root / "control_api" / "web", web, ignore=skip)
    (web / "node_modules").symlink_to(root / "control_api" / "web" / "node_modules")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(root / "scripts" / "web.sh", tmp_path / "scripts" / "web.sh")

    def build() -> str:
        done = subprocess.run([str(tmp_path / "scripts" / "web.sh")], capture_output=True, text=True, check=True)
        return done.stderr

    assert "vite build" in build()
    built = (web / "dist" / "admin" / "index.html").stat().st_mtime_ns
    assert "vite build" not in build()
    assert (web / "dist" / "admin" / "index.html").stat().st_mtime_ns == built
    strings = web / "admin" / "strings.js"
    strings.write_text(strings.read_text().replace("管理后台", "后台管理"))
    assert "vite build" in build()
    assert any("后台管理" in p.read_text() for p in (web / "dist" / "assets").glob("*.js"))
