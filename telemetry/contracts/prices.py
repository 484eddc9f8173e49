"""Prices between head office and the station's equipment (ARCHITECTURE.md "Two roles": head office decides,
the station applies).

``command.replace_price_set`` (head office → edge node, on the station's command topic, QoS 1): the
station's whole price set at one version, per grade and per nozzle; head office publishes it when the
change is due (at once, or at its scheduled time). Event id ``price-set/{station}/{version}``, so a
republished version is the same message. The edge node keeps the newest set on disk, ignores an older one,
and applies it nozzle by nozzle through its own command path, only while the nozzle's fuelling point is
idle (a fuelling in progress keeps its price), reading each price back.

``price.applied`` (edge node → station server and head office, on the station's events topic): one
nozzle's state for one version: ``applied`` (read back), ``refused`` (the pump refused or did not read it
back: an alarm-worthy event; the rest of the station keeps selling) or ``pending`` (waiting for the
fuelling point to be idle, or for the device to answer). A version is "in force" at a station once every
nozzle in it reports ``applied``. Its id comes from (station, version, nozzle, state, attempt), so the
same report sent twice is one event.

Every ``fuelling.completed`` names the price-set version in force on its nozzle when it started
(``FuellingCompleted.price_set``), so an order is never priced by a set its pump did not hold.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.identifiers import Code

REPLACE_PRICE_SET = "command.replace_price_set"
PRICE_APPLIED = "price.applied"

#: a price set's version at one station: 1, 2, 3 … (head office numbers them)
PriceSetVersion = Annotated[int, Field(ge=1, lt=2**31)]
#: a unit price in fen per litre, kilogram or kWh (100 yuan is far above any fuel price)
UnitPrice = Annotated[int, Field(ge=1, le=10_000)]
Unit = Literal["L", "kg", "kWh"]
NozzleState = Literal["applied", "refused", "pending"]

_NAMESPACE = uuid.UUID("0b7d5e3a-6f1c-4e2b-9a8d-3c4f5e6a7b81")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NozzlePrice(_Frozen):
    """The price one nozzle must show under a set (a grade's price, or the nozzle's own: 单枪调价)."""

    device: Code                                          # the dispenser's device code, e.g. disp-01
    fuelling_point: Annotated[int, Field(ge=1, le=4)]
    nozzle: Annotated[int, Field(ge=1, le=4)]
    grade: Annotated[str, Field(min_length=1, max_length=16)]
    price_fen: UnitPrice


class PriceSet(EventPayload):
    """Payload of ``command.replace_price_set``: one station's prices at one version."""

    TYPE = REPLACE_PRICE_SET

    station: Code
    version: PriceSetVersion
    effective_at: UtcTime                                  # when head office put it in force (its schedule)
    grades: dict[Annotated[str, Field(min_length=1, max_length=16)], UnitPrice]   # grade code → list price
    units: dict[str, Unit] = Field(default_factory=dict)   # grade code → unit, "L" when absent
    nozzles: Annotated[list[NozzlePrice], Field(max_length=256)]
    change_no: Annotated[str, Field(max_length=64)] = ""   # the head-office change that made it
    reason: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _one_price_per_nozzle(self) -> PriceSet:
        keys = [(n.device, n.fuelling_point, n.nozzle) for n in self.nozzles]
        if len(set(keys)) != len(keys):
            raise ValueError("a nozzle appears once in a price set")
        return self

    def event_id(self) -> str:
        return f"price-set/{self.station}/{self.version}"


class PriceApplied(EventPayload):
    """Payload of ``price.applied``: one nozzle's state under one price-set version."""

    TYPE = PRICE_APPLIED

    station: Code
    version: PriceSetVersion
    device: Code
    fuelling_point: Annotated[int, Field(ge=1, le=4)]
    nozzle: Annotated[int, Field(ge=1, le=4)]
    grade: Annotated[str, Field(min_length=1, max_length=16)]
    price_fen: UnitPrice
    state: NozzleState
    detail: Annotated[str, Field(max_length=200)] = ""
    attempt: Annotated[int, Field(ge=1)] = 1               # the edge's try for this nozzle and version
    at: UtcTime

    def event_id(self) -> str:
        key = (f"{self.station}/{self.version}/{self.device}/fp{self.fuelling_point}/n{self.nozzle}/"
               f"{self.state}/{self.attempt}")
        return str(uuid.uuid5(_NAMESPACE, key))
