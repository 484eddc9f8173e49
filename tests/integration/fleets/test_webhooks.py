"""Webhooks of fleet sales (business_services/fleets/webhooks.py): subscribed per enterprise, signed, delivered
in order by the job to the messaging simulator's receiver (which verifies each signature), retried with back-off
while the receiver is down and then everything after delivered, at least once with a stable event id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from business_services import jobs, partner_urls
from business_services.fleets import webhooks
from business_services.jobs import JOBS
from control_api.app import create_app
from tests.integration.fleets.open_api_support import clerk, client, fleet, rows, sale
from tests.integration.notifications.support import messaging_sim

pytestmark = pytest.mark.integration
DAY = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def loopback_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The messaging simulator's receiver is on loopback: let it in, as a partner's receiver on a VPN would be
    (business_services/partner_urls.py; the test that refuses it takes the setting away)."""
    monkeypatch.setenv(partner_urls.SETTING, "127.0.0.0/8")


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (docs/fleet-open-api.md): recompute the signature over "<timestamp>.<body>"."""
    expected = "sha256=" + hmac.new(secret.encode(), headers["X-Forecourt-Timestamp"].encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Forecourt-Signature"])


async def deliver(url: str, now: datetime) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await webhooks.deliver_due(conn, now)


async def test_a_receiver_down_for_a_while_gets_everything_after_in_order_and_signed(database_url: str) -> None:
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    theirs, (other,) = await fleet(database_url, "远通运输", ["沪A11111"])
    await sale(database_url, mine, truck, "粤B12345", 10000, DAY)           # before the subscription: not sent
    async with client(app) as http, messaging_sim() as sim:
        wu = clerk(app)
        made = await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=wu,
                               json={"url": f"{sim.url}/webhook/shunda"})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        async with httpx.AsyncClient() as raw:
            await raw.post(f"{sim.url}/_sim/webhook-secrets", json={"name": "shunda", "secret": secret})
        listed = (await http.get(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=wu)).json()["items"]
        assert "secret" not in listed[0]                                      # shown once, at creation
        paid = [await sale(database_url, mine, truck, "粤B12345", 20000 + i, DAY + timedelta(hours=i))
                for i in range(3)]
        await sale(database_url, theirs, other, "沪A11111", 99000, DAY)        # another enterprise's: never sent
        await sim.fault(webhook_fail_next=1)
        now = datetime.now(UTC)
        assert await deliver(database_url, now) == 0                           # the receiver is down
        assert await deliver(database_url, now) == 0                           # not due again until the back-off
        paid += [await sale(database_url, mine, truck, "粤B12345", 30000 + i, DAY + timedelta(days=1, hours=i))
                 for i in range(2)]
        assert await deliver(database_url, now + webhooks.backoff(1)) == 5     # back: everything, in order
        received = (await sim.received("webhook"))["received"]
        assert [w["body"]["data"]["payment_no"] for w in received] == paid
        assert [w["delivery"] for w in received] == [webhooks.event_id("demo-01", p) for p in paid]
        assert {w["body"]["enterprise"] for w in received} == {mine}
        assert [w["body"]["type"] for w in received] == ["fuelling.completed"] * 5
        log = (await http.get(f"/api/v1/fleet-enterprises/{mine}/webhooks/{made.json()['id']}/deliveries",
                              headers=wu)).json()["items"]
        assert [d["status"] for d in reversed(log)] == [503, 200, 200, 200, 200, 200]
        # at least once: were the acknowledgements lost, the same events go again under the same ids
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("UPDATE business.fleet_webhooks SET delivered_seq = delivered_seq - 2")
        assert await deliver(database_url, now + timedelta(hours=1)) == 2
        again = await sim.received("webhook")
        assert len(again["received"]) == 5 and again["repeats"] == 2          # the receiver deduped them
        assert (await http.delete(f"/api/v1/fleet-enterprises/{mine}/webhooks/{made.json()['id']}",
                                  headers=wu)).status_code == 204
        await sale(database_url, mine, truck, "粤B12345", 40000, DAY + timedelta(days=2))
        assert await deliver(database_url, now + timedelta(hours=2)) == 0       # unsubscribed
    audit = await rows(database_url, "SELECT action FROM business.audit_log WHERE action LIKE 'fleet.webhook.%%' "
                                     "ORDER BY seq")
    assert [a for (a,) in audit] == ["fleet.webhook.create", "fleet.webhook.delete"]


async def test_each_delivery_is_signed_over_timestamp_and_body(database_url: str) -> None:
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http:
        made = (await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                                json={"url": "https://fleet.example.com/hook"})).json()
    payment_no = await sale(database_url, mine, truck, "粤B12345", 12300, DAY)
    sent: list[tuple[dict[str, str], bytes]] = []

    async def receiver(url: str, headers: dict[str, str], body: bytes) -> int:
        assert url == "https://fleet.example.com/hook"
        sent.append((headers, body))
        return 204
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await webhooks.deliver_due(conn, datetime.now(UTC), receiver) == 1
    ((headers, body),) = sent
    assert verified(made["secret"], headers, body)
    assert not verified(made["secret"], headers, body.replace(b"12300", b"12301"))     # a changed body fails
    assert not verified("whsec_wrong", headers, body)
    assert headers["X-Forecourt-Delivery"] == webhooks.event_id("demo-01", payment_no)


async def test_two_runs_at_once_send_each_event_once(database_url: str) -> None:
    """Two workers' runs overlap (a slow receiver): the subscription's row lock keeps them from sending twice."""
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http:
        await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                        json={"url": "https://fleet.example.com/hook"})
    paid = [await sale(database_url, mine, truck, "粤B12345", 1000 + i, DAY + timedelta(minutes=i)) for i in range(6)]
    sent: list[str] = []

    async def slow(url: str, headers: dict[str, str], body: bytes) -> int:
        await asyncio.sleep(0.05)
        sent.append(headers["X-Forecourt-Delivery"])
        return 200

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await webhooks.deliver_due(conn, datetime.now(UTC), slow)
    assert sum(await asyncio.gather(run(), run())) == 6
    assert sent == [webhooks.event_id("demo-01", p) for p in paid]


async def test_a_wrong_secret_at_the_receiver_is_a_failure_retried_not_skipped(database_url: str) -> None:
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http, messaging_sim() as sim:
        made = (await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                                json={"url": f"{sim.url}/webhook/stale"})).json()   # the receiver's secret: another
        await sale(database_url, mine, truck, "粤B12345", 5000, DAY)
        assert await deliver(database_url, datetime.now(UTC)) == 0
        (state,) = await rows(database_url, "SELECT delivered_seq, failures, last_error FROM business.fleet_webhooks "
                                            "WHERE id = %s", made["id"])
        assert state[1:] == (1, "HTTP 401") and (await sim.received("webhook"))["received"] == []
        bad = await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                              json={"url": "ftp://x"})
        assert bad.status_code == 422


async def test_the_job_delivers_in_a_worker(database_url: str) -> None:
    """Through procrastinate, as the business service's worker runs it: deferred once, delivered once, and the
    attempts older than 30 days forgotten."""
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http, messaging_sim() as sim:
        made = (await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                                json={"url": f"{sim.url}/webhook/worker"})).json()
        async with httpx.AsyncClient() as raw:
            await raw.post(f"{sim.url}/_sim/webhook-secrets", json={"name": "worker", "secret": made["secret"]})
        payment_no = await sale(database_url, mine, truck, "粤B12345", 8800, DAY)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("INSERT INTO business.fleet_webhook_deliveries (webhook_id, event_id, seq, status, "
                               "attempted_at) VALUES (%s, 'old', 0, 200, now() - interval '31 days'), "
                               "(%s, 'recent', 0, 200, now() - interval '29 days')", (made["id"], made["id"]))
        worker = jobs.build_app(database_url)
        async with worker.open_async():
            await worker.tasks[webhooks.TASK].defer_async()
            await worker.run_worker_async(queues=[jobs.QUEUE], wait=False, install_signal_handlers=False)
        received = (await sim.received("webhook"))["received"]
        assert [w["body"]["data"]["payment_no"] for w in received] == [payment_no]
    kept = await rows(database_url, "SELECT event_id FROM business.fleet_webhook_deliveries ORDER BY id")
    assert [e for (e,) in kept] == ["recent", webhooks.event_id("demo-01", payment_no)]   # the 31-day-old one gone


async def test_only_public_addresses_are_reached_unless_a_private_network_is_let_in(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SSRF: an internal address written in the URL is refused when subscribing; a name that resolves to
    one is refused at delivery (a failed attempt with the reason, nothing sent); let in, the name's checked
    address is what gets the request."""
    app = create_app(database_url)
    mine, (truck,) = await fleet(database_url, "顺达物流", ["粤B12345"])
    async with client(app) as http, messaging_sim() as sim:
        port = httpx.URL(sim.url).port
        monkeypatch.delenv(partner_urls.SETTING)
        for url in (f"{sim.url}/webhook/x", "http://169.254.169.254/latest/meta-data", "http://[::1]:5432/",
                    "http://10.0.0.8/hook", "http://localhost:8000/api"):
            refused = await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                                      json={"url": url})
            assert refused.status_code == 422 and "公网" in refused.json()["detail"], url
        monkeypatch.setenv(partner_urls.SETTING, "127.0.0.0/8")
        made = (await http.post(f"/api/v1/fleet-enterprises/{mine}/webhooks", headers=clerk(app),
                                json={"url": f"http://localhost:{port}/webhook/named"})).json()
        async with httpx.AsyncClient() as raw:
            await raw.post(f"{sim.url}/_sim/webhook-secrets", json={"name": "named", "secret": made["secret"]})
        await sale(database_url, mine, truck, "粤B12345", 5000, DAY)
        monkeypatch.setenv(partner_urls.SETTING, "10.8.0.0/16")            # loopback no longer let in
        assert await deliver(database_url, datetime.now(UTC)) == 0
        (state,) = await rows(database_url, "SELECT failures, last_error FROM business.fleet_webhooks WHERE id = %s",
                              made["id"])
        assert state[0] == 1 and "localhost: 回调地址" in state[1] and "公网" in state[1]
        assert (await sim.received("webhook"))["received"] == []
        monkeypatch.setenv(partner_urls.SETTING, "127.0.0.0/8")
        assert await deliver(database_url, datetime.now(UTC) + webhooks.backoff(1)) == 1
        assert [w["body"]["data"]["amount_fen"] for w in (await sim.received("webhook"))["received"]] == [5000]


def test_the_back_off_doubles_up_to_an_hour_and_the_job_is_scheduled() -> None:
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.backoff(50) == timedelta(hours=1)
    assert any(job.name == webhooks.TASK and job.run is webhooks.run for job in JOBS)
