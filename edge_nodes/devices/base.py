"""What every device entry of a station file shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from telemetry.contracts.identifiers import Code

__all__ = ["Code", "Strict"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
