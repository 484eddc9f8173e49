"""Authorisation before fuelling at head office (POST /api/v1/fleet-authorisations): the Done-when numbers (a
300-yuan daily limit with 200 used gets a 100-yuan preset, then is refused with the reason), two pumps asking at
once cannot both spend one remainder, a retried ask answers as the first time, release and expiry free the
money, the PIN and its lock, a plate alone finds its card, and a station asks for itself only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from business_services.fleets.authorisation import release_expired
from control_api.app import create_app
from tests.integration.fleets.card_support import (
    AT,
    STATION,
    asking,
    capturing,
    client,
    connected,
    put_on_card,
    scalar,
    station_key,
)
from tests.support.fleets import make_card, make_enterprise

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]
ASK = "/api/v1/fleet-authorisations"


async def test_a_daily_limit_with_200_used_gives_a_100_yuan_preset_then_refuses(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn)
        card_no = await make_card(conn, enterprise, daily_fen=30000)
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        first = await http.post(ASK, json=asking(card_no, wanted_fen=20000), headers=pos)
        assert first.status_code == 200, first.text
        assert first.json()["allowed"] and first.json()["preset_fen"] == 20000
        sale = capturing(card_no, 20000, auth_no=first.json()["auth_no"])
        assert (await http.post("/api/v1/fleet-payments", json=sale, headers=pos)).status_code == 200

        body = asking(card_no)
        second = await http.post(ASK, json=body, headers=pos)
        assert second.json() | {"expires_at": None} == {
            "auth_no": body["auth_no"], "allowed": True, "preset_fen": 10000, "code": "ok",
            "reason": "今日额度剩余 100.00 元", "card_no": card_no, "enterprise": enterprise,
            "enterprise_name": "顺达物流", "plate": None, "expires_at": None, "offline": False}
        retried = await http.post(ASK, json=body, headers=pos)
        assert retried.json() == second.json()
        assert await scalar(database_url, "SELECT count(*) FROM business.fleet_authorisations") == 2
        sale = capturing(card_no, 10000, auth_no=body["auth_no"])
        assert (await http.post("/api/v1/fleet-payments", json=sale, headers=pos)).status_code == 200

        third = await http.post(ASK, json=asking(card_no, nozzle="disp-02/1"), headers=pos)
        assert third.status_code == 200
        assert (third.json()["allowed"], third.json()["code"], third.json()["preset_fen"]) == (False, "daily", 0)
        assert third.json()["reason"].startswith("今日额度已用完")
        refused = await scalar(database_url, "SELECT state || ':' || refusal FROM business.fleet_authorisations "
                                             "WHERE auth_no = %s", third.json()["auth_no"])
        assert refused == f"refused:{third.json()['reason']}"


async def test_two_pumps_at_once_cannot_both_spend_the_last_100_yuan(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, settlement="prepaid", credit_limit_fen=0)
        card_no = await make_card(conn, enterprise, pays_from="card")
    await put_on_card(database_url, enterprise, card_no, 10000)
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        answers = await asyncio.gather(*(http.post(ASK, json=asking(card_no, nozzle=f"disp-0{n}/1"), headers=pos)
                                         for n in range(1, 5)))
    got = sorted((a.json()["allowed"], a.json()["preset_fen"], a.json()["code"]) for a in answers)
    assert got == [(False, 0, "funds")] * 3 + [(True, 10000, "ok")]
    assert await scalar(database_url, "SELECT sum(reserved_fen) FROM business.fleet_authorisations "
                                      "WHERE state = 'reserved'") == 10000


async def test_credit_cards_of_one_enterprise_share_its_line(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=15000)
        one = await make_card(conn, enterprise, serial=1)
        two = await make_card(conn, enterprise, serial=2)
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        answers = await asyncio.gather(http.post(ASK, json=asking(one, wanted_fen=10000), headers=pos),
                                       http.post(ASK, json=asking(two, wanted_fen=10000), headers=pos))
    assert sorted(a.json()["preset_fen"] for a in answers) == [5000, 10000]


async def test_release_and_expiry_free_the_reservation(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=10000)
        card_no = await make_card(conn, enterprise)
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        held = await http.post(ASK, json=asking(card_no), headers=pos)
        assert held.json()["preset_fen"] == 10000
        blocked = await http.post(ASK, json=asking(card_no), headers=pos)
        assert (blocked.json()["allowed"], blocked.json()["code"]) == (False, "funds")
        url = f"{ASK}/{held.json()['auth_no']}/release"
        released = await http.post(url, headers=pos)
        assert released.json() == {"auth_no": held.json()["auth_no"], "state": "released", "released_fen": 10000}
        again = await http.post(url, headers=pos)
        assert again.json() == {"auth_no": held.json()["auth_no"], "state": "released", "released_fen": 0}
        assert (await http.post(f"{ASK}/{STATION}-20261205-A99999/release", headers=pos)).status_code == 404

        later = await http.post(ASK, json=asking(card_no), headers=pos)
        assert later.json()["preset_fen"] == 10000
        async with connected(database_url) as conn:
            assert await release_expired(conn, AT + timedelta(minutes=29)) == 0
            assert await release_expired(conn, AT + timedelta(minutes=30)) == 1
        state = await scalar(database_url, "SELECT state FROM business.fleet_authorisations WHERE auth_no = %s",
                             later.json()["auth_no"])
        assert state == "released"


async def test_a_pin_is_asked_checked_and_locked_after_five_wrong(database_url: str) -> None:
    from business_services.access.handlers import HASHER
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn)
        card_no = await make_card(conn, enterprise, pin_hash=HASHER.hash("246810"))
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        async def code(pin: str | None) -> str:
            answer = await http.post(ASK, json=asking(card_no, pin=pin), headers=pos)
            return str(answer.json()["code"])
        assert await code(None) == "pin"
        assert await code("111111") == "pin"
        assert await code("246810") == "ok"                          # a right PIN clears the count
        assert [await code("111111") for _ in range(5)] == ["pin"] * 4 + ["pin_locked"]
        assert await code("246810") == "pin_locked"
    assert await scalar(database_url, "SELECT count(*) FROM business.audit_log "
                                      "WHERE action = 'fleet.card.pin_locked'") == 1


async def test_a_plate_alone_finds_its_vehicle_card_and_a_wrong_plate_is_refused(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn)
        card_no = await make_card(conn, enterprise, plate="沪A12345")
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        by_plate = await http.post(ASK, json=asking(None, plate="沪A12345", wanted_fen=5000), headers=pos)
        assert (by_plate.json()["card_no"], by_plate.json()["preset_fen"]) == (card_no, 5000)
        other = await http.post(ASK, json=asking(card_no, plate="沪B54321"), headers=pos)
        assert (other.json()["allowed"], other.json()["code"]) == (False, "plate")
        unknown = await http.post(ASK, json=asking(None, plate="沪C00000"), headers=pos)
        assert (unknown.json()["allowed"], unknown.json()["code"]) == (False, "unknown_card")
        neither = await http.post(ASK, json=asking(None), headers=pos)
        assert neither.status_code == 422 and "车队卡" in neither.json()["detail"]


async def test_a_station_asks_for_itself_and_an_auth_no_is_one_ask(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn)
        card_no = await make_card(conn, enterprise)
    app = create_app(database_url)
    async with client(app) as http:
        elsewhere = await http.post(ASK, json=asking(card_no), headers=station_key(app, "demo-02"))
        assert elsewhere.status_code == 403
        body = asking(card_no)
        assert (await http.post(ASK, json=body, headers=station_key(app))).status_code == 200
        reused = await http.post(ASK, json=body | {"nozzle": "disp-09/1"}, headers=station_key(app))
        assert reused.status_code == 409 and "已用于另一次授权" in reused.json()["detail"]
        clerk = await http.post(ASK, json=asking(card_no), headers={"Authorization": "Bearer nope"})
        assert clerk.status_code == 401
