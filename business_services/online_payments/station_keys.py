"""A station server's API key at head office, for its own station only: ``payment:online`` (online payments,
stored-value and IC-card payments, recharges, the member list it keeps for offline sales) and
``member:register`` (the POS registers and looks up members through its station server) and ``face:identify``
(face payment at the POS asks head office's gallery: docs/vision.md "Face payment at the terminal").

The demo and tests issue one per station server; in production an administrator issues it from the
API-keys page (``POST /api/v1/api-keys`` with ``permissions: ["payment:online", "member:register", "face:identify"],
stations: [code]``).
"""

from __future__ import annotations

import psycopg

from business_services.access import repository
from business_services.access.model import new_api_key
from business_services.audit.model import Actor, AuditEntry
from business_services.unit_of_work import UnitOfWork

PERMISSIONS = ["payment:online", "member:register", "face:identify"]


async def issue_station_key(conn: psycopg.AsyncConnection, station: str, actor: Actor) -> str:
    """The new key (shown once); its issue is audited like any API key's."""
    key = new_api_key()
    async with UnitOfWork(conn, actor) as uow:
        key_id = await repository.insert_api_key(conn, key.prefix, key.digest, f"station-server {station}",
                                                 PERMISSIONS, [station], actor.name)
        await uow.audit(AuditEntry("access.apikey.create", f"apikey:{key_id}", station, None,
                                   {"prefix": key.prefix, "permissions": PERMISSIONS, "stations": [station]}))
    return key.key
