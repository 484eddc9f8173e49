"""Every route with every role: no route is left unprotected, and each answers 401, 403 or its own answer.

The routes are walked from ``control_api.app.ROUTERS`` (every API route the app includes). A route must
carry a ``require(...)`` dependency (its permission read with ``security.permission_of``) unless it is in
``PUBLIC``. Each is called without a login (401; a WebSocket is closed with 4401), then as each seeded
demo user, logged in for real: a role holding the permission gets past the gate (anything but 401/403,
and no server error; a WebSocket is accepted), a role without it gets 403 (4403). Routes with a station
are called again by station-scoped users with a station outside their scope: 403.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute
from starlette.websockets import WebSocketDisconnect

from business_services.access.demo import DemoLogin, seed_demo_company
from business_services.access.model import ROLES, permissions_of
from control_api.app import ROUTERS, create_app
from control_api.customer_security import CUSTOMER, issue_session
from control_api.security import LOGGED_IN, WS_FORBIDDEN, WS_UNAUTHORISED, permission_of

pytestmark = [pytest.mark.integration, pytest.mark.serial]

PUBLIC = {("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/api/v1/auth/token")}   # probes, and logging in
# the payment providers' callbacks: a provider cannot log in; its signature is verified with its SDK instead
PUBLIC |= {("POST", "/api/v1/online-payments/notify/wechatpay"), ("POST", "/api/v1/online-payments/notify/alipay")}
PUBLIC |= {("POST", "/api/v1/online-payments/notify/wechatpay-papay")}   # WeChat Pay's contract notifications
PUBLIC |= {("POST", "/api/v1/bank/notifications")}   # the bank's push of a transfer (银企直连): its HMAC signature
PUBLIC |= {("POST", "/api/v1/h5/login/code"), ("POST", "/api/v1/h5/login"),   # a customer logs in (docs/h5.md)
           ("POST", "/api/v1/h5/login/link")}
IN_SCOPE, OUT_OF_SCOPE = "demo-01", "demo-03"     # every demo user reaches demo-01; the east region not demo-03
PATH_VALUES = {"station": IN_SCOPE, "device": "disp-01", "user_id": "999999", "key_id": "999999",
               "job_id": "00000000-0000-4000-8000-000000000000", "request_id": "00000000-0000-4000-8000-000000000000",
               "fuelling_point": "1", "number": "1", "code": "early", "day": "2026-12-04", "shift": "early",
               "payment_no": "demo-01-20261204-P00001", "order_no": "demo-01-20261204-O00001"}
PATH_VALUES["shift_no"] = "demo-01-20261204-S00001"      # shifts (control_api/routes/shifts.py)
PATH_VALUES["payment_no"] = "demo-01-20261204-P00001"   # online payments (an unknown one: 404 past the gate)
PATH_VALUES |= {"change_no": "PC-20261204-00001", "version": "1", "rule_id": "999999"}   # prices
PATH_VALUES["alarm_id"] = "00000000-0000-4000-8000-000000000000"                          # alarms
PATH_VALUES |= {"route_id": "999999", "contact_id": "999999"}   # notifications
PATH_VALUES["tank"] = "1"                                 # leak tests (control_api/routes/leak_tests.py)
PATH_VALUES["work_order_id"] = "999999"                  # work orders (control_api/routes/work_orders.py)
PATH_VALUES |= {"member_no": "M00000001", "sku": "none-1"}   # points (control_api/routes/points.py)
PATH_VALUES |= {"member_no": "M99999999", "tag_id": "999999", "level": "nosuch", "plate_no": "京A99999",
                "vehicle_id": "999999"}                   # members and vehicles (routes/members.py, vehicles.py)
PATH_VALUES |= {"card_no": "1000113200000001", "counter": "1", "load_no": "demo-01-L0001"}   # IC cards
PATH_VALUES |= {"card": "999999", "offer_id": "999999"}   # cards (control_api/routes/cards.py)
PATH_VALUES["auth_no"] = "demo-01-20261204-A00001"        # fleet authorisations (routes/station_fleets.py)
PATH_VALUES["enterprise"] = "E999999"                     # fleets (control_api/routes/fleets.py)
PATH_VALUES["recognition_id"] = "00000000-0000-4000-8000-000000000000"   # drive-through (routes/drive_through.py)


@dataclass(frozen=True)
class Endpoint:
    method: str          # WS for a WebSocket
    path: str
    permission: str | None


def _dependencies(route: APIRoute | APIWebSocketRoute) -> Iterator[Any]:
    todo = list(route.dependant.dependencies)
    while todo:
        dependant = todo.pop()
        yield dependant.call
        todo.extend(dependant.dependencies)


def _permission(route: APIRoute | APIWebSocketRoute) -> str | None:
    found = {permission_of(call) for call in _dependencies(route)} - {None}
    assert len(found) <= 1, (route.path, found)
    return next(iter(found), None)


def endpoints(routes: list[BaseRoute] | None = None) -> list[Endpoint]:
    found = []
    for route in routes or [route for router in ROUTERS for route in router.routes]:
        if isinstance(route, APIWebSocketRoute):
            found.append(Endpoint("WS", route.path, _permission(route)))
        elif isinstance(route, APIRoute):
            found.extend(Endpoint(m, route.path, _permission(route)) for m in sorted(route.methods))
    return found


def _path(template: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], PATH_VALUES[m[1]]), template)


def _call(client: TestClient, endpoint: Endpoint, token: str | None, **values: str) -> int:
    """The HTTP status, or for a WebSocket its close code (1000 when it was accepted)."""
    path = _path(endpoint.path, **values)
    if endpoint.method == "WS":
        query = f"?access_token={token}" if token else ""
        try:
            with client.websocket_connect(path + query):
                return 1000
        except WebSocketDisconnect as closed:
            return closed.code
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"type": "role.matrix", "data": {}}      # past the gate, every POST and PATCH refuses this (422)
    if endpoint.method in ("POST", "PATCH"):
        headers["Idempotency-Key"] = "role-matrix-0001"
    return client.request(endpoint.method, path, headers=headers,
                          json=body if endpoint.method in ("POST", "PATCH") else None).status_code


@pytest.fixture
def seeded(database_url: str) -> list[DemoLogin]:
    async def seed() -> list[DemoLogin]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await seed_demo_company(conn)
    return asyncio.run(seed())


def test_no_route_is_left_unprotected() -> None:
    open_routes = {(e.method, e.path) for e in endpoints() if e.permission is None}
    assert open_routes == PUBLIC, f"routes without require(...): {sorted(open_routes - PUBLIC)}"
    assert any(e.method == "WS" for e in endpoints())


def test_every_route_with_every_role_and_scope(database_url: str, seeded: list[DemoLogin]) -> None:
    assert sorted(d.role.split()[-1] for d in seeded) == sorted(ROLES)      # one demo user per role
    app = create_app(database_url)
    with TestClient(app) as client:
        tokens = {}
        for demo in seeded:
            answer = client.post("/api/v1/auth/token", data={"username": demo.username, "password": demo.password})
            assert answer.status_code == 200, answer.text
            tokens[demo.role.split()[-1]] = answer.json()["access_token"]
        checked = 0
        for endpoint in endpoints():
            if endpoint.permission is None:
                continue
            ws = endpoint.method == "WS"
            assert _call(client, endpoint, None) == (WS_UNAUTHORISED if ws else 401), endpoint
            for role, token in tokens.items():
                status = _call(client, endpoint, token)
                allowed = endpoint.permission == LOGGED_IN or any(   # "a|b": either permission lets in
                    p in permissions_of([role]) for p in endpoint.permission.split("|"))
                if not allowed:
                    assert status == (WS_FORBIDDEN if ws else 403), (endpoint, role, status)
                    continue
                passed = status == 1000 if ws else status not in (401, 403) and status < 500
                assert passed, (endpoint, role, status)
                if "{station}" in endpoint.path and role in ("regional_manager", "station_manager", "cashier",
                                                             "attendant", "price_display"):
                    outside = _call(client, endpoint, token, station=OUT_OF_SCOPE)
                    assert outside == (WS_FORBIDDEN if ws else 403), (endpoint, role, "outside scope", outside)
                checked += 1
        assert checked > 30


def test_customer_sessions_open_customer_routes_only(database_url: str) -> None:
    """A customer's session (docs/h5.md) passes every customer route's gate and no staff route's (401: its token
    is not a staff token); a link session passes only the routes that take one."""
    app = create_app(database_url)
    with TestClient(app) as client:
        session = issue_session(app.state.tokens, "M00000001")
        linked = issue_session(app.state.tokens, "M00000001", only=PATH_VALUES["recognition_id"])
        customer_routes = 0
        for endpoint in endpoints():
            if endpoint.permission is None:
                continue
            status = _call(client, endpoint, session)
            if endpoint.permission != CUSTOMER:
                assert status == (WS_UNAUTHORISED if endpoint.method == "WS" else 401), (endpoint, status)
                continue
            assert status not in (401, 403) and status < 500, (endpoint, status)
            link_status = _call(client, endpoint, linked)
            assert link_status < 500 and link_status != 401, (endpoint, link_status)
            customer_routes += 1
        assert customer_routes >= 8
