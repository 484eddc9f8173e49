"""``audit.recorded``: one record of a station server's audit chain, carried up to head office.

A station server keeps its own chain (a refund, a cash count, an override happen there, also without a
link); each record travels up as it is, with its seq and hashes, so head office holds a copy per station
that ``forecourt audit verify --station`` checks with the same rules as its own chain. ``station`` is the
station whose server recorded it (the topic's station); ``concerns`` is the record's own station field.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.identifiers import Code

AUDIT_RECORDED = "audit.recorded"
_NAMESPACE = uuid.UUID("8a3f1d2c-6b5e-4f7a-9c0d-2e1b3a4c5d6f")
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class AuditRecorded(EventPayload):
    TYPE = AUDIT_RECORDED

    station: Code
    seq: Annotated[int, Field(ge=1)]
    at: UtcTime
    actor: Text
    actor_id: int | None = None
    source: Text
    concerns: str | None = None
    action: Text
    target: Annotated[str, Field(min_length=1, max_length=500)]
    before: Any = None
    after: Any = None
    prev_hash: Hex32
    hash: Hex32

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.station}/{self.seq}"))
