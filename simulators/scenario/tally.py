"""What a scenario run did, counted as it happens: customers, sales, draws, deliveries, faults.

Money is integer fen and fuel volume integer centilitres, as the dispensers report them; true
litres drawn from the tanks are floats (the tank gauge's physics). ``totals()`` is the flat
summary two runs with the same seed must agree on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Visits:
    """Customers of one kind: arrived, served, had to wait, left without being served."""

    arrived: int = 0
    served: int = 0
    waited: int = 0
    left: int = 0
    refused: int = 0  # got a position but the device would not start (fault, power, no product)

    def as_dict(self, prefix: str) -> dict[str, int]:
        return {f"{prefix}_{name}": getattr(self, name) for name in ("arrived", "served", "waited", "left", "refused")}


@dataclass(slots=True)
class PowerLossSale:
    """A fuelling cut by a power loss: still payable in the buffer, paid once power came back."""

    device: str
    fuelling_point: int
    transaction: int
    volume_cl: int
    amount_fen: int
    payable_during_outage: bool
    power_back_s: float | None = None
    paid_s: float | None = None


@dataclass(slots=True)
class FaultRecord:
    device: str
    fault: str
    args: dict[str, object]
    started_s: float
    cleared_s: float | None = None
    source: str = "schedule"  # or "command"


@dataclass(slots=True)
class Tally:
    cars: Visits = field(default_factory=Visits)
    gas: Visits = field(default_factory=Visits)
    evs: Visits = field(default_factory=Visits)
    volume_cl: Counter[int] = field(default_factory=Counter)  # by grade id
    amount_fen: Counter[int] = field(default_factory=Counter)  # by grade id
    fills: int = 0
    drawn_l: dict[int, float] = field(default_factory=dict)  # by tank: true litres pumped out
    deliveries: int = 0
    delivered_l: float = 0.0
    gas_kg: dict[str, float] = field(default_factory=lambda: {"cng": 0.0, "lng": 0.0})
    gas_fen: Counter[str] = field(default_factory=Counter)
    ev_sessions: int = 0
    ev_wh: int = 0
    faults: list[FaultRecord] = field(default_factory=list)
    power_loss_sales: list[PowerLossSale] = field(default_factory=list)

    def fill(self, grade: int, volume_cl: int, amount_fen: int) -> None:
        self.fills += 1
        self.volume_cl[grade] += volume_cl
        self.amount_fen[grade] += amount_fen

    def draw(self, tank: int, litres: float) -> None:
        self.drawn_l[tank] = self.drawn_l.get(tank, 0.0) + litres

    def power_loss_sale(self, device: str, fp: int, number: int) -> PowerLossSale | None:
        for sale in self.power_loss_sales:
            if (sale.device, sale.fuelling_point, sale.transaction) == (device, fp, number):
                return sale
        return None

    def totals(self) -> dict[str, object]:
        """Everything a run decides, rounded where physics makes floats (repeatable per seed)."""
        return {
            **self.cars.as_dict("cars"),
            **self.gas.as_dict("gas"),
            **self.evs.as_dict("evs"),
            "fills": self.fills,
            "volume_cl": dict(sorted(self.volume_cl.items())),
            "amount_fen": dict(sorted(self.amount_fen.items())),
            "drawn_l": {tank: round(litres, 2) for tank, litres in sorted(self.drawn_l.items())},
            "deliveries": self.deliveries,
            "delivered_l": round(self.delivered_l, 1),
            "ev_sessions": self.ev_sessions,
            "ev_wh": self.ev_wh,
            "faults": [(f.device, f.fault, f.started_s, f.cleared_s) for f in self.faults],
            "power_loss_sales": [(s.device, s.fuelling_point, s.transaction, s.volume_cl)
                                 for s in self.power_loss_sales],
        }
