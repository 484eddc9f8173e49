"""免密支付 by recognised plate, every part real but the payer: head office on a real port with the WeChat Pay
simulator (委托代扣 through wechatpayv3), a station server's own PostgreSQL and its business consumer on the broker.

Staff start the member's agreement, the member confirms on the simulator's signing page, WeChat Pay's signed
contract notification makes it active; the member's drive-through choice then accepts ``agreement``. At the station
a recognised plate attaches the member and the fuelling's order is paid by a deduction through head office — once,
under redelivered notifications, a second pay loop and a crash between the charge and its settle; insufficient
balance, an ended contract and an unreachable head office leave the order to the cashier with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import niquests
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.drive_through import service
from business_services.online_payments.station_client import HeadOfficeLink, HeadOfficeProvider
from business_services.payments import service as paying
from business_services.payments.providers import ChargeRequest, ChargeResult, RefundRequest, RefundResult
from business_services.payments.registry import Providers
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Method
from tests.integration.drive_through.test_drive_through import BUS, seen
from tests.integration.ic_cards.ic_support import deliver, fuelling, rows
from tests.integration.online_payments.support import HeadOffice, until
from tests.integration.sales.payments_support import STATION, open_shift
from tests.integration.station_members.support import PLATE, hold, member
from tests.support.auth import bearer, customer_headers

pytestmark = pytest.mark.integration


async def call(office: HeadOffice, method: str, path: str, body: object = None,
               *permissions: str) -> niquests.Response:
    headers = bearer(office.app, *(permissions or ("member:read", "member:write")), username="li")
    async with niquests.AsyncSession() as http:
        return await http.request(method, office.url + path, json=body,
                                  headers=headers | {"Idempotency-Key": str(uuid.uuid4())})


async def station_of_signed_member(office: HeadOffice, url: str) -> str:
    """A signed member on the station's list paying by agreement, and the station's shift open; their number."""
    member_no = await signed_member(office)
    await hold(url, member(member_no=member_no, drive_through="agreement"))
    await open_shift(url)
    return member_no


async def signed_member(office: HeadOffice) -> str:
    """A member at head office whose agreement the member confirmed on WeChat Pay's page; their number."""
    made = await call(office, "POST", "/api/v1/members", {"phone": "13900000001", "source": "back_office"})
    assert made.status_code == 201, made.text
    member_no = str(made.json()["member_no"])
    assert (await call(office, "GET", f"/api/v1/members/{member_no}/agreement")).json()["state"] == "none"
    started = await call(office, "POST", f"/api/v1/members/{member_no}/agreement")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "signing" and started.json()["sign_url"]
    assert (await call(office, "PUT", f"/api/v1/members/{member_no}/drive-through", {"method": "agreement"})
            ).status_code == 422                                                   # not signed yet
    async with niquests.AsyncSession() as http:                                  # the member, in WeChat
        page = await http.get(started.json()["sign_url"])
        assert "确认签约" in (page.text or "")
        assert (await http.post(started.json()["sign_url"])).json()["contract_state"] == "SIGNED"
    await until(lambda: equals(office.scalar("SELECT state FROM business.payment_agreements WHERE member_no = %s",
                                      member_no), "active"))
    shown = (await call(office, "GET", f"/api/v1/members/{member_no}/agreement")).json()
    assert shown["state"] == "active" and shown["sign_url"] is None
    chosen = await call(office, "PUT", f"/api/v1/members/{member_no}/drive-through", {"method": "agreement"})
    assert chosen.status_code == 200 and chosen.json()["method"] == "agreement", chosen.text
    return member_no


async def equals(awaitable: Awaitable[object], value: object) -> bool:
    return await awaitable == value


async def state_of(office: HeadOffice, member_no: str) -> object:
    return await office.scalar("SELECT state FROM business.payment_agreements WHERE member_no = %s "
                               "ORDER BY started_at DESC LIMIT 1", member_no)


