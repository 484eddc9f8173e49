"""Approvals against a real database and the real API: the plug-in handler runs once, retries change nothing,
the rules refuse the requester, an approver of another station and an expired request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.approvals import handlers, registry
from business_services.approvals.model import ApprovalKind, ApprovalRequest, Rule
from business_services.audit.model import Actor
from business_services.audit.verify import verify
from business_services.unit_of_work import UnitOfWork
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def apply_price(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """A domain's on_approved: here it records that it ran (in the approver's transaction)."""
    await uow.conn.execute("CREATE TABLE IF NOT EXISTS business.test_price_applied (request uuid, grade int)")
    await uow.conn.execute("INSERT INTO business.test_price_applied VALUES (%s, %s)",
                           (request.id, request.payload["grade"]))


KIND = registry.register(ApprovalKind("test.price_change", "测试调价", Rule("price:approve"), apply_price,
                                      ttl=timedelta(hours=2)))
REQUESTER = Actor("zhang.san", "10.0.0.5", user_id=7)


async def ask(database_url: str, station: str | None = "demo-01", now: datetime | None = None) -> uuid.UUID:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, UnitOfWork(conn, REQUESTER) as uow:
        request = await handlers.request_approval(uow, KIND.name, station, "92# 调价 7.36 → 7.58 元/升",
                                                  {"grade": 92, "price_fen": 758}, now=now)
    return request.id


async def scalar(database_url: str, sql: str) -> object:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(sql)  # type: ignore[arg-type]
        row = await cur.fetchone()
        return None if row is None else row[0]


async def test_request_then_approve_runs_the_plug_in_once_and_a_retry_changes_nothing(database_url: str) -> None:
    request_id = await ask(database_url)
    async with served_api(database_url) as (app, http):
        boss = bearer(app, "approval:decide", "approval:read", "price:approve", username="li.si")
        inbox = (await http.get("/api/v1/approvals/inbox", headers=boss)).json()
        assert inbox["total"] == 1 and inbox["items"][0]["id"] == str(request_id)
        assert inbox["items"][0]["kind_title"] == "测试调价"

        first = await http.post(f"/api/v1/approvals/{request_id}/approve", json={"comment": "同意"}, headers=boss)
        assert first.status_code == 200 and first.json()["status"] == "approved"
        retry = await http.post(f"/api/v1/approvals/{request_id}/approve", json={"comment": "同意"}, headers=boss)
        assert retry.status_code == 200 and retry.json() == first.json()
        assert (await http.get("/api/v1/approvals/inbox", headers=boss)).json()["total"] == 0

        other = bearer(app, "approval:decide", "price:approve", username="wang.wu")
        late = await http.post(f"/api/v1/approvals/{request_id}/reject", json={"comment": "不同意"}, headers=other)
        assert late.status_code == 409 and "approved" in late.json()["detail"]

        mine = (await http.get("/api/v1/approvals/mine",
                               headers=bearer(app, "approval:read", username="zhang.san"))).json()
        assert [i["status"] for i in mine["items"]] == ["approved"]

    assert await scalar(database_url, "SELECT count(*) FROM business.test_price_applied") == 1
    assert await scalar(database_url, "SELECT string_agg(action, ',' ORDER BY seq) FROM business.audit_log") == \
        "approval.request,approval.approve"
    assert await scalar(database_url, "SELECT count(*) FROM business.outbox") == 2   # requested, decided
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert (await verify(conn)).ok


async def test_the_requester_an_outsider_and_a_missing_permission_are_refused(database_url: str) -> None:
    request_id = await ask(database_url)
    async with served_api(database_url) as (app, http):
        url = f"/api/v1/approvals/{request_id}/approve"
        own = await http.post(url, json={}, headers=bearer(app, "approval:decide", "price:approve",
                                                           username="zhang.san"))
        assert own.status_code == 403 and "自己" in own.json()["detail"]
        outsider = bearer(app, "approval:decide", "price:approve", stations=frozenset({"demo-02"}), username="zhao")
        assert (await http.post(url, json={}, headers=outsider)).status_code == 403
        assert (await http.get("/api/v1/approvals/inbox", headers=outsider)).json()["total"] == 0
        unqualified = bearer(app, "approval:decide", username="qian")
        assert (await http.post(url, json={}, headers=unqualified)).status_code == 403
        assert (await http.post(url, json={}, headers=bearer(app, "approval:read"))).status_code == 403
        assert (await http.post(url, json={})).status_code == 401
        boss = bearer(app, "approval:decide", "price:approve", username="li.si")
        no_reason = await http.post(f"/api/v1/approvals/{request_id}/reject", json={"comment": " "}, headers=boss)
        assert no_reason.status_code == 422 and "原因" in no_reason.json()["detail"]
        missing = await http.post(f"/api/v1/approvals/{uuid.uuid4()}/approve", json={}, headers=boss)
        assert missing.status_code == 404
        rejected = await http.post(f"/api/v1/approvals/{request_id}/reject", json={"comment": "价格过高"},
                                   headers=boss)
        assert rejected.status_code == 200 and rejected.json()["comment"] == "价格过高"
    # the plug-in never ran: the table it makes on its first run is not there
    assert await scalar(database_url, "SELECT to_regclass('business.test_price_applied')") is None


async def test_an_expired_request_is_refused_and_shown_expired(database_url: str) -> None:
    request_id = await ask(database_url, now=datetime.now(UTC) - timedelta(hours=3))   # ttl 2 h: expired
    async with served_api(database_url) as (app, http):
        boss = bearer(app, "approval:decide", "approval:read", "price:approve", username="li.si")
        assert (await http.get("/api/v1/approvals/inbox", headers=boss)).json()["total"] == 0
        refused = await http.post(f"/api/v1/approvals/{request_id}/approve", json={}, headers=boss)
        assert refused.status_code == 409 and "过期" in refused.json()["detail"]
        shown = (await http.get(f"/api/v1/approvals/{request_id}", headers=boss)).json()
        assert shown["status"] == "expired"
        cancel = await http.post(f"/api/v1/approvals/{request_id}/cancel",
                                 headers=bearer(app, "approval:read", username="zhang.san"))
        assert cancel.status_code == 409
    assert await scalar(database_url, "SELECT to_regclass('business.test_price_applied')") is None


async def test_the_requester_cancels_and_a_retry_changes_nothing(database_url: str) -> None:
    request_id = await ask(database_url)
    async with served_api(database_url) as (app, http):
        requester = bearer(app, "approval:read", username="zhang.san")
        other = bearer(app, "approval:read", username="li.si", stations=frozenset({"demo-02"}))
        assert (await http.post(f"/api/v1/approvals/{request_id}/cancel", headers=other)).status_code == 403
        assert (await http.get(f"/api/v1/approvals/{request_id}", headers=other)).status_code == 404
        for _ in range(2):
            done = await http.post(f"/api/v1/approvals/{request_id}/cancel", headers=requester)
            assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert await scalar(database_url, "SELECT count(*) FROM business.audit_log WHERE action = 'approval.cancel'") == 1
