"""Pure rules of the audit chain: what a record is and how its hash is made.

A record's hash is SHA-256 over the previous record's hash and the record's canonical form (its fields as
JSON with sorted keys, times in UTC ISO 8601 to the microsecond). Editing a field changes its hash, so the
next record no longer points at it; deleting or inserting a row breaks ``seq`` (1, 2, 3 … with no gap) or
the link. The first record links to ``GENESIS``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = bytes(32)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and from where: a user (with id), an edge node (``edge:<station>``) or ``system``."""

    name: str
    source: str
    user_id: int | None = None

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls("system", process)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One sensitive action, before it joins the chain."""

    action: str                   # dotted, e.g. auth.login, access.user.create, price.change, command.authorise
    target: str                   # what was acted on, e.g. user:12, demo-01/disp-01
    station: str | None = None    # the station it concerns, if any (the audit page filters by it)
    before: Any = None            # JSON-able state before and after (None where there is none)
    after: Any = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    actor_id: int | None
    source: str
    station: str | None
    action: str
    target: str
    before: Any
    after: Any
    prev_hash: bytes
    hash: bytes


def json_value(value: Any) -> Any:
    """The value as it comes back from jsonb (what the hash is computed over, at write and at verify)."""
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))


def canonical(seq: int, at: datetime, actor: str, actor_id: int | None, source: str, station: str | None,
              action: str, target: str, before: Any, after: Any) -> bytes:
    fields = {"seq": seq, "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": actor,
              "actor_id": actor_id, "source": source, "station": station, "action": action, "target": target,
              "before": before, "after": after}
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def chain_hash(prev_hash: bytes, body: bytes) -> bytes:
    return hashlib.sha256(prev_hash + body).digest()


def expected_hash(r: AuditRecord) -> bytes:
    return chain_hash(r.prev_hash, canonical(r.seq, r.at, r.actor, r.actor_id, r.source, r.station, r.action,
                                             r.target, r.before, r.after))
