"""Reads of the face gallery: the embeddings for the index, a person's enrolments (consent, never the face)."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row


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
            """SELECT id, person, embedder, photo IS NOT NULL AS photo_kept, consent_by, consent_at, consent_method,
                      consent_text_version, enrolled_by, enrolled_at
               FROM business.face_enrolments WHERE person = %s ORDER BY id""", (person,))
        return await cur.fetchall()
