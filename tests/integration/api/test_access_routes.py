"""Logging in and managing access over HTTP, against a real database, as the seeded demo users."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from business_services.access.demo import DemoLogin, seed_demo_company
from control_api.app import create_app
from control_api.routes import commands
from telemetry.contracts.broker import BrokerAddress

pytestmark = pytest.mark.integration


@pytest.fixture
def demo(database_url: str) -> dict[str, DemoLogin]:
    async def seed() -> list[DemoLogin]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await seed_demo_company(conn)
    return {d.username: d for d in asyncio.run(seed())}


@pytest.fixture
def client(database_url: str, broker: BrokerAddress, group: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url, broker, group=group)) as http:
        yield http


def _login(http: TestClient, username: str, password: str, agent: str = "pytest") -> Any:
    return http.post("/api/v1/auth/token", data={"username": username, "password": password},
                     headers={"User-Agent": agent})


def _auth(http: TestClient, who: DemoLogin) -> dict[str, str]:
    answer = _login(http, who.username, who.password)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _rows(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_right_login_gives_a_token_and_me_shows_roles_stations_and_menus(
        client: TestClient, demo: dict[str, DemoLogin], database_url: str) -> None:
    answer = _login(client, "cashier", demo["cashier"].password)
    assert answer.status_code == 200 and answer.json()["expires_in"] > 0
    assert answer.json()["token_type"] == "bearer"  # noqa: S105 (the OAuth2 token type)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}).json()
    assert me["user"]["username"] == "cashier" and me["user"]["display_name"] == "赵收银"
    assert me["roles"] == ["cashier"] and "device:command" in me["permissions"]
    assert me["stations"] == [{"code": "demo-01", "name": "畅加测试站"}]
    pages = {child["path"] for group in me["menus"] for child in group["children"]}
    assert "/equipment/devices" in pages and "/system/users" not in pages
    assert _rows(database_url, "SELECT result, user_agent FROM business.access_login_log WHERE username = %s",
                 "cashier") == [("ok", "pytest")]
    assert _rows(database_url, "SELECT actor, action FROM business.audit_log WHERE action LIKE 'auth.%%'") == [
        ("cashier", "auth.login")]


def test_wrong_credentials_are_401_problems_and_logged(client: TestClient, demo: dict[str, DemoLogin],
                                                       database_url: str) -> None:
    wrong = _login(client, "cashier", "not-the-password-1")
    nobody = _login(client, "nobody", "whatever-1234")
    for answer in (wrong, nobody):
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"].startswith("用户名或密码错误")       # the same: no user enumeration
        assert answer.json()["type"] == "https://forecourt.dev/problems/unauthorized" and answer.json()["title"]
    results = _rows(database_url, "SELECT username, result FROM business.access_login_log ORDER BY id")
    assert results == [("cashier", "wrong_password"), ("nobody", "unknown_user")]
    assert [a for (a,) in _rows(database_url, "SELECT action FROM business.audit_log ORDER BY seq")
            if a.startswith("auth")] == ["auth.login_failed", "auth.login_failed"]


def test_five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(
        client: TestClient, demo: dict[str, DemoLogin], database_url: str) -> None:
    statuses = [_login(client, "attendant", f"wrong-password-{n}").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    locked = _login(client, "attendant", demo["attendant"].password)     # even the right password
    assert locked.status_code == 423 and "已锁定" in locked.json()["detail"]
    admin = _auth(client, demo["admin"])
    [user] = client.get("/api/v1/users", params={"status": "locked"}, headers=admin).json()["items"]
    assert user["username"] == "attendant" and user["locked"] is True
    assert client.post(f"/api/v1/users/{user['id']}/unlock", headers=admin).status_code == 204
    assert _login(client, "attendant", demo["attendant"].password).status_code == 200
    assert ("access.user.unlock",) in _rows(database_url, "SELECT action FROM business.audit_log")


def test_a_disabled_user_cannot_log_in_and_its_token_stops_at_once(client: TestClient,
                                                                     demo: dict[str, DemoLogin]) -> None:
    admin = _auth(client, demo["admin"])
    held = _auth(client, demo["marketing"])
    assert client.get("/api/v1/me", headers=held).status_code == 200
    [user] = client.get("/api/v1/users", params={"q": "marketing"}, headers=admin).json()["items"]
    edit = client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={
        "display_name": user["display_name"], "roles": user["roles"], "units": user["units"], "disabled": True})
    assert edit.status_code == 204, edit.text
    answer = _login(client, "marketing", demo["marketing"].password)
    assert answer.status_code == 401 and "停用" in answer.json()["detail"]
    stale = client.get("/api/v1/me", headers=held)
    assert stale.status_code == 401 and "重新登录" in stale.json()["detail"]


def test_a_change_of_roles_ends_the_tokens_issued_before_it(client: TestClient, demo: dict[str, DemoLogin]) -> None:
    admin = _auth(client, demo["admin"])
    held = _auth(client, demo["cashier"])
    [user] = client.get("/api/v1/users", params={"q": "cashier"}, headers=admin).json()["items"]
    unchanged = {"display_name": user["display_name"], "roles": user["roles"], "units": user["units"],
                 "disabled": False}
    assert client.patch(f"/api/v1/users/{user['id']}", headers=admin, json=unchanged).status_code == 204
    assert client.get("/api/v1/me", headers=held).status_code == 200           # nothing changed: still valid
    demoted = unchanged | {"roles": ["attendant"]}
    assert client.patch(f"/api/v1/users/{user['id']}", headers=admin, json=demoted).status_code == 204
    assert client.get("/api/v1/me", headers=held).status_code == 401          # its cashier token is over
    fresh = _auth(client, demo["cashier"])
    assert client.get("/api/v1/me", headers=fresh).json()["roles"] == ["attendant"]


def test_password_change_and_admin_reset(client: TestClient, demo: dict[str, DemoLogin], database_url: str) -> None:
    me = _auth(client, demo["finance"])
    weak = client.post("/api/v1/me/password", headers=me, json={"old_password": demo["finance"].password,
                                                               "new_password": "short"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    wrong_old = client.post("/api/v1/me/password", headers=me, json={"old_password": "nope-nope-1",
                                                                    "new_password": "Better-pass-2026"})
    assert wrong_old.status_code == 422 and wrong_old.json()["errors"][0]["field"] == "old_password"
    assert client.post("/api/v1/me/password", headers=me, json={"old_password": demo["finance"].password,
                                                                "new_password": "Better-pass-2026"}).status_code == 204
    assert client.get("/api/v1/me", headers=me).status_code == 401          # tokens of the old password end
    assert _login(client, "finance", demo["finance"].password).status_code == 401
    assert _login(client, "finance", "Better-pass-2026").status_code == 200

    admin = _auth(client, demo["admin"])
    [user] = client.get("/api/v1/users", params={"q": "finance"}, headers=admin).json()["items"]
    reset = client.post(f"/api/v1/users/{user['id']}/password-reset", headers=admin)
    assert reset.status_code == 200
    assert _login(client, "finance", "Better-pass-2026").status_code == 401
    assert _login(client, "finance", reset.json()["password"]).status_code == 200
    actions = [a for (a,) in _rows(database_url, "SELECT action FROM business.audit_log ORDER BY seq")]
    assert "access.password.change" in actions and "access.password.reset" in actions


def test_users_are_created_listed_with_filters_and_masked_phones(client: TestClient,
                                                                 demo: dict[str, DemoLogin]) -> None:
    admin = _auth(client, demo["admin"])
    new = {"username": "xiaoli", "display_name": "小李", "password": "Xiao-li-2026", "roles": ["cashier"],
           "units": ["demo-02"], "phone": "13812345678"}
    created = client.post("/api/v1/users", headers=admin, json=new)
    assert created.status_code == 201, created.text
    again = client.post("/api/v1/users", headers=admin, json=new)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "username"
    wrong_unit = client.post("/api/v1/users", headers=admin, json=new | {"username": "xiaowang", "units": ["east"]})
    assert wrong_unit.status_code == 422 and "只能分配到站点" in wrong_unit.json()["detail"]

    page = client.get("/api/v1/users", params={"station": "demo-02", "role": "cashier"}, headers=admin).json()
    assert [u["username"] for u in page["items"]] == ["xiaoli"] and page["total"] == 1
    assert page["items"][0]["phone"] == "13812345678"               # the admin holds pii:read
    region = _auth(client, demo["region"])                           # user:read, no pii:read
    seen = client.get("/api/v1/users", params={"q": "xiao"}, headers=region).json()["items"]
    assert seen[0]["phone"] == "138****5678"

    first = client.get("/api/v1/users", params={"limit": 4, "sort": "-username"}, headers=admin).json()
    second = client.get("/api/v1/users", params={"limit": 4, "sort": "-username", "cursor": first["next_cursor"]},
                        headers=admin).json()
    names = [u["username"] for u in first["items"] + second["items"]]
    assert names == sorted(names, reverse=True) and len(set(names)) == 8 and first["total"] == 13
    bad = client.get("/api/v1/users", params={"cursor": "!!"}, headers=admin)
    assert bad.status_code == 422 and "游标" in bad.json()["detail"]


def test_a_regional_manager_sees_only_users_of_the_region(client: TestClient, demo: dict[str, DemoLogin]) -> None:
    region = _auth(client, demo["region"])
    names = {u["username"] for u in client.get("/api/v1/users", params={"limit": 100}, headers=region).json()["items"]}
    assert {"cashier", "manager", "region", "admin"} <= names       # admin reaches every station, so demo-01 too
    admin = _auth(client, demo["admin"])
    client.post("/api/v1/users", headers=admin, json={"username": "west1", "display_name": "西站收银",
                                                      "password": "West-one-2026", "roles": ["cashier"],
                                                      "units": ["demo-03"]})
    names = {u["username"] for u in client.get("/api/v1/users", params={"limit": 100}, headers=region).json()["items"]}
    assert "west1" not in names


def test_an_api_key_acts_with_its_own_permissions_and_stations_until_revoked(
        client: TestClient, demo: dict[str, DemoLogin], database_url: str) -> None:
    admin = _auth(client, demo["admin"])
    made = client.post("/api/v1/api-keys", headers=admin, json={"partner": "车队平台", "permissions": ["fuelling:read"],
                                                                "stations": ["demo-01"]})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    partner = {"X-API-Key": key}
    assert client.get("/api/v1/stations/demo-01/fuelling-transactions", headers=partner).status_code == 200
    assert client.get("/api/v1/stations/demo-02/fuelling-transactions", headers=partner).status_code == 403
    assert client.get("/api/v1/stations/demo-01/devices/disp-01/latest", headers=partner).status_code == 403
    listed = client.get("/api/v1/api-keys", headers=admin).json()["items"]
    assert [k["prefix"] for k in listed] == [made.json()["prefix"]] and key not in str(listed)
    assert _rows(database_url, "SELECT count(*) FROM business.access_api_keys WHERE digest = %s", key.encode()) == [
        (0,)]                                                        # only a digest is stored
    assert client.delete(f"/api/v1/api-keys/{made.json()['id']}", headers=admin).status_code == 204
    revoked = client.get("/api/v1/stations/demo-01/fuelling-transactions", headers=partner)
    assert revoked.status_code == 401 and "吊销" in revoked.json()["detail"]
    forged = client.get("/api/v1/stations/demo-01/fuelling-transactions", headers={"X-API-Key": key[:-2] + "xx"})
    assert forged.status_code == 401
    beyond = client.post("/api/v1/api-keys", headers=_auth(client, demo["region"]),
                         json={"partner": "x", "permissions": ["fuelling:read"]})
    assert beyond.status_code == 403                                # apikey:write is the admin's


def test_the_login_log_lists_newest_first(client: TestClient, demo: dict[str, DemoLogin]) -> None:
    _login(client, "cashier", "wrong-password-9", agent="pos-terminal/1.0")
    auditor = _auth(client, demo["auditor"])
    page = client.get("/api/v1/login-log", headers=auditor).json()
    assert [(r["username"], r["result"]) for r in page["items"]] == [("auditor", "ok"), ("cashier", "wrong_password")]
    assert page["items"][1]["user_agent"] == "pos-terminal/1.0" and page["items"][0]["at"].endswith(("Z", "+00:00"))
    assert client.get("/api/v1/login-log", headers=_auth(client, demo["cashier"])).status_code == 403


def test_a_cashier_of_station_a_cannot_authorise_a_pump_at_station_b(client: TestClient,
                                                                      demo: dict[str, DemoLogin]) -> None:
    cashier = _auth(client, demo["cashier"]) | {"Idempotency-Key": "cashier-b-0001"}
    command = {"type": "command.authorize_nozzle", "data": {"device": "disp-01", "fuelling_point": 1, "nozzle": 1,
                                                            "preset_type": "volume", "preset_value": 150}}
    answer = client.post("/api/v1/stations/demo-02/commands", headers=cashier, json=command)
    assert answer.status_code == 403 and "demo-02" in answer.json()["detail"]
    assert answer.json()["type"] == "https://forecourt.dev/problems/forbidden" and answer.json()["title"] == "无权访问"
    attendant = _auth(client, demo["attendant"]) | {"Idempotency-Key": "attendant-a-0001"}
    assert client.post("/api/v1/stations/demo-01/commands", headers=attendant, json=command).status_code == 403


def test_a_retried_command_is_sent_once_and_answered_the_same(client: TestClient, demo: dict[str, DemoLogin],
                                                              database_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "ACK_WAIT_S", 0.5)      # no edge node answers: the first try times out (504)
    manager = _auth(client, demo["manager"]) | {"Idempotency-Key": "stop-fp1-0001"}
    command = {"type": "command.stop_fuelling", "data": {"device": "disp-01", "fuelling_point": 1}}
    first = client.post("/api/v1/stations/demo-01/commands", headers=manager, json=command)
    retry = client.post("/api/v1/stations/demo-01/commands", headers=manager, json=command)
    assert first.status_code == retry.status_code == 504 and retry.json()["detail"] == first.json()["detail"]
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = client.post("/api/v1/stations/demo-01/commands", headers=manager,
                        json=command | {"data": {"device": "disp-01", "fuelling_point": 2}})
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    sent = _rows(database_url, "SELECT actor, station, target FROM business.audit_log WHERE action = %s",
                 "command.stop_fuelling")
    assert sent == [("manager", "demo-01", "demo-01/disp-01")]        # audited, and sent, once
    missing = client.post("/api/v1/stations/demo-01/commands", headers=_auth(client, demo["manager"]), json=command)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "Idempotency-Key"