async def fuel(url: str, broker: BrokerAddress, point: int, transaction: int, fen: int) -> str:
    now = datetime.now(UTC)
    await deliver(url, broker, seen(point, PLATE, now - timedelta(minutes=2)), STATION)
    await deliver(url, broker, fuelling(STATION, point, transaction, fen, at=now), STATION)
    [(order_no,)] = await rows(url, "SELECT order_no FROM business.orders WHERE fuelling_point = %s "
                                    "ORDER BY created_at DESC LIMIT 1", point)
    return str(order_no)


async def pay(url: str, found: Providers) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await service.pay_due(conn, BUS, found, STATION)


async def test_a_signed_members_car_is_paid_by_deduction_once(head_office: HeadOffice, station_database_url: str,
                                                              broker: BrokerAddress) -> None:
    url, office = station_database_url, head_office
    member_no = await station_of_signed_member(office, url)
    office.sim.faults.notify_twice = True                        # every payment notification delivered twice
    found = Providers([office.provider(Method.AGREEMENT)])

    order_no = await fuel(url, broker, 2, 7, 15000)
    assert await pay(url, found) == 1
    assert await pay(url, found) == 0                            # the loop again: nothing more
    assert await rows(url, "SELECT status, paid_fen FROM business.orders WHERE order_no = %s", order_no) == [
        ("paid", 15000)]
    [(payment_no, method, terminal)] = await rows(
        url, "SELECT payment_no, method, terminal FROM business.payments WHERE state = 'succeeded'")
    assert (method, terminal) == ("agreement", service.TERMINAL)
    assert await rows(url, "SELECT state, payment_no FROM business.drive_through_attachments") == [
        ("paid", payment_no)]
    deduction = office.sim.orders[payment_no]
    assert (deduction.mode, deduction.trade_state, deduction.total) == ("AUTO", "SUCCESS", 15000)
    await until(lambda: equals(office.scalar("SELECT sum(duplicates) FROM business.online_payment_callbacks "
                                      "WHERE payment_no = %s", payment_no), 1))
    assert await office.row(payment_no) == ("succeeded", 15000, 0)              # settled once, twice notified
    assert await office.scalar("SELECT member_no FROM business.online_payments WHERE payment_no = %s",
                               payment_no) == member_no                           # whose agreement paid
    assert [o for o in office.sim.orders.values() if o.mode == "AUTO"] == [deduction]

    # a wrong match undone by the cashier: the deduction is refunded through WeChat Pay's refund, once
    [(recognition_id,)] = await rows(url, "SELECT recognition_id FROM business.drive_through_attachments")
    cashier = Actor(name="cashier", source="pos-1")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(2):
            await service.undo(conn, BUS, found, cashier, STATION, recognition_id, "车牌识别错误")
    assert await office.row(payment_no) == ("succeeded", 15000, 15000)
    assert [r["amount"]["refund"] for r in office.sim.refunds.values()] == [15000]


async def test_a_deduction_made_later_stays_pending_until_its_notification_and_reconcile(
        head_office: HeadOffice, station_database_url: str, broker: BrokerAddress) -> None:
    url, office = station_database_url, head_office
    await station_of_signed_member(office, url)
    office.sim.faults.deduct_later = True                        # WeChat Pay accepts; the money moves later
    found = Providers([office.provider(Method.AGREEMENT)])
    order_no = await fuel(url, broker, 2, 8, 9000)
    assert await pay(url, found) == 0                            # pending: the deduction is accepted, not made
    [(payment_no, state)] = await rows(url, "SELECT payment_no, state FROM business.payments")
    assert state == "pending"
    assert await pay(url, found) == 0                            # a second loop while pending: nothing new
    assert await rows(url, "SELECT count(*) FROM business.payments") == [(1,)]

    async with niquests.AsyncSession() as http:                  # the deduction is made; its notification comes
        assert (await http.post(f"{office.sim_url}/_sim/pay/{payment_no}")).ok
    await until(lambda: office.row(payment_no))
    await until(lambda: equals(office.scalar("SELECT state FROM business.online_payments WHERE payment_no = %s",
                                      payment_no), "succeeded"))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:   # the station asks again
        assert await paying.reconcile(conn, BUS, found, Actor.system("test"), STATION) == 1
    assert await pay(url, found) == 0                            # the order is paid: its attachment is closed
    assert await rows(url, "SELECT state, payment_no FROM business.drive_through_attachments") == [
        ("paid", payment_no)]
    assert await rows(url, "SELECT status FROM business.orders WHERE order_no = %s", order_no) == [("paid",)]
    assert len([o for o in office.sim.orders.values() if o.mode == "AUTO"]) == 1


