"""State of one connector: the EV plugged into it, its session and its fault (plain data).

``ChargerModel`` owns and changes these; a session is an authorisation until the EV is plugged
in too, and a transaction from then on (``started``).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.charger.config import EvProfile
from simulators.charger.events import ConnectorStatus, ErrorCode, StartTrigger
from simulators.charger.power import PowerPoint

#: tolerance on state of charge and on sample instants
EPS = 1e-6


@dataclass
class Session:
    """An authorisation on a connector; a transaction once the EV is plugged in too."""

    local_id: int
    transaction_ref: str
    id_tag: str
    trigger: StartTrigger
    remote_start_id: int | None
    authorised_at_s: float
    started: bool = False
    meter_start_wh: int = 0
    charging_s: float = 0.0
    next_sample_s: float = float("inf")


@dataclass
class EvState:
    """The plugged-in EV's battery as it charges."""

    profile: EvProfile
    soc_pct: float

    @property
    def full(self) -> bool:
        return self.soc_pct >= self.profile.target_soc_pct - EPS


@dataclass
class Connector:
    """One connector (gun) with its energy register (Wh, float; reported floored to an integer)."""

    connector_id: int
    energy_wh: float
    point: PowerPoint
    ev: EvState | None = None
    session: Session | None = None
    fault: ErrorCode | None = None
    fault_info: str | None = None
    finishing: bool = False
    status: ConnectorStatus = ConnectorStatus.AVAILABLE
    #: last status and error code reported in a StatusChanged event
    reported_error: ErrorCode = ErrorCode.NO_ERROR

    @property
    def transaction(self) -> Session | None:
        """The running transaction (not a mere authorisation waiting for the plug)."""
        return self.session if self.session is not None and self.session.started else None
