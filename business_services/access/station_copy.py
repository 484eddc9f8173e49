"""The station server's copy of its users, from the master-data list head office sends down.

At the station (``FORECOURT_ROLE=station``) users are not managed: the list carries the users whose scope
includes the station, with their password hashes (never a password) and roles, and this makes the station's
own database hold exactly those, so the cashier logs in at the station with the same password while head
office is away. A user no longer in the list is disabled; a changed hash, role or status ends the tokens the
station server issued before (their token version moves on).
"""

from __future__ import annotations

import psycopg

from business_services.access import repository
from telemetry.contracts.master_data import StationUser

HEAD_OFFICE_UNIT = "head-office"   # the station's parent in the copy's organisation tree (it knows no more)


async def hold_station_users(conn: psycopg.AsyncConnection, station: str, station_name: str,
                             users: list[StationUser]) -> None:
    """In the caller's transaction: the station's users become exactly ``users``."""
    parent = await repository.add_unit(conn, "company", HEAD_OFFICE_UNIT, "总部 (head office)", None)
    unit = await repository.add_unit(conn, "station", station, station_name, parent)
    listed = set()
    for user in users:
        listed.add(user.username)
        held = await repository.user_by_name(conn, user.username, lock=True)
        user_id = held.id if held else await repository.insert_user(conn, user.username, user.username, None,
                                                                     user.password_hash)
        if user_id is None:
            raise RuntimeError(f"user {user.username} appeared while its station's list was copied")
        await conn.execute("UPDATE business.access_users SET password_hash = %s, disabled = %s WHERE id = %s",
                           (user.password_hash, not user.active, user_id))
        if held and (held.password_hash, held.disabled, held.roles) != (user.password_hash, not user.active,
                                                                        frozenset(user.roles)):
            await repository.revoke_tokens(conn, user_id)
        await repository.set_roles(conn, user_id, sorted(user.roles))
        await repository.set_units(conn, user_id, [unit])
    cur = await conn.execute("SELECT id FROM business.access_users WHERE NOT disabled AND NOT (username = ANY(%s))",
                             (sorted(listed),))
    for (gone,) in await cur.fetchall():
        await conn.execute("UPDATE business.access_users SET disabled = true WHERE id = %s", (gone,))
        await repository.revoke_tokens(conn, gone)
