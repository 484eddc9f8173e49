"""The station's price set as the edge keeps it, applied to each nozzle between fuellings (docs/station-prices.md).

Head office publishes ``command.replace_price_set`` (``telemetry/contracts/prices.py``) on the station's command
topic. ``PriceKeeper.offer`` keeps a set only when its version is newer than the one held, writing it to its
file atomically (as ``edge_nodes/master_data.py`` does), so the station server can follow the file and a
restarted edge starts with it. ``PriceKeeper.run`` then applies the set nozzle by nozzle through the device's
price path (``devices.base.PriceWriter``): it re-reads the fuelling point's state just before writing and
writes only while it is idle (a fuelling in progress keeps its price; the nozzle stays ``pending`` and is
tried on the next round), and a price counts only once the device reads it back. Each state change of a
nozzle is published as ``price.applied`` through the outbox (its id from station, version, nozzle, state and
attempt, so a report repeated after a crash is the same event); a refused nozzle is tried again with back-off,
each try a new ``attempt``. Per nozzle the edge keeps on disk which versions it has held since when
(``price_book.NozzleBook``), and every ``fuelling.completed`` is stamped from that (``price_set_at``), so a
restart mid-apply resumes where it stopped and never forgets what a pump charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from edge_nodes import metrics
from edge_nodes.commands import DeviceCommand
from edge_nodes.devices.base import PriceWriter
from edge_nodes.master_data import write_atomically
from edge_nodes.price_book import (
    RETRY_FIRST_S,
    NozzleBook,
    books_from_json,
    books_to_json,
    nozzle_key,
    retry_after_s,
    version_at,
)
from protocol_adapters.readings import AdapterError
from telemetry.contracts.commands import Result
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.prices import REPLACE_PRICE_SET, NozzlePrice, NozzleState, PriceApplied, PriceSet

log = logging.getLogger(__name__)

#: How often the keeper looks again at nozzles waiting for an idle fuelling point.
ROUND_S = 1.0
BUSY = "加油中，空闲后调价 (fuelling point busy: the price is written when it is idle)"


def nozzles_path(price_set_path: Path) -> Path:
    """Where the per-nozzle books live beside the price-set file."""
    return price_set_path.with_name(price_set_path.name.removesuffix(".json") + ".nozzles.json")


class PriceKeeper:
    """The newest price set seen, each nozzle's book, and the loop that brings the pumps to the set."""

    def __init__(self, station: str, path: Path | None, emit_event: Callable[[CloudEvent], Awaitable[None]], *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 clock: Callable[[], float] = time.monotonic, round_s: float = ROUND_S,
                 retry_first_s: float = RETRY_FIRST_S) -> None:
        self.station = station
        self.path = path
        self.writers: dict[str, PriceWriter] = {}       # by device code, from the device wiring
        self._emit = emit_event
        self._now, self._clock, self._round_s = now, clock, round_s
        self._retry_first_s = retry_first_s
        self._retry_at: dict[str, float] = {}            # by nozzle key: not before (monotonic); not kept on disk
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()                      # a new set never lands in the middle of a nozzle's try
        self.current: PriceSet | None = None
        self.books: dict[str, NozzleBook] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            if path.exists():
                self.current = PriceSet.model_validate_json(path.read_bytes())
            if nozzles_path(path).exists():
                self.books = books_from_json(nozzles_path(path).read_bytes())
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            # never start without saying so; the next set from head office replaces it
            log.error("price-set files beside %s are unreadable, starting without them: %s", path, str(exc)[:300])

    @property
    def version(self) -> int | None:
        return None if self.current is None else self.current.version

    # --- the stamping rule, for the fuelling watchers ----------------------------------------------

    def price_set_at(self, device: str, fuelling_point: int, nozzle: int, started_at: datetime,
                     unit_price: int) -> int | None:
        """The version in force on this nozzle when a fuelling started (``price_book.version_at``)."""
        book = self.books.get(nozzle_key(device, fuelling_point, nozzle))
        return None if book is None else version_at(book.held, started_at, unit_price)

    # --- a new set -----------------------------------------------------------------------------------

    async def offer(self, price_set: PriceSet) -> str:
        """Keep ``price_set`` if newer than the set held; what happened: applying, already-held or older-ignored."""
        async with self._lock:
            return await self._offer(price_set)

    async def _offer(self, price_set: PriceSet) -> str:
        held = self.version
        if held is not None and price_set.version <= held:
            return "already-held" if price_set.version == held else "older-ignored"
        if self.path is not None:
            await asyncio.to_thread(write_atomically, self.path, price_set.model_dump_json().encode())
        self.current = price_set
        for n in price_set.nozzles:
            key = nozzle_key(n.device, n.fuelling_point, n.nozzle)
            self.books.setdefault(key, NozzleBook()).aim(price_set.version, n.price_fen)
            self._retry_at.pop(key, None)
        await self._save()
        self.wake.set()
        return "applying"

    # --- applying --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Bring every nozzle to the set held, until cancelled."""
        while True:
            self.wake.clear()
            await self.apply_round()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._round_s):
                    await self.wake.wait()

    async def apply_round(self) -> None:
        """One pass over the set's nozzles: each not yet applied and due is tried once."""
        current = self.current
        if current is None:
            return
        for n in current.nozzles:
            key = nozzle_key(n.device, n.fuelling_point, n.nozzle)
            async with self._lock:
                if self.current is not current:        # a newer set arrived: the next round applies it
                    return
                book = self.books.setdefault(key, NozzleBook())
                if book.target != current.version:     # no book yet, or a crash between the set's file and ours
                    book.aim(current.version, n.price_fen)
                if book.state == "applied" or self._clock() < self._retry_at.get(key, 0.0):
                    continue
                try:
                    await self._try(n, key, book)
                except Exception:   # one nozzle's surprise must not stop the others or the loop
                    log.exception("price %s: trying version %s failed", key, book.target)

    async def _try(self, n: NozzlePrice, key: str, book: NozzleBook) -> None:
        if book.state == "refused":             # the back-off is over: a new try, its outcome reported anew
            book.attempt, book.state = book.attempt + 1, None
        writer = self.writers.get(n.device)
        if writer is None:
            await self._report(n, key, book, "refused", f"设备 {n.device} 不支持写价 (device {n.device} takes no "
                                                        "price write at this station)")
            return
        try:
            if not await writer.fp_idle(n.fuelling_point):
                await self._report(n, key, book, "pending", BUSY)
                return
            written_at = self._now()
            result, detail = await writer.write_price(n.fuelling_point, n.nozzle, n.price_fen)
        except AdapterError as exc:
            await self._report(n, key, book, "pending", f"设备未应答，稍后重试 (the device does not answer: {exc})")
            return
        if result == "accepted":
            book.hold(book.target or 0, n.price_fen, written_at)
            await self._report(n, key, book, "applied", detail)
        elif result in ("timeout", "device-unavailable"):
            await self._report(n, key, book, "pending", f"设备未应答，稍后重试 (the device did not answer: {detail})")
        else:
            await self._report(n, key, book, "refused", f"加油机拒绝新价格 (the pump refused the price: {detail})")

    async def _report(self, n: NozzlePrice, key: str, book: NozzleBook, state: NozzleState, detail: str) -> None:
        """Publish the nozzle's state if it changed (first to the outbox, then to disk: a crash repeats the event)."""
        if state == "refused":
            self._retry_at[key] = self._clock() + retry_after_s(book.attempt, self._retry_first_s)
        if book.state == state:                 # no change (still busy): nothing to report
            book.detail = detail[:200]
            return
        book.state, book.detail = state, detail[:200]
        report = PriceApplied(station=self.station, version=book.target or 1, device=n.device,
                              fuelling_point=n.fuelling_point, nozzle=n.nozzle, grade=n.grade, price_fen=n.price_fen,
                              state=state, detail=book.detail, attempt=book.attempt, at=self._now())
        await self._emit(report.envelope(event_id=report.event_id(), source=f"forecourt/{self.station}/edge",
                                         subject=key))
        metrics.PRICE_REPORTS.labels(n.device, state).inc()
        log.log(logging.WARNING if state == "refused" else logging.INFO, "price %s version %d: %s (try %d) %s",
                key, report.version, state, book.attempt, book.detail)
        await self._save()

    async def _save(self) -> None:
        if self.path is not None:
            await asyncio.to_thread(write_atomically, nozzles_path(self.path), books_to_json(self.books))


def price_commands(station: str, keeper: PriceKeeper) -> dict[tuple[str, str], DeviceCommand]:
    """The station-level command (no ``device``): keep the set if newer; the pumps follow in ``keeper.run``."""
    async def replace(command: PriceSet) -> tuple[Result, str]:
        if command.station != station:
            return "bad-argument", f"a price set for station {command.station}, this is {station}"
        outcome = await keeper.offer(command)
        log.info("price set version %d offered: %s, holding %s", command.version, outcome, keeper.version)
        return "accepted", f"{outcome}: version {keeper.version} held"
    return {("", REPLACE_PRICE_SET): DeviceCommand(PriceSet, replace)}
