"""What the edge keeps per nozzle about prices, and the stamping rule (pure: no I/O, no clock).

``NozzleBook`` is one nozzle's record: the price-set versions its pump has held (``Held``: version,
price, since when), the version being applied now, that try's state (applied / refused / pending),
its attempt number and why. ``version_at`` is the stamping rule: which version was in force on a
nozzle when a fuelling started. A fuelling that started clearly after a price was written is sold
under the new set, one that started clearly before under the old one; when the start is within
``NEAR`` of the write (the pump's clock counts whole seconds and may run apart from the edge's by up to a
minute) the fuelling's own unit price decides: the set whose price the pump charged is the set it held.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telemetry.contracts.prices import NozzleState

#: How close a fuelling's start may be to a price write for its unit price, not its clock, to decide.
NEAR = timedelta(seconds=60)
#: Versions remembered per nozzle (fuellings read back after a restart are stamped from them).
HELD_KEPT = 8
#: Back-off between tries of a refused nozzle: the first wait, doubled each time up to the most.
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0


@dataclass(frozen=True, slots=True)
class Held:
    """A version the nozzle's pump held from ``since`` (the moment its price was written, then read back)."""

    version: int
    price_fen: int
    since: datetime


def version_at(held: Sequence[Held], started_at: datetime, unit_price: int, near: timedelta = NEAR) -> int | None:
    """The version in force on a nozzle when a fuelling started (``held`` oldest first); None before any.

    Walks from the newest write back: a start at least ``near`` after a write is that write's version;
    a start within ``near`` of it is that version when the fuelling's price is its price and not the
    previous one's, the previous one when the price is only the previous one's, else by the clocks.
    """
    for i in range(len(held) - 1, -1, -1):
        h = held[i]
        if started_at >= h.since + near:
            return h.version
        if started_at > h.since - near:                        # close to this write
            before = held[i - 1] if i > 0 else None
            mine, theirs = unit_price == h.price_fen, before is not None and unit_price == before.price_fen
            if mine and not theirs:
                return h.version
            if theirs and not mine:
                continue
            if started_at >= h.since:
                return h.version
    return None


def retry_after_s(attempt: int, first_s: float = RETRY_FIRST_S, most_s: float = RETRY_MAX_S) -> float:
    """How long a nozzle refused on try ``attempt`` waits before the next try."""
    return min(most_s, first_s * float(2 ** max(0, attempt - 1)))


@dataclass(slots=True)
class NozzleBook:
    """One nozzle's price record, kept on disk as JSON (``edge_nodes/prices.py``)."""

    held: list[Held] = field(default_factory=list)
    target: int | None = None          # the version being applied (or applied)
    price_fen: int = 0                 # that version's price for this nozzle
    state: NozzleState | None = None   # of the try at ``target``; None before the first report
    attempt: int = 0
    detail: str = ""

    def aim(self, version: int, price_fen: int) -> None:
        """Start applying ``version`` (its price for this nozzle): a first try, nothing reported yet."""
        self.target, self.price_fen, self.state, self.attempt, self.detail = version, price_fen, None, 1, ""

    def hold(self, version: int, price_fen: int, since: datetime) -> None:
        if self.held and self.held[-1].version == version:
            return                                 # already held (a repeat after a restart)
        self.held = [*self.held, Held(version, price_fen, since)][-HELD_KEPT:]

    def holds(self, version: int) -> bool:
        return bool(self.held) and self.held[-1].version >= version

    def to_json(self) -> dict[str, Any]:
        return {"held": [[h.version, h.price_fen, h.since.isoformat()] for h in self.held], "target": self.target,
                "price_fen": self.price_fen, "state": self.state, "attempt": self.attempt, "detail": self.detail}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> NozzleBook:
        return cls([Held(int(v), int(p), datetime.fromisoformat(s)) for v, p, s in raw["held"]], raw["target"],
                   int(raw["price_fen"]), raw["state"], int(raw["attempt"]), str(raw["detail"]))


def books_to_json(books: dict[str, NozzleBook]) -> bytes:
    return json.dumps({k: b.to_json() for k, b in sorted(books.items())}, ensure_ascii=False).encode()


def books_from_json(body: bytes) -> dict[str, NozzleBook]:
    return {k: NozzleBook.from_json(v) for k, v in json.loads(body).items()}


def nozzle_key(device: str, fuelling_point: int, nozzle: int) -> str:
    return f"{device}/fp{fuelling_point}/n{nozzle}"
