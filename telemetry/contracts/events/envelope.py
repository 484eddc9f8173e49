"""CloudEvents 1.0 (JSON) envelopes for business events on ``forecourt/v1/{group}/{station}/events/{type}``.

Each event has a unique ``id`` so that consumers can be idempotent on it; the id follows
``identifiers.EVENT_ID_PATTERN`` and the type ``identifiers.EVENT_TYPE_PATTERN``, and an envelope larger than
``MAX_EVENT_BYTES`` is refused before it is parsed, so nothing oversized or unprintable reaches a database.
The station an event speaks for is the one in its topic (which the broker's ACL authorised), never a claim
inside the payload.

``EventPayload`` is the base of every typed payload (``data``): frozen, no unknown fields, its type string
in ``TYPE`` (and any older spelling a consumer still accepts in ``LEGACY_TYPES``). A producer builds the
payload and calls ``envelope``; a consumer calls ``from_event`` on the same model.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.identifiers import EVENT_ID_PATTERN, EVENT_TYPE_MAX, EVENT_TYPE_PATTERN

MAX_EVENT_BYTES = 64 * 1024   # a fuelling is ~0.6 KiB; an id-tag list of 1,000 cards ~40 KiB


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), pattern=EVENT_ID_PATTERN)
    source: str = Field(max_length=256)
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=EVENT_TYPE_MAX)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    subject: str | None = Field(default=None, max_length=256)
    data: dict[str, Any] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        """Parse an envelope; ``ValueError`` (a ``ValidationError`` included) for anything that breaks the rules."""
        if len(raw) > MAX_EVENT_BYTES:
            raise ValueError(f"event of {len(raw)} bytes is over the {MAX_EVENT_BYTES}-byte limit")
        return cls.model_validate(json.loads(raw))


class EventPayload(BaseModel):
    """The ``data`` of one event type; subclasses set ``TYPE`` to the type string defined beside them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    #: older type strings of the same payload that consumers still accept (from edge outboxes of before)
    LEGACY_TYPES: ClassVar[tuple[str, ...]] = ()

    def envelope(self, *, source: str, subject: str | None = None, event_id: str | None = None,
                 time: datetime | None = None) -> CloudEvent:
        """This payload in a CloudEvent of its type; decimals travel as JSON strings, times as ISO 8601 UTC."""
        fields: dict[str, Any] = {"source": source, "type": self.TYPE, "subject": subject,
                                  "data": self.model_dump(mode="json")}
        if event_id is not None:
            fields["id"] = event_id
        if time is not None:
            fields["time"] = time
        return CloudEvent(**fields)

    @classmethod
    def from_event(cls, event: CloudEvent) -> Self:
        """The payload of ``event``; ``ValueError`` (a ``ValidationError`` included) when it is not this model's."""
        if event.type != cls.TYPE and event.type not in cls.LEGACY_TYPES:
            raise ValueError(f"a {event.type} event is not a {cls.TYPE}")
        return cls.model_validate(event.data)
