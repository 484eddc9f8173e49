"""The fleets open API (control_api/routes/fleet_open_api.py, business_services/fleets/partners.py): a partner's key
and an enterprise's own user see their enterprise only; scopes narrow, masks hide, pages and ranges hold; keys are
issued, revoked and audited by the enterprise's station only (docs/fleet-open-api.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.access.demo import seed_demo_company
from control_api.app import create_app
from tests.integration.fleets.open_api_support import api_key, clerk, client, fleet, rows, sale
from tests.integration.fleets.settle_support import billed_month
from tests.support.auth import bearer

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]
DAY = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


async def test_a_partner_sees_only_its_enterprise(database_url: str) -> None:
    app = create_app(database_url)
    mine, (truck, van) = await fleet(database_url, "顺达物流", ["粤B12345", "粤B67890"])
    theirs, (other,) = await fleet(database_url, "远通运输", ["沪A11111"])
    await sale(database_url, mine, truck, "粤B12345", 60000, DAY)
    await sale(database_url, theirs, other, "沪A11111", 99000, DAY)
    async with client(app) as http:
        partner = await api_key(http, clerk(app), mine)
        vehicles = (await http.get("/api/v1/open/fleet/vehicles", headers=partner)).json()
        assert vehicles["total"] == 2 and {v["plate"] for v in vehicles["items"]} == {"粤B****5", "粤B****0"}
        assert all("*" in v["card_no"] for v in vehicles["items"])            # no pii scope: masked
        (other_vehicle,) = await rows(database_url, "SELECT id FROM business.fleet_cards WHERE card_no = %s", other)
        stranger = await http.get(f"/api/v1/open/fleet/vehicles/{other_vehicle[0]}", headers=partner)
        assert stranger.status_code == 404, stranger.text
        assert stranger.headers["content-type"].startswith("application/problem+json")
        assert "本企业没有车辆" in stranger.json()["detail"]
        trail = await http.get(f"/api/v1/open/fleet/vehicles/{other_vehicle[0]}/trajectory", headers=partner)
        assert trail.status_code == 404
        fuellings = (await http.get("/api/v1/open/fleet/fuellings", headers=partner)).json()
        assert [f["amount_fen"] for f in fuellings["items"]] == [60000]         # not the other enterprise's 990 yuan
        balances = (await http.get("/api/v1/open/fleet/balances", headers=partner)).json()
        assert balances["debt_fen"] == 60000 and balances["credit_remaining_fen"] == 1_000_000 - 60000
        me = (await http.get("/api/v1/open/fleet/enterprise", headers=partner)).json()
        assert me["code"] == mine and me["scopes"] == ["balances", "fuellings", "vehicles"]
        assert van


async def test_scopes_masks_and_revocation(database_url: str) -> None:
    app = create_app(database_url)
    mine, _ = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http:
        wu = clerk(app)
        narrow = await api_key(http, wu, mine, "vehicles")
        refused = await http.get("/api/v1/open/fleet/balances", headers=narrow)
        assert refused.status_code == 403 and "balances" in refused.json()["detail"]
        full = await api_key(http, wu, mine, "vehicles", "pii")
        (vehicle,) = (await http.get("/api/v1/open/fleet/vehicles", headers=full)).json()["items"]
        assert vehicle["plate"] == "粤B12345" and "*" not in vehicle["card_no"]
        bad = await http.post(f"/api/v1/fleet-enterprises/{mine}/partner-keys", headers=wu, json={"scopes": ["all"]})
        assert bad.status_code == 422 and "授权范围" in bad.json()["detail"]
        listed = (await http.get(f"/api/v1/fleet-enterprises/{mine}/partner-keys", headers=wu)).json()["items"]
        assert len(listed) == 2 and all("key" not in k for k in listed)          # the key itself: shown once
        revoked = await http.delete(f"/api/v1/fleet-enterprises/{mine}/partner-keys/{listed[0]['id']}", headers=wu)
        assert revoked.status_code == 204
        gone = await http.get("/api/v1/open/fleet/vehicles", headers=full)
        assert gone.status_code == 401
        again = await http.delete(f"/api/v1/fleet-enterprises/{mine}/partner-keys/{listed[0]['id']}", headers=wu)
        assert again.status_code == 404
        # a clerk of another station neither issues nor lists this enterprise's keys
        east = clerk(app, frozenset({"demo-03"}))
        assert (await http.post(f"/api/v1/fleet-enterprises/{mine}/partner-keys", headers=east,
                                json={"scopes": ["vehicles"]})).status_code == 403
        assert (await http.get("/api/v1/fleet-enterprises/E999999/partner-keys", headers=wu)).status_code == 404
        # a plain key of the access page, holding fleet:portal but bound to no enterprise
        plain = await http.post("/api/v1/api-keys", headers=bearer(app, "apikey:write", "fleet:portal"),
                                json={"partner": "某平台", "permissions": ["fleet:portal"], "stations": None})
        unbound = await http.get("/api/v1/open/fleet/vehicles", headers={"X-API-Key": plain.json()["key"]})
        assert unbound.status_code == 403 and "未绑定企业" in unbound.json()["detail"]
    audit = await rows(database_url, "SELECT action FROM business.audit_log WHERE action LIKE 'fleet.apikey.%%' "
                                     "ORDER BY seq")
    assert [a for (a,) in audit] == ["fleet.apikey.create", "fleet.apikey.create", "fleet.apikey.revoke"]


async def test_fuellings_page_by_cursor_within_a_range_and_the_trajectory_is_in_time_order(database_url: str
                                                                                          ) -> None:
    app = create_app(database_url)
    mine, (truck, van) = await fleet(database_url, "顺达物流", ["粤B12345", "粤B67890"])
    stations = ["demo-01", "demo-02", "demo-01", "demo-02", "demo-01"]
    for day, station in enumerate(stations):
        await sale(database_url, mine, truck, "粤B12345", 10000 + day, DAY + timedelta(days=day), station=station)
    await sale(database_url, mine, van, "粤B67890", 77700, DAY + timedelta(days=1))
    async with client(app) as http:
        partner = await api_key(http, clerk(app), mine)
        seen: list[int] = []
        cursor = ""
        while True:
            answer = await http.get("/api/v1/open/fleet/fuellings", headers=partner,
                                    params={"limit": 2, "cursor": cursor, "since": DAY.isoformat()})
            assert answer.status_code == 200, answer.text
            seen += [f["amount_fen"] for f in answer.json()["items"]]
            assert answer.json()["total"] == 6
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted([10000, 10001, 10002, 10003, 10004, 77700]) and len(seen) == 6   # none twice
        ranged = await http.get("/api/v1/open/fleet/fuellings", headers=partner, params={
            "since": (DAY + timedelta(days=1)).isoformat(), "until": (DAY + timedelta(days=3)).isoformat()})
        assert sorted(f["amount_fen"] for f in ranged.json()["items"]) == [10001, 10002, 77700]
        naive = await http.get("/api/v1/open/fleet/fuellings", headers=partner, params={"since": "2026-11-03T00:00"})
        assert naive.status_code == 422
        broken = await http.get("/api/v1/open/fleet/fuellings", headers=partner, params={"cursor": "nonsense"})
        assert broken.status_code == 422 and "游标" in broken.json()["detail"]
        (vehicle_id,) = [v["vehicle_id"] for v in (await http.get("/api/v1/open/fleet/vehicles", headers=partner)
                                                  ).json()["items"] if v["plate"].endswith("5")]
        trail = (await http.get(f"/api/v1/open/fleet/vehicles/{vehicle_id}/trajectory", headers=partner)).json()
        assert [s["station"] for s in trail["stops"]] == stations
        assert [s["amount_fen"] for s in trail["stops"]] == [10000, 10001, 10002, 10003, 10004]
        one = (await http.get("/api/v1/open/fleet/fuellings", headers=partner, params={"vehicle_id": vehicle_id})
               ).json()
        assert one["total"] == 5


async def test_an_enterprise_user_sees_its_own_portal(database_url: str) -> None:
    """The demo's fleetclient (role fleet_client), bound to its enterprise by a fleet manager, logs in for real."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        logins = {d.username: d for d in await seed_demo_company(conn)}
        await conn.commit()
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    theirs, _ = await fleet(database_url, "远通运输", ["沪A11111"])
    await sale(database_url, mine, truck, "粤B12345", 50000, DAY)
    async with client(app) as http:
        login = await http.post("/api/v1/auth/token", data={"username": "fleetclient",
                                                            "password": logins["fleetclient"].password})
        client_user = {"Authorization": f"Bearer {login.json()['access_token']}"}
        before = await http.get("/api/v1/open/fleet/vehicles", headers=client_user)
        assert before.status_code == 403                                        # bound to no enterprise yet
        bound = await http.post(f"/api/v1/fleet-enterprises/{theirs}/portal-users", headers=clerk(app, None),
                                json={"username": "fleetclient"})
        assert bound.status_code == 201
        bound = await http.post(f"/api/v1/fleet-enterprises/{mine}/portal-users", headers=clerk(app, None),
                                json={"username": "fleetclient"})                # rebinding moves them
        assert bound.status_code == 201
        vehicles = (await http.get("/api/v1/open/fleet/vehicles", headers=client_user)).json()["items"]
        assert [v["plate"] for v in vehicles] == ["粤B****5"]                    # fleet_client lacks pii:read
        assert (await http.get("/api/v1/open/fleet/balances", headers=client_user)).json()["debt_fen"] == 50000
        nobody = await http.post(f"/api/v1/fleet-enterprises/{mine}/portal-users", headers=clerk(app, None),
                                 json={"username": "nosuchuser"})
        assert nobody.status_code == 404 and "不存在" in nobody.json()["detail"]
        staff = await http.post(f"/api/v1/fleet-enterprises/{mine}/portal-users", headers=clerk(app, None),
                                json={"username": "cashier"})                   # not an enterprise's user
        assert staff.status_code == 422 and "fleet_client" in staff.json()["detail"]
        # a fleet manager's token reaches the management routes, not the open API (no fleet:portal)
        assert (await http.get("/api/v1/open/fleet/vehicles", headers=clerk(app))).status_code == 403


