"""Commands to station equipment and their acknowledgements (CloudEvents on MQTT, QoS 1).

A command is published on ``forecourt/v1/{group}/{station}/commands/{type}``; the station's edge node
carries it out and answers with a ``command.acknowledged`` event on its events topic, naming the
command's id and the result (``Acknowledgement``, the one model the edge builds and the API parses).
A price change is only ``accepted`` once the device reads it back.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.identifiers import EVENT_TYPE_MAX, Code, EventId
from telemetry.contracts.topics import COMMANDS_LEVEL, EVENTS_ROOT, EventTopic

AUTHORIZE_NOZZLE = "command.authorize_nozzle"
STOP_FUELLING = "command.stop_fuelling"
SET_PRICE = "command.set_price"
REPLACE_ID_TAGS = "command.replace_id_tags"
ACKNOWLEDGED = "command.acknowledged"

Result = Literal["accepted", "refused", "bad-argument", "timeout", "device-unavailable", "unknown-command"]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device: Code
    fuelling_point: Annotated[int, Field(ge=1, le=4)]


class AuthorizeNozzle(_Command):
    """Let a fuelling point dispense, optionally up to a preset (0.01 L for volume, fen for amount)."""

    nozzle: Annotated[int, Field(ge=0, le=4)] = 0          # 0 = any nozzle
    preset_type: Literal["none", "volume", "amount"] = "none"
    preset_value: Annotated[int, Field(ge=0, lt=2**32)] = 0


class StopFuelling(_Command):
    pass


class SetPrice(_Command):
    nozzle: Annotated[int, Field(ge=1, le=4)]
    price_fen_per_l: Annotated[int, Field(ge=1, le=10_000)]


class ReplaceIdTags(BaseModel):
    """Head office pushes the member and card list the station's chargers are authorised against (kept
    on disk at the edge for offline use): ``{id_tag: "Accepted" | "Blocked" | "Expired" | "Invalid"}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: Code                                 # the station's OCPP central-system device
    id_tags: dict[str, str]


COMMANDS: dict[str, type[BaseModel]] = {AUTHORIZE_NOZZLE: AuthorizeNozzle, STOP_FUELLING: StopFuelling,
                                        SET_PRICE: SetPrice, REPLACE_ID_TAGS: ReplaceIdTags}


class Acknowledgement(EventPayload):
    """Payload of ``command.acknowledged``: which command (its event id and type), the result, and why."""

    TYPE = ACKNOWLEDGED

    command_id: EventId
    command_type: Annotated[str, Field(min_length=1, max_length=EVENT_TYPE_MAX)]   # or "sparkplug.DCMD"
    result: Result
    detail: Annotated[str, Field(max_length=2000)] = ""


def command_topic(group: str, station: str, command_type: str) -> str:
    return str(EventTopic(group, station, COMMANDS_LEVEL, command_type))


def commands_filter(group: str, station: str) -> str:
    """Every command to one station of one company (what its edge node subscribes to)."""
    return f"{EVENTS_ROOT}/{group}/{station}/{COMMANDS_LEVEL}/#"
