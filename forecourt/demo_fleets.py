"""The demo's fleet (docs/fleets.md), made through head office's API as the back office would: an enterprise on
credit (5 万元), created by the fleet manager and approved by finance (a second person), a vehicle card for
京C88888 with a 300-yuan daily limit, and the enterprise's own portal user (``fleetclient``) bound to it. Made once:
a database that already has the demo enterprise is left as it is."""

from __future__ import annotations

import logging

import niquests

from forecourt.demo_members import DemoSeedFailed, call, logged_in

log = logging.getLogger(__name__)

ENTERPRISE = {"name": "顺达物流有限公司", "customer_code": "SHUNDA", "settlement": "credit",
              "credit_limit_fen": 5_000_000, "credit_days": 30, "statement_day": 1,
              "contacts": [{"name": "王调度", "phone": "13700137000", "role": "车队调度"}]}
PLATE = "京C88888"
DAILY_FEN = 30_000


async def seed_demo_fleet(base_url: str, manager: tuple[str, str], approver: tuple[str, str], station: str) -> None:
    """Seed once the API answers (``manager`` creates, ``approver`` approves: two people, as the rules ask)."""
    async with logged_in(base_url, *manager) as http, logged_in(base_url, *approver) as boss:
        try:
            log.info("demo fleet: %s", "made" if await _seed(http, boss, station) else "already there")
        except DemoSeedFailed as failed:          # the rest of the demo runs on without it
            log.error("%s", failed)


async def _seed(http: niquests.AsyncSession, boss: niquests.AsyncSession, station: str) -> bool:
    listed = await call(http, "GET", f"/api/v1/fleet-enterprises?q={ENTERPRISE['customer_code']}")
    if any(e.get("customer_code") == ENTERPRISE["customer_code"] for e in listed.get("items", [])):
        return False
    made = await call(http, "POST", "/api/v1/fleet-enterprises", ENTERPRISE | {"maintaining_station": station})
    await call(boss, "POST", f"/api/v1/approvals/{made['approval_id']}/approve", {})
    await call(http, "POST", "/api/v1/fleet-cards", {"enterprise": made["code"], "holder": "vehicle",
                                                     "pays_from": "credit", "plate": PLATE, "daily_fen": DAILY_FEN})
    await call(http, "POST", f"/api/v1/fleet-enterprises/{made['code']}/portal-users", {"username": "fleetclient"})
    return True
