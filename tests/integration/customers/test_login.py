"""The customer H5's login (docs/h5.md) over HTTP, codes sent through the messaging simulator's Aliyun SMS: a
member's phone gets a code and logs in with it once; a wrong code is counted and the sixth guess is refused even
when right; an expired code is refused; a phone asks once a minute; a phone of no member gets no SMS and the same
answer; the session is a customer's, refused by staff routes, and a staff token is refused by customer routes."""

from __future__ import annotations

import psycopg
import pytest

from control_api.app import create_app
from tests.integration.cards import support as cards
from tests.integration.notifications.support import messaging_sim
from tests.support.auth import bearer

pytestmark = pytest.mark.integration
PHONE = "13900000001"       # cards.member(…, 1)


def codes(received: dict[str, object]) -> list[str]:
    return [m["TemplateParam"]["code"] for m in received["received"]   # type: ignore[attr-defined, index]
            if m["TemplateCode"] == "SMS_0000002"]                     # type: ignore[index]


async def test_a_member_logs_in_by_sms_code_once_within_its_limits(database_url: str) -> None:
    app = create_app(database_url)
    async with messaging_sim() as messaging, cards.client(app) as http:
        app.state.messaging = messaging.config
        li = cards.clerk(app, "li", "member:read")
        member_no = await cards.member(http, li, 1)

        sent = await http.post("/api/v1/h5/login/code", json={"phone": PHONE})
        assert sent.status_code == 200, sent.text
        [code] = codes(await messaging.received("sms"))
        again = await http.post("/api/v1/h5/login/code", json={"phone": PHONE})
        assert again.status_code == 429 and "1 分钟" in again.json()["detail"]
        nobody = await http.post("/api/v1/h5/login/code", json={"phone": "13700000009"})
        assert nobody.status_code == 200 and nobody.json() == sent.json()      # the same answer, no SMS
        assert len(codes(await messaging.received("sms"))) == 1
        assert (await http.post("/api/v1/h5/login/code", json={"phone": "12345"})).status_code == 422

        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            refused = await http.post("/api/v1/h5/login", json={"phone": PHONE, "code": wrong})
            assert refused.status_code == 422 and "验证码错误" in refused.json()["detail"]
        exhausted = await http.post("/api/v1/h5/login", json={"phone": PHONE, "code": code})
        assert exhausted.status_code == 422 and "次数过多" in exhausted.json()["detail"]

        # a fresh code (the minute has passed: the first one moved back in time), right the first time, works once
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE business.customer_login_codes SET sent_at = sent_at - interval '2 minutes'")
        assert (await http.post("/api/v1/h5/login/code", json={"phone": PHONE})).status_code == 200
        fresh = codes(await messaging.received("sms"))[-1]
        session = await http.post("/api/v1/h5/login", json={"phone": PHONE, "code": fresh})
        assert session.status_code == 200, session.text
        assert session.json()["member_no"] == member_no
        reused = await http.post("/api/v1/h5/login", json={"phone": PHONE, "code": fresh})
        assert reused.status_code == 422

        customer = {"Authorization": f"Bearer {session.json()['access_token']}"}
        me = await http.get("/api/v1/h5/me", headers=customer)
        assert me.status_code == 200 and me.json()["phone_masked"] == "139****0001"
        assert (await http.get("/api/v1/h5/me")).status_code == 401
        staff = bearer(app, "member:read", "pii:read")
        assert (await http.get("/api/v1/h5/me", headers=staff)).status_code == 403
        assert (await http.get(f"/api/v1/members/{member_no}", headers=customer)).status_code == 401

        # a code past its five minutes is refused
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE business.customer_login_codes SET sent_at = sent_at - interval '1 hour', "
                               "expires_at = expires_at - interval '1 hour'")
        assert (await http.post("/api/v1/h5/login/code", json={"phone": PHONE})).status_code == 200
        late = codes(await messaging.received("sms"))[-1]
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE business.customer_login_codes SET sent_at = now() - interval '6 minutes', "
                               "expires_at = now() - interval '1 minute' WHERE used_at IS NULL")
        expired = await http.post("/api/v1/h5/login", json={"phone": PHONE, "code": late})
        assert expired.status_code == 422 and "过期" in expired.json()["detail"]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        stored = await (await conn.execute("SELECT digest FROM business.customer_login_codes")).fetchall()
    assert stored and all(bytes(d) != code.encode() for (d,) in stored)     # only digests are kept
