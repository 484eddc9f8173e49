"""The demo company: 畅加能源 with two regions and three stations, and one user per role.

Seeding again keeps the rows and gives every demo user a fresh password (returned, for the demo to
print): the passwords exist nowhere but on that screen. The demo stations' user lists changed with them:
``access.station_users.changed`` is raised for every demo station, and a ``bus`` given handles it in the same
unit of work (head office: each station's master-data list goes out again, so the station server's copy holds
the new passwords and its cashier logs in there).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from business_services.access import handlers, repository
from business_services.access.model import ROLES, STATION_USERS_CHANGED, new_password
from business_services.audit.model import Actor
from business_services.messagebus import MessageBus
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent

COMPANY = ("changjia", "畅加能源")
REGIONS = {"east": ("华东区", [("demo-01", "畅加测试站"), ("demo-02", "城东加气站")]),
           "west": ("华西区", [("demo-03", "西郊充电站")])}
USERS = [   # username, display name, role, org units
    ("admin", "系统管理员", "admin", ["changjia"]),
    ("region", "王区域", "regional_manager", ["east"]),
    ("manager", "李站长", "station_manager", ["demo-01"]),
    ("cashier", "赵收银", "cashier", ["demo-01"]),
    ("attendant", "钱加油", "attendant", ["demo-01"]),
    ("board", "价格屏", "price_display", ["demo-01"]),
    ("finance", "孙财务", "finance", ["changjia"]),
    ("marketing", "周市场", "marketing", ["changjia"]),
    ("fleet", "吴车队", "fleet_manager", ["changjia"]),
    ("fleetclient", "顺达物流车队", "fleet_client", ["changjia"]),   # an enterprise's own user (docs/fleets.md)
    ("inspector", "郑巡检", "inspector", ["changjia"]),
    ("auditor", "冯审计", "auditor", ["changjia"]),
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str
    units: list[str]


async def seed_demo_company(conn: psycopg.AsyncConnection, bus: MessageBus | None = None) -> list[DemoLogin]:
    """The org tree and one user per role (idempotent); each user's fresh password."""
    async with UnitOfWork(conn, Actor.system("demo")) as uow:
        company = await repository.add_unit(conn, "company", *COMPANY, None)
        for code, (name, stations) in REGIONS.items():
            region = await repository.add_unit(conn, "region", code, name, company)
            for station, station_name in stations:
                await repository.add_unit(conn, "station", station, station_name, region)
        logins = []
        for username, display_name, role, units in USERS:
            existing = await repository.user_by_name(conn, username)
            password = new_password()
            if existing is None:
                await handlers.create_user(handlers.UserChange(display_name, [role], units, None, username=username,
                                                               password=password), uow)
            else:
                await repository.set_password(conn, existing.id, handlers.HASHER.hash(password))
            logins.append(DemoLogin(username, password, f"{ROLES[role][0]} {role}", units))
        uow.take_raised()        # what create_user raised: replaced by one event for every demo station
        if bus is not None:
            demo_stations = [code for _, codes in REGIONS.values() for code, _name in codes]
            uow.raise_event(CloudEvent(source="business/access", type=STATION_USERS_CHANGED,
                                       data={"stations": demo_stations}))
            await bus.handle_raised(uow)
    return logins
