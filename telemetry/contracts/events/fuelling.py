"""Fuelling events: ``fuelling.completed`` (one transaction a pump recorded) and ``fuelling.gap``.

``fuelling.completed`` carries the pump's own numbers: litres to the centilitre, money in fen, and
the nozzle's totalizer before and after (after − before = volume, checked here, the one place the
rule lives). Its id comes from the transaction's natural key, so the same transaction read again
gives the same event. Edges before the upgrade spelt the type ``fueling.completed`` with litres as
JSON numbers; consumers still accept that (``LEGACY_TYPES``), with the same id.

``fuelling.gap`` is fuel that left a nozzle without a transaction the platform could read: the edge
sends one when a nozzle's totalizer chain breaks (a fuelling's totalizer before is not the previous
recorded fuelling's totalizer after; the pump overwrote the records in between while the edge was
down, or lost them). Its volume is the totalizer difference, so recorded volumes plus gap volumes
always add up to the nozzle's totalizer movement. The station settles a gap in the business database.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Self

from pydantic import Field, model_validator

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, Litres, UtcTime
from telemetry.contracts.identifiers import Code

FUELLING_COMPLETED = "fuelling.completed"
LEGACY_FUELING_COMPLETED = "fueling.completed"     # the spelling of edges before the upgrade
FUELLING_GAP = "fuelling.gap"

_COMPLETED_NAMESPACE = uuid.UUID("6f1c3f0e-3b0a-4a57-9a39-1d3c1f0c6b21")
_GAP_NAMESPACE = uuid.UUID("0b8f6d52-7a3e-4f55-8e0c-4c1d2a9e6f13")

FuellingPoint = Annotated[int, Field(ge=1, le=16)]
Nozzle = Annotated[int, Field(ge=1, le=16)]


class FuellingCompleted(EventPayload):
    """Payload of ``fuelling.completed``: one transaction as the pump recorded it."""

    TYPE = FUELLING_COMPLETED
    LEGACY_TYPES = (LEGACY_FUELING_COMPLETED,)

    station: Code
    pump: Code                                    # device code, e.g. disp-01
    fuelling_point: FuellingPoint
    nozzle: Nozzle
    grade: int
    transaction: Annotated[int, Field(ge=1)]
    volume_l: Litres
    amount_fen: Fen
    price_fen_per_l: Annotated[int, Field(ge=1)]
    totalizer_before_l: Litres
    totalizer_after_l: Litres
    started_at: UtcTime
    ended_at: UtcTime
    end_reason: Annotated[int, Field(ge=0)] = 0   # the pump's end-of-transaction code (register map v1)
    #: the price-set version in force on the nozzle when the fuelling started (telemetry/contracts/prices.py);
    #: None from an edge that holds no price set yet (or from before prices were decided at head office)
    price_set: Annotated[int | None, Field(ge=1, lt=2**31)] = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.totalizer_after_l - self.totalizer_before_l != self.volume_l:
            raise ValueError("totalizer after − before must equal the volume")
        if self.ended_at < self.started_at:
            raise ValueError("a fuelling cannot end before it starts")
        return self

    def event_id(self) -> str:
        """From the natural key (station, pump, fuelling point, number, start): the same as edges before the upgrade."""
        key = (f"{self.station}/{self.pump}/fp{self.fuelling_point}/{self.transaction}/"
               f"{self.started_at.isoformat()}")
        return str(uuid.uuid5(_COMPLETED_NAMESPACE, key))


class FuellingGap(EventPayload):
    """Payload of ``fuelling.gap``: which nozzle, how much (litres from its totalizer), which numbers are missing."""

    TYPE = FUELLING_GAP

    station: Code
    pump: Code
    fuelling_point: FuellingPoint
    nozzle: Nozzle
    grade: int
    #: the pump's transaction numbers of this side that it no longer held in the stretch; empty when unknown
    missing_transactions: tuple[Annotated[int, Field(ge=1)], ...] = ()
    totalizer_from_l: Litres
    totalizer_to_l: Litres
    volume_l: Annotated[Litres, Field(gt=0)]
    detected_at: UtcTime

    @model_validator(mode="after")
    def _volume_is_the_totalizer_difference(self) -> Self:
        if self.totalizer_to_l - self.totalizer_from_l != self.volume_l:
            raise ValueError("volume_l must equal totalizer_to_l − totalizer_from_l")
        return self

    def event_id(self) -> str:
        """Stable for the same stretch of the same nozzle, so a gap found again is recorded once."""
        key = (f"{self.station}/{self.pump}/fp{self.fuelling_point}/n{self.nozzle}/"
               f"{self.totalizer_from_l}/{self.totalizer_to_l}")
        return str(uuid.uuid5(_GAP_NAMESPACE, key))
