"""Swagger UI served by the API itself, so ``/docs`` works on a station LAN with no internet.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN; here the JavaScript, CSS and favicon come
from the ``swagger-ui-bundle-v2`` package, mounted under ``/docs/assets``. Swagger UI's online
validator badge (an image from validator.swagger.io) is switched off, and ReDoc is not served
(``create_app`` passes ``redoc_url=None``): its bundle is not shipped in any package we use.
"""

from __future__ import annotations

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve Swagger UI on ``/docs`` from local files (create the app with ``docs_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)), name="swagger-ui-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