async def test_insufficient_balance_an_ended_contract_and_no_head_office_go_to_the_cashier(
        head_office: HeadOffice, station_database_url: str, broker: BrokerAddress) -> None:
    url, office = station_database_url, head_office
    member_no = await station_of_signed_member(office, url)
    found = Providers([office.provider(Method.AGREEMENT)])

    office.sim.faults.papay_balance_fen = 5000                   # the member's WeChat cannot pay 150 元
    short = await fuel(url, broker, 1, 11, 15000)
    assert await pay(url, found) == 0
    [(state, reason)] = await rows(url, "SELECT state, reason FROM business.drive_through_attachments "
                                        "WHERE order_no = %s", short)
    assert state == "cashier" and "余额不足" in reason
    assert await rows(url, "SELECT status FROM business.orders WHERE order_no = %s", short) == [("payable",)]

    down = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    offline = await fuel(url, broker, 3, 12, 3000)               # head office unreachable: never offline
    assert await pay(url, Providers([HeadOfficeProvider(Method.AGREEMENT, down.base_url, "no-key", link=down)])) == 0
    [(state, reason)] = await rows(url, "SELECT state, reason FROM business.drive_through_attachments "
                                        "WHERE order_no = %s", offline)
    assert state == "cashier" and "总部" in reason
    await down.close()

    contract = office.sim.papay.contracts[f"{member_no}A1"].contract_id      # the member ends it in WeChat
    async with niquests.AsyncSession() as http:
        assert (await http.post(f"{office.sim_url}/_sim/papay/contracts/{contract}/terminate")).ok
    await until(lambda: equals(state_of(office, member_no), "ended"))
    shown = (await call(office, "GET", f"/api/v1/members/{member_no}/drive-through")).json()
    assert shown["method"] == "off"                              # the choice followed the agreement
    ended = await fuel(url, broker, 2, 13, 4000)                 # the station's list still says agreement
    assert await pay(url, found) == 0
    [(state, reason)] = await rows(url, "SELECT state, reason FROM business.drive_through_attachments "
                                        "WHERE order_no = %s", ended)
    assert state == "cashier" and "免密支付" in reason
    assert await office.scalar("SELECT count(*) FROM business.audit_log WHERE action LIKE 'member.agreement.%%'") == 3


async def test_staff_end_an_agreement_once_and_the_member_signs_again(head_office: HeadOffice) -> None:
    office = head_office
    member_no = await signed_member(office)
    path = f"/api/v1/members/{member_no}/agreement"
    assert (await call(office, "POST", path)).status_code == 409                   # active: end it first
    assert (await call(office, "DELETE", path, {"reason": "会员申请"}, "member:read")).status_code == 403
    ended = await call(office, "DELETE", path, {"reason": "会员申请"})
    assert ended.status_code == 200 and ended.json()["state"] == "ended", ended.text
    assert office.sim.papay.contracts[f"{member_no}A1"].state == "TERMINATED"
    assert (await call(office, "DELETE", path, {"reason": "会员申请"})).status_code == 404   # nothing left to end
    assert (await call(office, "GET", f"/api/v1/members/{member_no}/drive-through")).json()["method"] == "off"
    again = await call(office, "POST", path)
    assert again.status_code == 200 and again.json()["state"] == "signing"
    assert await office.scalar("SELECT out_contract_code FROM business.payment_agreements WHERE state = 'signing'"
                               ) == f"{member_no}A2"
    assert await office.scalar("SELECT count(*) FROM business.audit_log WHERE action = 'member.agreement.end'") == 1

    # ended here while unsigned; the member confirms in WeChat afterwards: never active here, ended there too
    assert (await call(office, "DELETE", path, {"reason": "会员改变主意"})).json()["state"] == "ended"
    async with niquests.AsyncSession() as http:
        assert (await http.post(again.json()["sign_url"])).json()["contract_state"] == "SIGNED"
    await until(lambda: office.sim.papay.contracts[f"{member_no}A2"].state == "TERMINATED")
    assert office.sim.papay.contracts[f"{member_no}A2"].termination_mode == "MCH_API"
    assert await state_of(office, member_no) == "ended"
    assert await office.scalar("SELECT count(*) FROM business.payment_agreements WHERE state = 'active'") == 0


