"""What differs between the two roles of one codebase (``FORECOURT_ROLE``), in one place.

``head-office`` owns station master data (edits it, sends each station its list). ``station`` is the station
server: the same code on the station's own PostgreSQL, holding master data as a read-only copy of the list
head office sent (``business_services/stations/copy.py``). What else differs (the station owns orders and
shifts; head office applies their events) joins this table as those contexts land. docs/architecture.md.
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


POLICIES: dict[Role, RolePolicy] = {
    Role.HEAD_OFFICE: RolePolicy(owns_master_data=True),
    Role.STATION: RolePolicy(owns_master_data=False),
}


def policy(role: Role | str) -> RolePolicy:
    return POLICIES[Role(role)]
