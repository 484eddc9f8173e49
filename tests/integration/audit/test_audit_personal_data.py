"""Personal data in the audit chain: a user's phone change is recorded as it was, shown whole to a reader with
``pii:read`` and masked to one without, on the audit page and in its Excel export; no log line at INFO holds it."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest

from business_services.access.demo import seed_demo_company
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

OLD, NEW = "13812345678", "13899995678"   # only the middle digits differ: masked, both read 138****5678


async def _exported(http: httpx.AsyncClient, headers: dict[str, str]) -> list[tuple[Any, ...]]:
    started = await http.post("/api/v1/exports", headers=headers,
                              json={"kind": "audit", "filters": {"action": "access.user."}})
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    async with asyncio.timeout(30):
        while (status := (await http.get(f"/api/v1/exports/{job}", headers=headers)).json())["status"] == "running":
            await asyncio.sleep(0.1)
    assert status["status"] == "done", status
    book = openpyxl.load_workbook(io.BytesIO((await http.get(f"/api/v1/exports/{job}/file", headers=headers)).content),
                                  read_only=True)
    return list(book.worksheets[0].iter_rows(values_only=True))


async def test_a_phone_change_is_masked_for_readers_without_pii_read(database_url: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await seed_demo_company(conn)
    async with served_api(database_url) as (app, http):
        admin = bearer(app, "user:read", "user:write", "audit:read", "pii:read", "export:create", username="admin")
        auditor = bearer(app, "audit:read", "export:create", username="auditor")
        user = {"display_name": "小李", "roles": ["cashier"], "units": ["demo-02"]}
        created = await http.post("/api/v1/users", headers=admin,
                                  json=user | {"username": "xiaoli", "password": "Xiao-li-2026", "phone": OLD})
        assert created.status_code == 201, created.text
        changed = await http.patch(f"/api/v1/users/{created.json()['id']}", headers=admin, json=user | {"phone": NEW})
        assert changed.status_code == 204, changed.text

        def update(page: dict[str, Any]) -> dict[str, Any]:
            return next(r for r in page["items"] if r["action"] == "access.user.update")

        whole = update((await http.get("/api/v1/audit", params={"action": "access.user."}, headers=admin)).json())
        assert (whole["before"]["phone"], whole["after"]["phone"]) == (OLD, NEW)   # recorded although masks match
        masked = update((await http.get("/api/v1/audit", params={"action": "access.user."}, headers=auditor)).json())
        assert (masked["before"]["phone"], masked["after"]["phone"]) == ("138****5678", "138****5678")
        assert masked["before"]["display_name"] == "小李"                             # the rest as it was

        target = f"user:{created.json()['id']}"
        rows = await _exported(http, auditor)
        assert rows[0][7:] == ("变更前", "变更后")
        assert all(OLD not in str(cell) and NEW not in str(cell) for row in rows for cell in row)
        assert ['"phone": "138****5678"' in str(row[8]) for row in rows if row[6] == target] == [True, True]
        full = await _exported(http, admin)
        assert [f'"phone": "{NEW}"' in str(row[8]) for row in full if row[6] == target] == [True, False]

    assert caplog.records, "nothing was logged at all: the check below would prove nothing"
    for record in caplog.records:
        assert OLD not in record.getMessage() and NEW not in record.getMessage(), record.getMessage()
