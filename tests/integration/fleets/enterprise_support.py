"""What the enterprise tests share: an app on the test database, callers, and an enterprise made over the API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openpyxl
import psycopg
from fastapi import FastAPI

from tests.support.auth import bearer

STATION = "demo-01"
CLERK = ("fleet:read", "fleet:write", "pii:read")
_keys = itertools.count(1)


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"fleets-test-{next(_keys):06d}"}


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def clerk(app: FastAPI, username: str = "li", *more: str, stations: frozenset[str] | None = None) -> dict[str, str]:
    """A head-office fleet clerk (every station unless ``stations``), seeing phones and card numbers."""
    return bearer(app, *CLERK, *more, stations=stations, username=username)


def approver(app: FastAPI, username: str = "boss") -> dict[str, str]:
    return bearer(app, *CLERK, "fleet:approve", "approval:decide", "approval:read", username=username)


async def approve(http: httpx.AsyncClient, who: dict[str, str], approval_id: str) -> httpx.Response:
    return await http.post(f"/api/v1/approvals/{approval_id}/approve", json={}, headers=who)


async def enterprise(http: httpx.AsyncClient, li: dict[str, str], boss: dict[str, str], **body: Any) -> str:
    """A new enterprise, approved; its code."""
    made = await http.post("/api/v1/fleet-enterprises", headers=li | key(),
                           json={"name": "顺达物流有限公司", "maintaining_station": STATION} | body)
    assert made.status_code == 200, made.text
    approved = await approve(http, boss, made.json()["approval_id"])
    assert approved.status_code == 200, approved.text
    return str(made.json()["code"])


async def scalar(url: str, sql: str, *params: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (await conn.execute(sql, params)).fetchone()
        return None if row is None else row[0]


async def exported(http: httpx.AsyncClient, headers: dict[str, str], filters: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of the enterprise list's Excel export (the header first)."""
    started = await http.post("/api/v1/exports", headers=headers, json={"kind": "fleet_enterprises",
                                                                        "filters": filters})
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    async with asyncio.timeout(30):
        while (status := (await http.get(f"/api/v1/exports/{job}", headers=headers)).json())["status"] == "running":
            await asyncio.sleep(0.1)
    assert status["status"] == "done", status
    content = (await http.get(f"/api/v1/exports/{job}/file", headers=headers)).content
    return list(openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True))
