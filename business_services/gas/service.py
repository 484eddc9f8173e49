"""A ``gas_fill.completed`` event becomes one recorded CNG/LNG fill (model, SQL and handler in one small module)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events import CloudEvent
from telemetry.contracts.identifiers import Code
from telemetry.contracts.topics import EventTopic

log = logging.getLogger(__name__)


class GasFill(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    station: Code
    skid: Code
    product: Literal["CNG", "LNG"]
    dispenser: Annotated[int, Field(ge=1, le=32)]
    transaction: Annotated[int, Field(ge=1)]
    mass_kg: Annotated[Decimal, Field(ge=0, decimal_places=2)]
    amount_fen: Annotated[int, Field(ge=0)]
    price_fen_per_kg: Annotated[int, Field(ge=1)]
    totalizer_after_kg: Annotated[Decimal, Field(ge=0)]
    stop_reason: Annotated[str, Field(max_length=64)]
    ended_at: datetime


async def on_gas_fill_completed(conn: psycopg.AsyncConnection, event: CloudEvent, origin: EventTopic) -> None:
    data = event.data | {"station": origin.station}     # the station the broker authorised
    data["mass_kg"] = round(Decimal(str(data.get("mass_kg"))), 2)
    data["totalizer_after_kg"] = round(Decimal(str(data.get("totalizer_after_kg"))), 2)
    fill = GasFill.model_validate(data)
    cur = await conn.execute(
        """INSERT INTO business.gas_fills (event_id, station, skid, product, dispenser, transaction_no, mass_kg,
               amount_fen, price_fen_per_kg, totalizer_after_kg, stop_reason, ended_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (event.id, fill.station, fill.skid, fill.product, fill.dispenser, fill.transaction, fill.mass_kg,
         fill.amount_fen, fill.price_fen_per_kg, fill.totalizer_after_kg, fill.stop_reason, fill.ended_at))
    if cur.rowcount == 1:
        log.info("recorded %s fill %s/%s #%d: %s kg, %d fen", fill.product, fill.station, fill.skid,
                 fill.transaction, fill.mass_kg, fill.amount_fen)
