"""The station's users with their roles, for offline login at the station (the list's ``users``).

Users, roles and password hashes belong to the access context; this asks its view for the users whose
scope includes ``station`` (password hashes only, never a password).
"""

from __future__ import annotations

import psycopg

from business_services.access import views as access
from telemetry.contracts.master_data import StationUser


async def station_users(conn: psycopg.AsyncConnection, station: str) -> list[StationUser]:
    return [StationUser.model_validate(user) for user in await access.station_users(conn, station)]
