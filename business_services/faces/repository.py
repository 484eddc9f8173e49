"""SQL that writes the face gallery (the caller's transaction)."""

from __future__ import annotations

import psycopg

from business_services.faces.model import EnrolFace


async def insert_enrolment(conn: psycopg.AsyncConnection, c: EnrolFace) -> int | None:
    """The new row's id, or None when this Idempotency-Key was used already."""
    cur = await conn.execute(
        """INSERT INTO business.face_enrolments (person, embedding, embedder, photo, consent_by, consent_at,
               consent_method, consent_text_version, idempotency_key, enrolled_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id""",
        (c.person, list(c.embedding), c.embedder, c.photo, c.consent.by, c.consent.at, c.consent.method,
         c.consent.text_version, c.key, c.by))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def enrolment_by_key(conn: psycopg.AsyncConnection, key: str) -> tuple[int, str] | None:
    cur = await conn.execute("SELECT id, person FROM business.face_enrolments WHERE idempotency_key = %s", (key,))
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


async def delete_person(conn: psycopg.AsyncConnection, person: str) -> int:
    cur = await conn.execute("DELETE FROM business.face_enrolments WHERE person = %s", (person,))
    return cur.rowcount
