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

from business_services.access.model import mask_phone

GENESIS = bytes(32)
# keys of before/after that hold personal data, wherever nested: shown masked to a reader without pii:read
PERSONAL_KEYS = frozenset({"phone", "mobile", "plate", "card_no"})


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


def masked(value: Any) -> Any:
    """A record's before or after with every personal value (``PERSONAL_KEYS``) masked: 138****5678.

    The chain keeps what was true (it is the evidence); who may see it is decided when it is read."""
    if isinstance(value, dict):
        return {k: mask_phone(v) if k in PERSONAL_KEYS and isinstance(v, str) else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


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


@dataclass(frozen=True, slots=True)
class Link:
    """What verification remembers of a row it has passed: enough to check the next one."""

    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Break:
    """The first place the chain is broken: the row named (``seq``), what happened to it, and why we say so."""

    seq: int
    kind: str            # edited | deleted | inserted | rewritten | reordered
    reason: str          # Chinese, then English in parentheses


HASHED_FIELDS = ("seq", "at", "actor", "actor_id", "source", "station", "action", "target", "before", "after")


def check_row(r: AuditRecord, previous: Link | None, before_previous: Link | None) -> Break | None:
    """Check one row against the row before it (``previous``; None: ``r`` should be the first, seq 1).

    ``before_previous`` (the row before ``previous``) tells an inserted row from a rewritten one: if ``r``
    links past ``previous`` to the row before it, ``previous`` was slipped in between them.
    """
    expected_seq = 1 if previous is None else previous.seq + 1
    if r.seq > expected_seq:
        missing = f"{expected_seq}" if r.seq == expected_seq + 1 else f"{expected_seq}–{r.seq - 1}"
        return Break(expected_seq, "deleted",
                     f"第 {missing} 条记录被删除 (row {missing} was deleted: seq jumps to {r.seq})")
    if r.seq < expected_seq:
        return Break(r.seq, "reordered", f"第 {r.seq} 条记录序号错乱 (row {r.seq} is out of order)")
    previous_hash = GENESIS if previous is None else previous.hash
    if r.prev_hash != previous_hash:
        if previous is not None and before_previous is not None and r.prev_hash == before_previous.hash:
            return Break(previous.seq, "inserted",
                         f"第 {previous.seq} 条记录是插入的，不属于审计链 (row {previous.seq} was inserted: row "
                         f"{r.seq} links past it to row {before_previous.seq})")
        if previous is None:
            return Break(r.seq, "inserted", f"第 {r.seq} 条记录不接在链首 (row {r.seq} does not start the chain: "
                                            "it was forged, or the rows before it were replaced)")
        if expected_hash(r) == r.hash:
            return Break(previous.seq, "rewritten",
                         f"第 {previous.seq} 条记录被改写并重算了哈希 (row {previous.seq} was rewritten with a "
                         f"recomputed hash, or replaced: row {r.seq} does not link to it); 其内容不可信 (none of "
                         f"its fields can be trusted)")
        return Break(r.seq, "inserted",
                     f"第 {r.seq} 条记录不接在第 {previous.seq} 条之后 (row {r.seq} does not link to row "
                     f"{previous.seq}: it was forged or renumbered after a deletion)")
    if expected_hash(r) != r.hash:
        return Break(r.seq, "edited",
                     f"第 {r.seq} 条记录内容与其哈希不符，已被修改 (row {r.seq} was edited: its content no longer "
                     f"matches its hash; none of {', '.join(HASHED_FIELDS)} nor its hash can be trusted)")
    return None
