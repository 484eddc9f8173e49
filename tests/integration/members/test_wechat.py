"""WeChat quick registration over HTTP (control_api/routes/members.py ``POST /api/v1/members/wechat``;
business_services/members/wechat.py): the control API on a real port, on real PostgreSQL, asking the messaging
simulator on a real port as it would ask WeChat (jscode2session, getuserphonenumber, the mini program's token).
A person's codes come from the simulator's ``/_sim/wechat-users`` (what wx.login and the phone button give)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import niquests
import psycopg
import pytest

from business_services.access.demo import seed_demo_company
from business_services.members.wechat import MiniProgram, MiniProgramConfig
from tests.integration.notifications.support import Messaging, messaging_sim
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

PHONE, POS_PHONE, OTHER = "13800138001", "13800138002", "13800138003"
MINI = ("member:register", "member:read")      # the mini program's backend: an API key like the POS's
FULL = ("member:read", "member:write", "pii:read")


async def _rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(query, params)   # type: ignore[arg-type]
        return list(await cur.fetchall())


async def _seeded(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await seed_demo_company(conn)


async def person(messaging: Messaging, phone: str) -> dict[str, str]:
    """A person opens the mini program: their openid and the two fresh codes."""
    async with niquests.AsyncSession() as http:
        answer = await http.post(f"{messaging.url}/_sim/wechat-users", json={"phone": phone})
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]


def mini_of(messaging: Messaging, timeout_s: float = 2.0, secret: str | None = None) -> MiniProgram:
    keys = messaging.sim.keys
    return MiniProgram(MiniProgramConfig(keys.mini_appid, secret or keys.mini_secret, messaging.url, timeout_s))


def codes(p: dict[str, str], **more: str) -> dict[str, str]:
    return {"login_code": p["login_code"], "phone_code": p["phone_code"], **more}


def key(n: int) -> dict[str, str]:
    return {"Idempotency-Key": f"wechat-test-{n:04d}"}


async def post(http: httpx.AsyncClient, body: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return await http.post("/api/v1/members/wechat", json=body, headers=headers)


async def test_a_new_member_from_wechat_then_the_same_person_again_is_the_same_member(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    await _seeded(database_url)
    caplog.set_level(logging.INFO)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        mini, li = bearer(app, *MINI, username="mini"), bearer(app, *FULL, username="li")
        first = await person(messaging, PHONE)
        new = await post(http, codes(first), {**mini, **key(1)})
        assert new.status_code == 201, new.text
        assert new.json()["created"] is True and new.json()["phone"] == "138****8001"   # no pii:read: masked
        assert new.json()["level"] == "normal"
        no = new.json()["member_no"]
        replay = await post(http, codes(first), {**mini, **key(1)})      # a retry: the first answer, WeChat not asked
        assert replay.status_code == 201 and replay.json() == new.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert len((await messaging.received("wechat-mini"))["received"]) == 2    # one session, one phone

        stored = await _rows(database_url, "SELECT source, phone, wechat_openid, wechat_unionid, station "
                                           "FROM business.members WHERE member_no = %s", no)
        assert stored == [("wechat", PHONE, first["openid"], first["unionid"], None)]

        again = await person(messaging, PHONE)          # the same person opens the mini program again: new codes
        assert again["openid"] == first["openid"] and again["login_code"] != first["login_code"]
        known = await post(http, codes(again), {**mini, **key(2)})
        assert known.status_code == 200, known.text
        assert known.json()["member_no"] == no and known.json()["created"] is False
        assert (await _rows(database_url, "SELECT count(*) FROM business.members"))[0][0] == 1

        profile = (await http.get(f"/api/v1/members/{no}", headers=li)).json()["profile"]
        assert profile["wechat_openid"] == first["openid"] and profile["source"] == "wechat"
        masked = (await http.get(f"/api/v1/members/{no}", headers=bearer(app, "member:read"))).json()["profile"]
        assert masked["wechat_openid"] == first["openid"][:4] + "****" + first["openid"][-4:]
        found = await http.get("/api/v1/members/lookup", params={"openid": first["openid"]}, headers=mini)
        assert found.status_code == 200 and found.json()["member_no"] == no
        nobody = await http.get("/api/v1/members/lookup", params={"openid": "oNobody1234567890"}, headers=mini)
        assert nobody.status_code == 404

        audit = await _rows(database_url, "SELECT action, after FROM business.audit_log WHERE target = %s "
                                          "ORDER BY seq", f"member:{no}")
        assert [a for a, _ in audit] == ["members.register", "members.wechat_bind"]
        assert audit[1][1]["wechat_openid"] == masked["wechat_openid"]           # kept masked in the audit chain
    ours = ("business_services", "control_api", "forecourt")     # (the test's own HTTP client logs its URLs)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(ours))
    assert no in logged
    assert PHONE not in logged and first["openid"] not in logged and first["unionid"] not in logged


async def test_a_phone_registered_at_the_pos_is_bound_to_its_wechat(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        cashier = bearer(app, "member:register", "member:read", stations=frozenset({"demo-01"}), username="cash")
        at_pos = await http.post("/api/v1/members", json={"phone": POS_PHONE, "source": "pos", "name": "王五",
                                                          "station": "demo-01"}, headers={**cashier, **key(1)})
        assert at_pos.status_code == 201, at_pos.text
        p = await person(messaging, POS_PHONE)
        nameless = await post(http, codes(p), {**cashier, **key(2)})     # a station's caller names its station
        assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "station"
        outside = await post(http, codes(p, station="demo-03"), {**cashier, **key(3)})
        assert outside.status_code == 403
        bound = await post(http, codes(p, station="demo-01"), {**cashier, **key(4)})
        assert bound.status_code == 200, bound.text
        assert bound.json()["member_no"] == at_pos.json()["member_no"] and bound.json()["created"] is False
        stored = await _rows(database_url, "SELECT source, name, station, wechat_openid FROM business.members")
        assert stored == [("pos", "王五", "demo-01", p["openid"])]           # the POS's member, now with its WeChat


async def test_refused_codes_say_what_to_do_and_write_nothing(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        mini = bearer(app, *MINI, username="mini")
        used = await person(messaging, OTHER)
        async with niquests.AsyncSession() as direct:     # someone else exchanged the login code already
            (await direct.get(f"{messaging.url}/sns/jscode2session", params={
                "appid": messaging.sim.keys.mini_appid, "secret": messaging.sim.keys.mini_secret,
                "js_code": used["login_code"], "grant_type": "authorization_code"})).raise_for_status()
        again = await post(http, codes(used), {**mini, **key(1)})
        assert again.status_code == 409, again.text
        assert again.json()["detail"].startswith("微信授权码已使用过，请重新授权")
        assert again.json()["errors"] == [{"field": "login_code", "message": again.json()["detail"]}]
        retry = await post(http, codes(used), {**mini, **key(1)})   # the same key asks again (nothing was done)
        assert retry.status_code == 409 and "Idempotent-Replayed" not in retry.headers

        expired = await person(messaging, OTHER)
        await messaging.fault(wechat_expire_codes=True)
        late = await post(http, codes(expired), {**mini, **key(2)})
        assert late.status_code == 422 and late.json()["detail"].startswith("微信授权已过期，请重新授权")

        fresh = await person(messaging, OTHER)
        bad_phone = await post(http, codes(fresh) | {"phone_code": "not-a-code-from-wechat"}, {**mini, **key(3)})
        assert bad_phone.status_code == 422 and bad_phone.json()["errors"][0]["field"] == "phone_code"
        assert "手机号授权已过期" in bad_phone.json()["detail"]
        assert (await _rows(database_url, "SELECT count(*) FROM business.members"))[0][0] == 0
        assert (await _rows(database_url, "SELECT count(*) FROM business.audit_log "
                                          "WHERE action LIKE 'members.%%'"))[0][0] == 0
        refused = [(r["api"], r["errcode"]) for r in (await messaging.received("wechat-mini"))["refused"]]
        assert refused == [("jscode2session", 40163), ("jscode2session", 40163), ("jscode2session", 40029),
                           ("getuserphonenumber", 40029)]


async def test_an_expired_token_is_fetched_again_once(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        mini = bearer(app, *MINI, username="mini")
        assert (await post(http, codes(await person(messaging, PHONE)), {**mini, **key(1)})).status_code == 201
        assert (await post(http, codes(await person(messaging, OTHER)), {**mini, **key(2)})).status_code == 201
        assert (await messaging.received("wechat-mini"))["token_requests"] == 1      # kept between requests

        await messaging.fault(wechat_expire_tokens=True)      # WeChat ends the token before its expires_in: 42001
        again = await post(http, codes(await person(messaging, PHONE)), {**mini, **key(3)})
        assert again.status_code == 200 and again.json()["created"] is False
        seen = await messaging.received("wechat-mini")
        assert seen["token_requests"] == 2
        assert [(r["api"], r["errcode"]) for r in seen["refused"]] == [("getuserphonenumber", 42001)]


async def test_wechat_away_or_not_set_up_is_a_clear_503(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        mini = bearer(app, *MINI, username="mini")
        p = await person(messaging, PHONE)
        unset = await post(http, codes(p), {**mini, **key(1)})
        assert unset.status_code == 503 and "FORECOURT_WECHAT_MINI_APPID" in unset.json()["detail"]

        app.state.wechat_mini = mini_of(messaging, secret="not-the-secret")     # noqa: S106
        wrong = await post(http, codes(p), {**mini, **key(2)})
        assert wrong.status_code == 503 and "AppSecret 配置有误" in wrong.json()["detail"]

        app.state.wechat_mini = mini_of(messaging, timeout_s=0.5)
        await messaging.fault(wechat_mini_timeout_next=1, delay_s=1.5)
        slow = await post(http, codes(p), {**mini, **key(3)})
        assert slow.status_code == 503 and slow.json()["detail"].startswith("连接微信超时")
        assert slow.headers["Retry-After"] == "5"

        # the codes were never exchanged: the same request (the same key) now goes through
        done = await post(http, codes(p), {**mini, **key(3)})
        assert done.status_code == 201, done.text
        assert (await _rows(database_url, "SELECT count(*) FROM business.members"))[0][0] == 1


async def test_erasure_removes_the_wechat_binding_and_the_person_may_register_again(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        mini, privacy = bearer(app, *MINI, username="mini"), bearer(app, "member:privacy", username="dpo")
        p = await person(messaging, PHONE)
        no = (await post(http, codes(p), {**mini, **key(1)})).json()["member_no"]
        exported = await http.get(f"/api/v1/members/{no}/personal-data", params={"format": "json"}, headers=privacy)
        assert exported.json()["profile"][0]["wechat_openid"] == p["openid"]    # PIPL: what is kept, whole
        erased = await http.post(f"/api/v1/members/{no}/erasure", json={"reason": "会员本人申请"},
                                 headers={**privacy, **key(2)})
        assert erased.status_code == 200 and erased.json()["erased"] is True
        assert await _rows(database_url, "SELECT wechat_openid, wechat_unionid FROM business.members "
                                         "WHERE member_no = %s", no) == [(None, None)]
        gone = await http.get("/api/v1/members/lookup", params={"openid": p["openid"]}, headers=mini)
        assert gone.status_code == 404
        back = await post(http, codes(await person(messaging, PHONE)), {**mini, **key(3)})
        assert back.status_code == 201 and back.json()["member_no"] != no


async def test_the_same_person_twice_at_once_is_one_member(database_url: str) -> None:
    await _seeded(database_url)
    async with messaging_sim() as messaging, served_api(database_url) as (app, http):
        app.state.wechat_mini = mini_of(messaging)
        mini = bearer(app, *MINI, username="mini")
        tries = [await person(messaging, PHONE) for _ in range(4)]     # four taps, four pairs of codes
        answers = await asyncio.gather(*(post(http, codes(p), {**mini, **key(n)}) for n, p in enumerate(tries)))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
        assert len({a.json()["member_no"] for a in answers}) == 1
        assert (await _rows(database_url, "SELECT count(*) FROM business.members"))[0][0] == 1
        binds = await _rows(database_url, "SELECT count(*) FROM business.audit_log "
                                          "WHERE action = 'members.wechat_bind'")
        assert binds == [(1,)]