async def test_the_rate_limit_is_per_key_and_shared_by_every_api_process(database_url: str) -> None:
    first, second = create_app(database_url), create_app(database_url)   # two API processes, one database
    mine, _ = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(first) as one, client(second) as two:
        slow = await api_key(one, clerk(first), mine, per_minute=4)
        other = await api_key(one, clerk(first), mine, per_minute=4)
        answers = await asyncio.gather(*(http.get("/api/v1/open/fleet/vehicles", headers=slow)
                                         for http in (one, two, one, two, one, two)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 200, 200, 200, 429, 429], statuses
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1 and "请求过于频繁" in limited.json()["detail"]
        assert (await two.get("/api/v1/open/fleet/vehicles", headers=other)).status_code == 200   # its own bucket


async def test_a_partner_reads_its_statements_and_no_other(database_url: str) -> None:
    app = create_app(database_url)
    mine, number, total = await billed_month(database_url)
    theirs, their_number, _ = await billed_month(database_url, month=10)
    async with client(app) as http:
        partner = await api_key(http, clerk(app), mine, "statements")
        listed = (await http.get("/api/v1/open/fleet/statements", headers=partner)).json()
        assert [(s["statement_no"], s["total_fen"]) for s in listed["items"]] == [(number, total)]
        one = (await http.get(f"/api/v1/open/fleet/statements/{number}", headers=partner)).json()
        assert sum(line["amount_fen"] for line in one["sales_lines"]) - \
            sum(line["amount_fen"] for line in one["refund_lines"]) == total
        assert all("*" in line["card_no"] for line in one["sales_lines"])          # no pii scope: masked
        other = await http.get(f"/api/v1/open/fleet/statements/{their_number}", headers=partner)
        assert other.status_code == 404 and theirs != mine
        vehicles_only = await api_key(http, clerk(app), mine, "vehicles")
        assert (await http.get("/api/v1/open/fleet/statements", headers=vehicles_only)).status_code == 403
