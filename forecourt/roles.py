"""What differs between the two roles of one codebase (``FORECOURT_ROLE``), in one place.

``head-office`` owns station master data (edits it, sends each station its list) and applies the events
stations send up. ``station`` is the station server: the same code on the station's own PostgreSQL, serving
its own station only; it owns orders and shifts (as they come), and holds master data as a read-only copy of
the list head office sent (``business_services/stations/copy.py``). docs/architecture.md "Two roles".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    HEAD_OFFICE = "head-office"
    STATION = "station"


@dataclass(frozen=True, slots=True)
class RolePolicy:
    owns_master_data: bool          # edits stations, devices, nozzles …; sends the lists down
    applies_station_events: bool    # records what stations report (fuellings, list versions, …)
    one_station: bool               # serves its own station only


POLICIES: dict[Role, RolePolicy] = {
    Role.HEAD_OFFICE: RolePolicy(owns_master_data=True, applies_station_events=True, one_station=False),
    Role.STATION: RolePolicy(owns_master_data=False, applies_station_events=False, one_station=True),
}


def policy(role: Role | str) -> RolePolicy:
    return POLICIES[Role(role)]
