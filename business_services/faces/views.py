"""Reads of the face gallery: the embeddings for the index, a person's enrolments and the list of all enrolments
(consent records, never the face)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from business_services.pages import After, Sort, keyset_page

NEWEST_FIRST = Sort("enrolled_at", datetime, descending=True)
_COLUMNS = """id, person, embedder, photo IS NOT NULL AS photo_kept, consent_by, consent_at, consent_method,
              consent_text_version, enrolled_by, enrolled_at"""


async def state(conn: psycopg.AsyncConnection) -> tuple[int, int]:
    """(rows, highest id): changes with every enrolment and deletion, so the index knows to rebuild."""
    cur = await conn.execute("SELECT count(*), coalesce(max(id), 0) FROM business.face_enrolments")
    rows, highest = await cur.fetchone() or (0, 0)
    return int(rows), int(highest)


async def embeddings(conn: psycopg.AsyncConnection, embedder: str) -> list[tuple[str, str, np.ndarray]]:
    cur = await conn.execute("SELECT id, person, embedding FROM business.face_enrolments WHERE embedder = %s",
                             (embedder,))
    return [(str(r[0]), str(r[1]), np.asarray(r[2], dtype=np.float32)) for r in await cur.fetchall()]


async def enrolments(conn: psycopg.AsyncConnection, person: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM business.face_enrolments WHERE person = %s ORDER BY id",  # noqa: S608
            (person,))
        return await cur.fetchall()


async def enrolment_page(conn: psycopg.AsyncConnection, *, person: str, consent_method: str, after: After | None,
                         limit: int) -> tuple[list[dict[str, Any]], int, After | None]:
    """Every enrolment newest first, of one person or consent method when given (the back office's 人脸库)."""
    query = f"""SELECT {_COLUMNS} FROM business.face_enrolments
                WHERE (%(person)s = '' OR person = %(person)s)
                  AND (%(method)s = '' OR consent_method = %(method)s)"""  # noqa: S608 (our own text)
    return await keyset_page(conn, query, {"person": person, "method": consent_method}, NEWEST_FIRST, limit, after)
