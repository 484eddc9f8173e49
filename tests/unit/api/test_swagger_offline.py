"""/docs works on a LAN without internet: the page and every asset it names come from the API itself."""

from __future__ import annotations

import re

import httpx
import pytest

from control_api.app import create_app

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.fixture
def http() -> httpx.AsyncClient:
    app = create_app("postgresql://unused")   # no lifespan here: the docs need no database
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://station-pc")


async def test_docs_page_and_every_asset_it_names_are_served_locally(http: httpx.AsyncClient) -> None:
    async with http:
        page = await http.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        urls = [a or b for a, b in ASSET.findall(page.text)]
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"} <= set(urls)
        external = [u for u in urls if re.match(r"(?i)^(https?:)?//", u)]
        assert external == [], f"/docs names assets elsewhere: {external}"
        for url in urls:
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
        css = (await http.get("/docs/assets/swagger-ui.css")).text
        assert not re.search(r"(?i)url\(\s*['\"]?(https?:)?//", css), "the stylesheet loads something from elsewhere"
        assert '"validatorUrl": null' in page.text   # no badge image from validator.swagger.io
        assert (await http.get("/docs/oauth2-redirect")).status_code == 200


async def test_redoc_is_not_served_from_a_cdn_either(http: httpx.AsyncClient) -> None:
    async with http:
        assert (await http.get("/redoc")).status_code == 404
        assert "/redoc" not in (await http.get("/docs")).text
