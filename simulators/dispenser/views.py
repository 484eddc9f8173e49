"""Read-only snapshots of the dispenser model: what the register map and a scenario may look at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simulators.dispenser.states import FpState, PresetType
from simulators.dispenser.transactions import Transaction


@dataclass(frozen=True, slots=True)
class NozzleView:
    number: int
    grade_id: int
    lifted: bool
    price_fen: int
    volume_total_cl: int
    amount_total_fen: int
    delivered_total_l: float
    meter_error_pct: float


@dataclass(frozen=True, slots=True)
class FpView:
    """One fuelling point. Current figures are the open transaction's, else the last completed one's."""

    number: int
    state: FpState
    active_nozzle: int
    error_code: int
    price_fen: int
    volume_cl: int
    amount_fen: int
    flow_l_min: float
    transaction_number: int
    preset_type: PresetType
    preset_value: int
    unpaid_count: int
    hang_up_required: bool
    last: Transaction | None
    nozzles: tuple[NozzleView, ...]

    @property
    def buffer_state(self) -> int:
        """State of the latest completed transaction (0 = none yet)."""
        return int(self.last.buffer_state) if self.last else 0


@dataclass(frozen=True, slots=True)
class DispenserView:
    powered: bool
    now: datetime
    fuelling_points: tuple[FpView, ...]

    @property
    def any_fuelling(self) -> bool:
        return any(fp.state is FpState.FUELLING for fp in self.fuelling_points)

    @property
    def any_error(self) -> bool:
        return any(fp.error_code for fp in self.fuelling_points)

    @property
    def any_unpaid(self) -> bool:
        return any(fp.unpaid_count for fp in self.fuelling_points)
