"""What every device entry of a station file shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
