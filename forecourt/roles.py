"""What differs between the two roles of one codebase (``FORECOURT_ROLE``), in one place.

``head-office`` owns station master data (edits it, sends each station its list). ``station`` is the station
server: the same code on the station's own PostgreSQL, holding master data as a read-only copy of the list
head office sent (``business_services/stations/copy.py``), and owning what is sold there: its bus turns each
fuelling into an order, and takes payments and shifts. Head office posts the station's payments and refunds
to the ledger and keeps a copy of each station server's audit chain (``business_services/audit/shipping.py``).
docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType

from business_services.audit import handlers as audit
from business_services.bootstrap import CONTEXTS
from business_services.cards import handlers as cards
from business_services.drive_through import handlers as drive_through
from business_services.drive_through import head_office as drive_through_head_office
from business_services.faces import handlers as faces
from business_services.fleets import authorisation as fleet_authorisation
from business_services.fleets import cards as fleet_cards
from business_services.fleets import handlers as fleets
from business_services.fleets import payments as fleet_payments
from business_services.ic_cards import handlers as ic_cards
from business_services.ic_cards import head_office as ic_cards_head_office
from business_services.inventory import copies as inventory_copies
from business_services.inventory import handlers as inventory
from business_services.ledger import handlers as ledger
from business_services.members import handlers as members
from business_services.notifications import handlers as notifications
from business_services.orders import handlers as orders
from business_services.payments import handlers as payments
from business_services.points import handlers as points
from business_services.prices import handlers as prices
from business_services.shifts import handlers as shifts
from business_services.station_fleets import handlers as station_fleets
from business_services.station_members import handlers as station_members
from business_services.station_orders import handlers as station_orders
from business_services.station_prices import handlers as station_prices
from business_services.station_shifts import handlers as station_shifts
from business_services.vehicles import handlers as vehicles


class Role(StrEnum):
    HEAD_OFFICE = "head-office"
    STATION = "station"


@dataclass(frozen=True, slots=True)
class RolePolicy:
    owns_master_data: bool          # edits stations, devices, nozzles …; sends the lists down
    contexts: tuple[ModuleType, ...]   # whose handlers are on this role's message bus (bootstrap.build_bus)


POLICIES: dict[Role, RolePolicy] = {
    Role.HEAD_OFFICE: RolePolicy(owns_master_data=True,
                                 contexts=(*CONTEXTS, ledger, audit, station_orders, station_shifts,
                                           prices,
                                           points,          # after station_orders: it reads the order's copy
                                           notifications,   # alarm notifications: sent from head office only
                                           inventory_copies,
                                           members, vehicles,   # after station_orders: growth reads its copy
                                           ic_cards_head_office,
                                           cards,     # stored-value cards (docs/cards.md)
                                           fleets,   # fleet enterprises and their money (docs/fleets.md)
                                           fleet_cards, fleet_authorisation, fleet_payments,   # docs/fleets.md
                                           faces,   # the face gallery (docs/vision.md "Faces")
                                           drive_through_head_office)),   # 每次确认 and the notices (docs/h5.md)
    Role.STATION: RolePolicy(owns_master_data=False,
                             contexts=(*CONTEXTS, shifts, orders, payments, station_prices,
                                       inventory,
                                       ic_cards,          # after orders: a fuelling's order is made first
                                       station_members,     # the member list copy (docs/offline-members.md)
                                       station_fleets,    # fleet authorisations (docs/fleets.md "At the station")
                                       drive_through)),   # after orders: 无感支付 (docs/vision.md)
}


def policy(role: Role | str) -> RolePolicy:
    return POLICIES[Role(role)]
