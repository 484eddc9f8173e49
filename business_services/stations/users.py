"""The station's users with their roles, for offline login at the station (the list's ``users``).

Users, roles and password hashes belong to the access context (``business_services/access``), being written
now. Until it lands this returns no users; then it becomes one call to the access context's view of the
users whose scope includes ``station`` (password hashes only, never a password).
"""

from __future__ import annotations

import psycopg

from telemetry.contracts.master_data import StationUser


async def station_users(conn: psycopg.AsyncConnection, station: str) -> list[StationUser]:
    return []
