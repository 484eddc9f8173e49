"""The control API application: one FastAPI app, one router per resource.

Every route shares the same guards: a request body limit (``control_api/limits.py``, 413), checked
station and device codes (``control_api/deps.py``, 422), schema errors as one readable 422 and a
database or broker outage as 503 with ``Retry-After`` (``control_api/errors.py``). Every HTTP request is
counted and timed by route template (``control_api/metrics.py``, outermost, so refusals count too).
Swagger UI on ``/docs`` comes from local files, never a CDN (``control_api/swagger.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from business_services.bootstrap import build_bus
from business_services.exports.runner import ExportRunner
from business_services.payments.registry import Providers
from control_api import errors, swagger
from control_api.database import Database
from control_api.limits import MAX_BODY_BYTES, BodyLimit
from control_api.live import LiveHub
from control_api.metrics import RequestMetrics
from control_api.pages import router as pages_router
from control_api.routes import (
    access,
    alarms,
    approvals,
    audit,
    card_payments,
    cards,
    commands,
    devices,
    drive_through,
    exports,
    face_payments,
    faces,
    fleet_authorisations,
    fleet_cards,
    fleet_open_api,
    fleet_statements,
    fleets,
    fuelling,
    gas_analytics,
    h5,
    h5_agreement,
    h5_drive_through,
    health,
    ic_cards,
    inventory,
    leak_tests,
    ledger,
    member_levels,
    member_list,
    member_privacy,
    members,
    notifications,
    online_payments,
    orders,
    payment_agreements,
    payments,
    points,
    points_mall,
    price_changes,
    price_rules,
    prices,
    shifts,
    station_fleets,
    station_members,
    station_orders,
    station_prices,
    station_shifts,
    stations,
    vehicles,
    work_orders,
)
from control_api.security import TokenIssuer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress

ROUTERS = (   # every API route; matched in this order, one route after another, so the hot ones first
    health.router,
    payments.router,     # the station POS's pay endpoint (docs/payments.md "Performance")
    access.router,
    devices.router,
    fuelling.router,
    commands.router,
    audit.router,
    exports.router,
    approvals.router,
    stations.router,
    ledger.router,
    orders.router,
    shifts.router,
    station_orders.router,
    station_shifts.router,
    online_payments.router,
    payment_agreements.callbacks,   # WeChat Pay's 委托代扣 contract notifications (docs/online-payments.md)
    prices.router,
    price_changes.router,
    price_rules.router,
    alarms.router,
    inventory.reports,   # wet stock's reads; head office answers from the stations' copies
    leak_tests.router,
    gas_analytics.router,
    work_orders.router,
    notifications.router,
    member_list.router,        # head office: the member list feed station servers pull (docs/offline-members.md)
    station_members.router,    # the station server: member lookup, registration, member orders (docs/pos.md)
    members.router,      # head office's members and vehicles (issue 18)
    member_levels.router,
    member_privacy.router,
    vehicles.router,
    points.router,       # head office: points rules, balances, the points mall (docs/points.md)
    points_mall.router,
    fleet_statements.callbacks,   # the bank's signed push of incoming transfers (docs/fleets.md)
    h5.router,           # the customer H5: members log in by SMS code (docs/h5.md)
    h5_drive_through.router,   # the H5's 待确认, one-tap confirmation, 加油记录, 无感支付设置 (docs/h5.md)
    h5_agreement.router,       # the H5's 免密支付: the member signs or ends their agreement (docs/online-payments.md)
)

#: Mounted before every other router, the role routers included. FastAPI tries the included routers one after
#: another, each one's routes in turn, and tries the chosen one's again to answer: the station POS's pay endpoint
#: behind the station role's four routers cost 7 router matches a payment (about a tenth of its server CPU under
#: cProfile), first it costs 2 (docs/payments.md "Performance"). No other route matches one of its paths.
FIRST = (payments.router,)

#: Routes one role answers its own way, or only one role has, mounted before ``ROUTERS`` (the first route
#: matching a path answers).
ROLE_ROUTERS: dict[Role, tuple[APIRouter, ...]] = {
    Role.HEAD_OFFICE: (cards.router,             # cards, their payments, purses, loads and the grey list are
                       card_payments.router,     # head office's (docs/cards.md, docs/ic-cards.md)
                       ic_cards.router,
                       fleet_open_api.router,   # the fleets open API, its keys and webhooks (docs/fleet-open-api.md)
                       fleet_authorisations.router,   # fleet authorisation and sales (docs/fleets.md)
                       fleet_statements.router,   # fleet statements, receivables, the bank link (docs/fleets.md)
                       fleet_cards.router,   # fleet cards and their limits (docs/fleets.md)
                       fleets.router,            # fleet enterprises and their money (docs/fleets.md)
                       faces.router,            # the face gallery (docs/vision.md "Faces")
                       drive_through.settings,   # the member's 无感支付 choice (docs/vision.md)
                       drive_through.confirmations,   # the members' answers the stations ask for (docs/h5.md)
                       payment_agreements.router),    # 免密支付: members' agreements (docs/online-payments.md)
    Role.STATION: (station_prices.router,        # the prices the station's pumps hold (its own database)
                   inventory.router,             # wet stock: computed where the sales are (docs/inventory.md)
                   station_fleets.router,        # fleet cards authorised before fuelling (docs/fleets.md)
                   drive_through.router,         # 无感支付 at the fuelling positions (docs/vision.md)
                   face_payments.router),        # 刷脸支付 at the POS (docs/vision.md "Face payment at the terminal")
}


def create_app(database_url: str, broker: BrokerAddress | None = None, *, group: str = "demo-co",
               max_body_bytes: int = MAX_BODY_BYTES, tokens: TokenIssuer | None = None,
               role: Role = Role.HEAD_OFFICE, payment_providers: Providers | None = None) -> FastAPI:
    """``group``: the operating company whose stations this API commands (its MQTT topics' group level).
    ``tokens``: signs access tokens; every API process of an installation needs the same secret (without
    one, a random secret: tokens end with the process). ``role``: head office, or a station server (master data a
    read-only copy, the station's sales on its bus: ``forecourt/roles.py``). ``payment_providers``: a station
    server's ways of paying (default: the offline tenders only; ``forecourt/services.py::station_providers``)."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url)
        await database.open()
        hub = LiveHub(database_url)
        listener = asyncio.create_task(hub.run(), name="live-hub")
        app.state.database, app.state.hub, app.state.broker, app.state.group = database, hub, broker, group
        app.state.exports = ExportRunner(database_url)   # Excel exports run as tasks of this process
        if role is Role.STATION:   # settle what a crash left pending
            await payments.reconcile_at_start(app)
        try:
            yield
        finally:
            await app.state.exports.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await database.close()

    app = FastAPI(title="Forecourt control API", version="0.1.0", lifespan=lifespan,
                  description="加油/加气/充电站运营平台 控制 API",
                  docs_url=None, redoc_url=None)   # Swagger UI from local files instead (control_api/swagger.py)
    app.state.tokens = tokens or TokenIssuer()
    app.state.role = role
    app.state.payment_providers = payment_providers or Providers()
    app.state.bus = build_bus(policy(role).contexts)   # routes hand it commands (docs/how-to/add-a-business-domain.md)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics)   # added last: the outermost, it sees every answer
    errors.install(app)
    swagger.install(app)
    shared = [router for router in ROUTERS if all(router is not first for first in FIRST)]   # FIRST's once
    for router in (*FIRST, *ROLE_ROUTERS.get(role, ()), *shared):
        app.include_router(router)
    app.include_router(pages_router)   # the built web apps: /admin/ (control_api/pages.py)
    return app