async def test_the_member_signs_and_ends_their_own_agreement_on_the_h5(head_office: HeadOffice) -> None:
    office = head_office
    made = await call(office, "POST", "/api/v1/members", {"phone": "13900000002", "source": "back_office"})
    member_no = str(made.json()["member_no"])
    me = customer_headers(member_no, office.app.state.tokens)
    async with niquests.AsyncSession() as http:
        async def h5(method: str, headers: dict[str, str] = me) -> niquests.Response:
            return await http.request(method, f"{office.url}/api/v1/h5/me/agreement", headers=headers)

        assert (await h5("GET")).json()["state"] == "none"
        assert (await h5("POST", bearer(office.app, "member:write"))).status_code in (401, 403)   # staff: not here
        started = await h5("POST")
        assert started.status_code == 200 and started.json()["state"] == "signing", started.text
        assert (await h5("POST")).json()["sign_url"] == started.json()["sign_url"]         # the same page again
        assert (await http.post(started.json()["sign_url"])).json()["contract_state"] == "SIGNED"
        await until(lambda: equals(state_of(office, member_no), "active"))
        assert (await h5("GET")).json()["state"] == "active"
        ended = await h5("DELETE")
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        assert (await h5("DELETE")).status_code == 404
    assert await office.scalar("SELECT actor FROM business.audit_log WHERE action = 'member.agreement.end'") == \
        f"customer:{member_no}"


class CrashesAfterCharging:
    """The station's provider whose answer is lost after head office deducted (the station server died between the
    charge and its settle): the payments context keeps the payment pending, never failed on a guess."""

    def __init__(self, real: HeadOfficeProvider) -> None:
        self.real, self.method, self.safe_offline = real, real.method, real.safe_offline

    def unavailable(self) -> str | None:
        return self.real.unavailable()

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        await self.real.charge(request)
        raise ConnectionResetError("the station server died before settling")

    async def query(self, payment_no: str) -> ChargeResult:
        return await self.real.query(payment_no)

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self.real.cancel(payment_no)

    async def refund(self, request: RefundRequest) -> RefundResult:
        return await self.real.refund(request)


async def test_a_crash_after_the_deduction_before_the_settle_takes_the_money_once(
        head_office: HeadOffice, station_database_url: str, broker: BrokerAddress) -> None:
    url, office = station_database_url, head_office
    await station_of_signed_member(office, url)
    real = office.provider(Method.AGREEMENT)
    order_no = await fuel(url, broker, 2, 9, 12000)
    assert await pay(url, Providers([CrashesAfterCharging(real)])) == 0
    [(payment_no, state)] = await rows(url, "SELECT payment_no, state FROM business.payments")
    assert state == "pending" and office.sim.orders[payment_no].trade_state == "SUCCESS"   # taken, not recorded
    found = Providers([real])                                    # the restarted station server
    assert await pay(url, found) == 0                            # pending: not charged again
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await paying.reconcile(conn, BUS, found, Actor.system("test"), STATION) == 1
    assert await pay(url, found) == 0
    assert await rows(url, "SELECT state FROM business.payments") == [("succeeded",)]
    assert await rows(url, "SELECT status FROM business.orders WHERE order_no = %s", order_no) == [("paid",)]
    assert await rows(url, "SELECT state, payment_no FROM business.drive_through_attachments") == [
        ("paid", payment_no)]
    assert len([o for o in office.sim.orders.values() if o.mode == "AUTO"]) == 1
