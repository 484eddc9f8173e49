"""The station's master-data list: head office → station as a versioned command, the version reported back.

Head office owns a station's master data (``business_services/stations``). Every change makes a new version
of the whole list, published as a ``command.replace_master_data`` CloudEvent on the station's command topic
(``forecourt/v1/{group}/{station}/commands/command.replace_master_data``, event id
``master-data/{station}/{version}``, so a republished version is the same message). The edge node keeps the
newest list it has seen on disk (``edge_nodes/master_data.py``), ignores an older one, and answers every list
with ``station.master_data_applied`` naming the version it holds, which head office records.

``users`` carries the station's users with their roles for offline login: password hashes only, never a
password. The whole envelope must fit ``MAX_EVENT_BYTES``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.identifiers import Code

REPLACE_MASTER_DATA = "command.replace_master_data"
MASTER_DATA_APPLIED = "station.master_data_applied"

Version = Annotated[int, Field(ge=1, lt=2**63)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StationUser(_Frozen):
    """A user who may log in at the station while head office is away."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password_hash: Annotated[str, Field(min_length=20, max_length=512, pattern=r"^\$")]  # "$argon2id$…", never plain
    roles: list[Annotated[str, Field(min_length=1, max_length=64)]]
    active: bool = True


class MasterData(EventPayload):
    """Payload of ``command.replace_master_data``: one station's whole master data at one version.

    ``station`` is the station record (code, name, address, …), ``devices`` the edge device entries as the
    station file has them, ``nozzles``/``tanks``/``grades``/``shifts`` the business records; all plain JSON
    so that the edge can keep and hand on what it does not use itself.
    """

    TYPE = REPLACE_MASTER_DATA

    version: Version
    station_code: Code
    station: dict[str, Any]
    devices: list[dict[str, Any]]
    grades: list[dict[str, Any]]
    tanks: list[dict[str, Any]]
    nozzles: list[dict[str, Any]]
    shifts: list[dict[str, Any]] = Field(default_factory=list)
    users: list[StationUser] = Field(default_factory=list)


class MasterDataApplied(EventPayload):
    """Payload of ``station.master_data_applied``: the version the station holds after a list arrived."""

    TYPE = MASTER_DATA_APPLIED

    station: Code
    version: Version                      # the version held (and in use) now
    offered: Version                      # the version of the list that just arrived
    outcome: Literal["applied", "already-held", "older-ignored"]


def newer(offered: int, held: int | None) -> bool:
    """Whether a list of version ``offered`` replaces the one held (``None``: none held yet)."""
    return held is None or offered > held
