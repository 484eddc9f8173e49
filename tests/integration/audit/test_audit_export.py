"""An Excel export of 50,000 audit rows: progress rises while it runs, the file opens with Chinese headers."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, datetime

import openpyxl
import psycopg
import pytest

from tests.support.api_client import served_api
from tests.support.audit_chain import START, write_chain
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_a_50000_row_export_shows_progress_and_reads_back(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await write_chain(conn, 50_000)
    async with served_api(database_url) as (app, http):
        owner = bearer(app, "export:create", "audit:read", username="li.si")
        # the rows of January (not the export's own audit record, which joins the chain as the job starts)
        request = {"kind": "audit", "filters": {"until": "2026-02-01T00:00:00Z"}, "request_id": "export-1"}
        started = await http.post("/api/v1/exports", json=request, headers=owner)
        assert started.status_code == 202
        job = started.json()["id"]
        again = await http.post("/api/v1/exports", json=request, headers=owner)   # a retry: the same job
        assert again.json()["id"] == job

        clock = time.perf_counter()
        progress: list[int] = []
        while True:
            status = (await http.get(f"/api/v1/exports/{job}", headers=owner)).json()
            progress.append(status["done"])
            if status["status"] != "running":
                break
            await asyncio.sleep(0.2)
        print(f"exported 50000 rows in {time.perf_counter() - clock:.1f} s; progress polled {len(progress)} times")
        assert status["status"] == "done", status
        assert status["done"] == status["total"] == 50_000
        assert any(0 < done < 50_000 for done in progress), progress   # seen part-way
        assert progress == sorted(progress)

        other = bearer(app, "export:create", "audit:read", username="wang.wu")
        assert (await http.get(f"/api/v1/exports/{job}/file", headers=other)).status_code == 404
        file = await http.get(f"/api/v1/exports/{job}/file", headers=owner)
        assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]

    book = openpyxl.load_workbook(io.BytesIO(file.content), read_only=True)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("序号", "时间", "操作人", "来源", "站点", "操作", "对象", "变更前", "变更后")
    assert len(rows) - 1 == 50_000
    newest = rows[1]   # newest first: seq 50000, at START + 50000 s, shown in China time (UTC+8)
    assert newest[0] == 50_000 and newest[2] == "user6" and newest[6] == "demo-03/92#50000"
    assert START.hour == 0 and newest[1].replace(tzinfo=UTC) == datetime(2026, 1, 1, 21, 53, 20, tzinfo=UTC)
    assert newest[8] == '{"price_fen": 801, "说明": "调价"}'

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT actor, target FROM business.audit_log WHERE action = 'export.create'")
        assert await cur.fetchall() == [("li.si", f"export:{job}")]   # audited once, not per retry


async def test_exports_are_refused_without_the_lists_permission_or_with_bad_filters(database_url: str) -> None:
    async with served_api(database_url) as (app, http):
        no_audit = bearer(app, "export:create")
        refused = await http.post("/api/v1/exports", json={"kind": "audit"}, headers=no_audit)
        assert refused.status_code == 403 and "audit:read" in refused.json()["detail"]
        owner = bearer(app, "export:create", "audit:read")
        unknown = await http.post("/api/v1/exports", json={"kind": "nozzles"}, headers=owner)
        assert unknown.status_code == 422 and "不能导出" in unknown.json()["detail"]
        bad = await http.post("/api/v1/exports", json={"kind": "audit", "filters": {"since": "soon"}}, headers=owner)
        assert bad.status_code == 422 and "since" in bad.json()["detail"]
        scoped = bearer(app, "export:create", "audit:read", stations=frozenset({"demo-01"}))
        outside = await http.post("/api/v1/exports", json={"kind": "audit", "filters": {"station": "demo-02"}},
                                  headers=scoped)
        assert outside.status_code == 403
        missing = await http.get(f"/api/v1/exports/{uuid.uuid4()}", headers=owner)
        assert missing.status_code == 404
