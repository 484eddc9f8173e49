"""Notification routes over the API (control_api/routes/notifications.py): the permissions, the routing table
with its checks, Idempotency-Key and audit, station scope, contacts with phones masked without ``pii:read``,
and what was sent for an alarm."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from business_services.notifications import jobs
from business_services.notifications.model import Step
from control_api.app import create_app
from forecourt.roles import Role
from telemetry.contracts.broker import BrokerAddress
from tests.integration.notifications.support import PHONE, STATION, contact, route, save, transition
from tests.integration.notifications.test_notify import deliver
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

ADMIN = ("alarm:read", "alarm:configure", "pii:read")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def sms_route(station: str | None = STATION, **extra: object) -> dict[str, object]:
    return {"name": "加油区燃气报警", "rule": "gas.*", "min_priority": "high", "station": station,
            "steps": [{"channel": "sms", "groups": ["duty"]},
                      {"after_minutes": 5, "channel": "sms", "contacts": [1]}], **extra}


async def test_routes_need_a_login_and_alarm_configure_and_a_retry_makes_one_route(database_url: str) -> None:
    app = create_app(database_url)
    admin = bearer(app, *ADMIN, username="admin")
    reader = bearer(app, "alarm:read", username="reader")
    async with client(app) as http:
        assert (await http.get("/api/v1/notification-routes")).status_code == 401
        assert (await http.post("/api/v1/notification-routes", json=sms_route(), headers=reader | {
            "Idempotency-Key": "k-00000001"})).status_code == 403
        key = {"Idempotency-Key": "k-00000002"}
        first = await http.post("/api/v1/notification-routes", json=sms_route(), headers=admin | key)
        again = await http.post("/api/v1/notification-routes", json=sms_route(), headers=admin | key)
        assert first.status_code == 201, first.text
        assert again.json()["id"] == first.json()["id"]
        listed = (await http.get("/api/v1/notification-routes", headers=reader)).json()
        assert listed["total"] == 1
        assert listed["items"][0]["steps"][1] == {"after_minutes": 5.0, "channel": "sms", "contacts": [1],
                                                  "groups": [], "webhook_url": ""}

        route_id = first.json()["id"]
        changed = await http.put(f"/api/v1/notification-routes/{route_id}", headers=admin,
                                 json=sms_route(enabled=False))
        assert changed.status_code == 200 and changed.json()["enabled"] is False
        assert (await http.delete(f"/api/v1/notification-routes/{route_id}", headers=admin)).status_code == 204
        assert (await http.delete(f"/api/v1/notification-routes/{route_id}", headers=admin)).status_code == 404
        assert (await http.get(f"/api/v1/notification-routes/{route_id}", headers=admin)).status_code == 404
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        actions = await (await conn.execute("SELECT action, actor FROM business.audit_log WHERE target = %s "
                                            "ORDER BY seq", (f"notification-route:{route_id}",))).fetchall()
    assert actions == [("notification.route.save", "admin"), ("notification.route.save", "admin"),
                       ("notification.route.delete", "admin")]


@pytest.mark.parametrize(("body", "complaint"), [
    (sms_route(steps=[{"channel": "webhook"}]), "webhook_url"),
    (sms_route(steps=[{"channel": "sms"}]), "contacts or groups"),
    (sms_route(steps=[{"channel": "sms", "groups": ["a"], "after_minutes": 5},
                      {"channel": "sms", "groups": ["b"], "after_minutes": 5}]), "later than the one before"),
    (sms_route(steps=[]), "steps"),
    (sms_route(min_priority="journal"), "min_priority"),
    (sms_route(rule="gas level"), "rule"),
])
async def test_a_bad_route_is_refused_saying_what_to_change(database_url: str, body: dict[str, object],
                                                            complaint: str) -> None:
    app = create_app(database_url)
    async with client(app) as http:
        answer = await http.post("/api/v1/notification-routes", json=body,
                                 headers=bearer(app, *ADMIN) | {"Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert answer.status_code == 422
    assert complaint in answer.text


async def test_a_station_scoped_configurer_keeps_to_its_stations(database_url: str) -> None:
    app = create_app(database_url)
    admin = bearer(app, *ADMIN)
    manager = bearer(app, "alarm:read", "alarm:configure", stations=frozenset({STATION}), username="zhan")
    async with client(app) as http:
        async def add(headers: dict[str, str], station: str | None) -> httpx.Response:
            return await http.post("/api/v1/notification-routes", json=sms_route(station),
                                   headers=headers | {"Idempotency-Key": f"k-{uuid.uuid4()}"})

        assert (await add(manager, STATION)).status_code == 201
        assert (await add(manager, "demo-03")).status_code == 403
        assert (await add(manager, None)).status_code == 403         # company-wide routes are head office's
        other = (await add(admin, "demo-03")).json()["id"]
        assert (await add(admin, None)).status_code == 201
        seen = (await http.get("/api/v1/notification-routes", headers=manager)).json()
        assert sorted(str(r["station"]) for r in seen["items"]) == ["None", STATION]
        assert (await http.get(f"/api/v1/notification-routes/{other}", headers=manager)).status_code == 404
        assert (await http.delete(f"/api/v1/notification-routes/{other}", headers=manager)).status_code == 404


async def test_contacts_phones_are_masked_without_pii_read(database_url: str) -> None:
    app = create_app(database_url)
    admin = bearer(app, *ADMIN)
    reader = bearer(app, "alarm:read")
    async with client(app) as http:
        made = await http.post("/api/v1/notification-contacts", headers=admin | {"Idempotency-Key": "c-00000001"},
                               json={"name": "李站长", "phone": PHONE, "groups": ["duty"]})
        assert made.status_code == 201 and made.json()["phone"] == PHONE
        bad = await http.post("/api/v1/notification-contacts", headers=admin | {"Idempotency-Key": "c-00000002"},
                              json={"name": "错号", "phone": "12345"})
        assert bad.status_code == 422
        listed = (await http.get("/api/v1/notification-contacts", headers=reader)).json()["items"]
        assert [(c["name"], c["phone"]) for c in listed] == [("李站长", "138****5678")]
        scoped = bearer(app, *ADMIN, stations=frozenset({STATION}))
        assert (await http.post("/api/v1/notification-contacts", headers=scoped | {"Idempotency-Key": "c-00000003"},
                                json={"name": "王", "phone": PHONE})).status_code == 403
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        audited = await (await conn.execute("SELECT after FROM business.audit_log "
                                            "WHERE action = 'notification.contact.save'")).fetchall()
    assert audited[0][0]["phone"] == PHONE    # the chain keeps it; the audit view masks it (docs/audit.md)


async def test_what_was_sent_for_an_alarm(database_url: str, broker: BrokerAddress) -> None:
    (li,) = await save(database_url, contact("李站长"))
    (route_id,) = await save(database_url, route(Step(0, "sms", contacts=(li,))))
    alarm_id = uuid.uuid4()
    await deliver(database_url, broker, transition(alarm_id=alarm_id))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await jobs.run_step(conn, alarm_id, route_id, 0, datetime.now(UTC)) == 1   # written, not yet sent
    app = create_app(database_url)
    async with client(app) as http:
        answer = await http.get(f"/api/v1/notifications?alarm_id={alarm_id}", headers=bearer(app, "alarm:read"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [(d["channel"], d["recipient_name"], d["address"], d["status"]) for d in body["items"]] == \
            [("sms", "李站长", "138****5678", "pending")]
        assert [(s["step"], s["status"]) for s in body["steps"]] == [(0, "done")]
        full = (await http.get(f"/api/v1/notifications?alarm_id={alarm_id}",
                               headers=bearer(app, "alarm:read", "pii:read"))).json()
        assert full["items"][0]["address"] == PHONE
        elsewhere = bearer(app, "alarm:read", stations=frozenset({"demo-03"}))
        assert (await http.get(f"/api/v1/notifications?alarm_id={alarm_id}", headers=elsewhere)).status_code == 403
        assert (await http.get("/api/v1/notifications", headers=elsewhere)).json()["total"] == 0


async def test_a_station_server_has_no_notification_routes(station_database_url: str) -> None:
    app = create_app(station_database_url, role=Role.STATION)
    async with client(app) as http:
        for path in ("/api/v1/notification-routes", "/api/v1/notification-contacts", "/api/v1/notifications"):
            answer = await http.get(path, headers=bearer(app, *ADMIN))
            assert answer.status_code == 404 and "总部" in answer.text, path
