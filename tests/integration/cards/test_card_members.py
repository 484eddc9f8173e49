"""Cards name members that exist (business_services/cards/members.py asks the members views): a card issued,
bound or transferred to an unknown member number is refused naming the field."""

from __future__ import annotations

import pytest

from control_api.app import create_app
from tests.integration.cards.support import STATION, card_type, clerk, client, issue, key

pytestmark = pytest.mark.integration


async def test_cards_go_to_members_that_exist(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app, "li", "member:write")
    async with client(app) as http:
        await card_type(http, li)
        registered = await http.post("/api/v1/members", json={"phone": "13800138000", "source": "back_office"},
                                     headers=li | key())
        assert registered.status_code == 201, registered.text
        member_no = registered.json()["member_no"]
        (card_no,) = await issue(http, li, member_no=member_no)
        unknown = "M99999999"
        refused = await http.post("/api/v1/cards", json={"card_type": "chain-sv", "station": STATION,
                                                         "member_no": unknown}, headers=li | key())
        assert refused.status_code == 422 and unknown in refused.json()["detail"]
        (anonymous,) = await issue(http, li)
        bound = await http.post(f"/api/v1/cards/{anonymous}/binding", json={"member_no": unknown}, headers=li)
        assert bound.status_code == 422
        transfer = await http.post(f"/api/v1/cards/{card_no}/requests", headers=li,
                                   json={"action": "transfer", "reason": "过户", "to_member_no": unknown})
        assert transfer.status_code == 422
