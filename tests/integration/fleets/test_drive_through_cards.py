"""车牌无感支付 on a fleet vehicle card at head office: the fleet manager allows it on a vehicle card (not a driver
card), audited and listed to the stations; an ask by recognised plate then needs no PIN but every limit holds, and
a card that does not allow it is refused (code ``drive_through``)."""

from __future__ import annotations

from typing import Any

import pytest

from control_api.app import create_app
from tests.integration.fleets.card_support import asking, client, connected, scalar, station_key
from tests.support.auth import bearer
from tests.support.fleets import make_enterprise

pytestmark = pytest.mark.integration
CARDS = "/api/v1/fleet-cards"


async def test_a_vehicle_card_pays_by_its_plate_without_the_pin_only_when_allowed(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=500000)
    app = create_app(database_url)
    li, pos = bearer(app, "fleet:read", "fleet:write", "pii:read", username="li"), station_key(app)
    async with client(app) as http:
        issued = await http.post(CARDS, json={"enterprise": enterprise, "holder": "vehicle", "pays_from": "credit",
                                              "plate": "沪A12345", "daily_fen": 30000, "pin": "1357"},
                                 headers=li | {"Idempotency-Key": "dt-card-1"})
        card_no, card_id = issued.json()["card_no"], issued.json()["id"]
        driver = await http.post(CARDS, json={"enterprise": enterprise, "holder": "driver", "pays_from": "credit"},
                                 headers=li | {"Idempotency-Key": "dt-card-2"})

        async def ask(**more: Any) -> tuple[bool, str, int]:
            answer = (await http.post("/api/v1/fleet-authorisations", json=asking(None, plate="沪A12345",
                                                                                  wanted_fen=20000) | more,
                                      headers=pos)).json()
            if answer["allowed"]:
                await http.post(f"/api/v1/fleet-authorisations/{answer['auth_no']}/release", headers=pos)
            return answer["allowed"], answer["code"], answer["preset_fen"]

        assert await ask(drive_through=True) == (False, "drive_through", 0)      # not allowed yet
        url = f"{CARDS}/{card_id}/drive-through"
        assert (await http.put(url, json={"allowed": True}, headers=bearer(app, "fleet:read"))).status_code == 403
        allowed = await http.put(url, json={"allowed": True}, headers=li)
        assert allowed.status_code == 200 and allowed.json() == {"card_no": card_no, "drive_through": True}
        refused = await http.put(f"{CARDS}/{driver.json()['id']}/drive-through", json={"allowed": True}, headers=li)
        assert refused.status_code == 422 and "司机卡" in refused.json()["detail"]
        assert (await http.get(f"{CARDS}/{card_id}", headers=li)).json()["drive_through"] is True
        listed = await scalar(database_url, "SELECT item FROM business.member_list_changes WHERE kind = 'fleet_card' "
                                            "AND key = %s ORDER BY seq DESC LIMIT 1", card_no)
        assert listed["drive_through"] is True

        assert await ask(drive_through=True) == (True, "ok", 20000)              # no PIN asked
        assert (await ask())[:2] == (False, "pin")                                # at the POS the PIN still counts
        assert await ask(drive_through=True, wanted_fen=40000) == (True, "ok", 30000)   # the daily limit holds
        await http.put(url, json={"allowed": False}, headers=li)
        assert (await ask(drive_through=True))[:2] == (False, "drive_through")
    assert await scalar(database_url, "SELECT count(*) FROM business.audit_log WHERE action = "
                                      "'fleet.card.drive_through'") == 2
