"""The bank link over real HTTP: simulators/bank and head office's API each on its own port. The bank's push
reaches head office's callback over the network and pays the statement; the poll pages through more than a page of
transactions; a bank slower than head office's timeout, a forged query and a range the bank refuses fail as
BankUnavailable (the next poll asks again), never as a half-recorded transfer."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import psycopg
import pytest

from business_services.cards.model import CHINA
from business_services.fleets import bank
from business_services.fleets.bank import BankLink, BankUnavailable
from control_api.app import create_app
from simulators.bank.server import BankSim
from tests.integration.fleets.settle_support import billed_month, scalar, settler
from tests.integration.online_payments.support import serving

pytestmark = pytest.mark.integration


async def test_the_bank_pushes_over_http_and_the_poll_pages_times_out_and_is_refused_cleanly(
        database_url: str) -> None:
    code, number, total = await billed_month(database_url)
    app = create_app(database_url)
    sim = BankSim()
    async with serving(app) as api_url, serving(sim.app) as bank_url, httpx.AsyncClient(timeout=5) as http:
        sim.callback_url = f"{api_url}/api/v1/bank/notifications"
        link = BankLink(bank_url, sim.keys.client_id, sim.keys.secret, sim.keys.account_no, timeout_s=0.5)
        app.state.bank = link
        booked = await http.post(f"{bank_url}/_sim/transfers", json={
            "payer_account": "6212260200001234", "payer_name": "顺达物流有限公司", "amount_fen": total,
            "memo": f"付款 {number}"})
        assert booked.status_code == 200
        assert [n["status"] for n in sim.notifications] == [200]            # pushed over the network, taken
        detail = (await http.get(f"{api_url}/api/v1/fleet-statements/{number}", headers=settler(app))).json()
        assert detail["payment"] == "paid"

        for n in range(120):                                                  # more than one page (100)
            await http.post(f"{bank_url}/_sim/transfers", json={"payer_account": "6228480000000001",
                                                                "amount_fen": 100 + n, "notify": "never"})
        today = datetime.now(CHINA).date()
        records = await bank.transactions(link, http, today - timedelta(days=2), today)
        assert len(records) == 121 and len({r["serial_no"] for r in records}) == 121

        await http.post(f"{bank_url}/_sim/faults", json={"query_delay_s": 2})
        with pytest.raises(BankUnavailable):
            await bank.transactions(link, http, today, today)                # slower than our 0.5 s
        await http.post(f"{bank_url}/_sim/faults", json={"query_delay_s": 0})
        forged = BankLink(bank_url, sim.keys.client_id, "not-the-secret", sim.keys.account_no)
        with pytest.raises(BankUnavailable, match="401"):
            await bank.transactions(forged, http, today, today)
        with pytest.raises(BankUnavailable, match="E0400"):
            await bank.transactions(link, http, today - timedelta(days=40), today)

        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            assert await bank.poll(conn, link, http, today) == 120             # the lost ones, once each
            assert await bank.poll(conn, link, http, today) == 0
    assert await scalar(database_url, "SELECT count(*) FROM business.bank_transfers") == 121
    assert await scalar(database_url, "SELECT balance FROM business.ledger_balances WHERE code = %s",
                        f"receivable:fleet:{code}") == 0
