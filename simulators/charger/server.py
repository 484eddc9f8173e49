"""The charger simulator: physics on the clock, the OCPP websocket link, driver and fault controls.

This is the one module with I/O. ``ChargerSimulator`` is an async context manager running two
tasks: one steps the model on the clock, one keeps a websocket to ``<csms_url>/<charge_point_id>``
(connect with back-off, BootNotification until Accepted, then Heartbeat and the outbox sender until
the link drops). Every charger-initiated message goes through the outbox, so transaction messages
queued while offline are delivered in order after the reconnect. The charger is the websocket
*client*; it listens on nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self, TypeVar

from ocpp.exceptions import OCPPError, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from simulators.charger.config import ChargerConfig, EvProfile
from simulators.charger.dialect import BootReason, Dialect
from simulators.charger.driver import DriverControls
from simulators.charger.events import StopReason
from simulators.charger.faults import ChargerFaults
from simulators.charger.model import ChargerModel
from simulators.charger.ocpp16 import Ocpp16Dialect
from simulators.charger.ocpp201 import Ocpp201Dialect
from simulators.charger.outbox import Outbox
from simulators.charger.settings import ChargerSettings, find_spec
from simulators.clock import SimClock
from simulators.tasks import stop_tasks

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
#: What a failed CALL looks like: CALLERROR, no answer in time, or a payload failing its schema.
_CALL_FAILURES = (OCPPError, TimeoutError, ValidationError)


class LinkError(Exception):
    """The CSMS accepted the TCP connection but not the OCPP websocket (e.g. no common subprotocol)."""


@dataclass
class LinkStats:
    connects: int = 0
    boots: int = 0
    heartbeats: int = 0
    sent: int = 0
    #: messages given up after CALLERRORs, timeouts or schema failures
    dropped: int = 0
    #: handshakes the CSMS refused with HTTP 401 (unknown id or wrong credentials)
    refused: int = 0


class ChargerSimulator(DriverControls):
    """One charge point speaking OCPP 1.6J or 2.0.1 to a CSMS."""

    def __init__(self, config: ChargerConfig, clock: SimClock, *, url: str | None = None) -> None:
        self.config = config
        self._clock = clock
        self.url = url or config.url()
        seeds = random.Random(config.seed)
        self._link_rng = random.Random(seeds.getrandbits(64))
        self._model = ChargerModel(config, random.Random(seeds.getrandbits(64)), clock.stamp(), clock.stamp)
        self._stepped_to = clock.elapsed()
        self._settings = ChargerSettings(config, on_change=self._setting_changed)
        self.outbox = Outbox()
        self.faults = ChargerFaults(self)
        self.stats = LinkStats()
        self.dialect: Dialect = (
            Ocpp16Dialect(config, self) if config.ocpp_version == "1.6" else Ocpp201Dialect(config, self)
        )
        self.auth_cache: dict[str, bool] = {}
        self._ws: ClientConnection | None = None
        self._cp: Any = None
        self._online = False
        self._booted = False
        self._boot_reason = BootReason.POWER_UP
        self._pending_reset: bool | None = None
        self._reboot_when_flushed = False
        self._drop = asyncio.Event()
        self.link_lost = asyncio.Event()
        self.link_lost.set()
        self._online_event = asyncio.Event()
        self._drop_abort = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- state seen by dialects, faults and tests ----------------------------------------------
    @property
    def clock(self) -> SimClock:
        return self._clock

    @property
    def model(self) -> ChargerModel:
        return self._model

    @property
    def settings(self) -> ChargerSettings:
        return self._settings

    @property
    def online(self) -> bool:
        """Connected to the CSMS with an accepted boot."""
        return self._online

    @property
    def booted(self) -> bool:
        return self._booted

    async def wait_online(self) -> None:
        """Wait until the charger is connected with an accepted boot."""
        await self._online_event.wait()

    # ---- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._tasks = [
            asyncio.create_task(self._physics_loop(), name=f"{self.config.charge_point_id}-physics"),
            asyncio.create_task(self._link_loop(), name=f"{self.config.charge_point_id}-link"),
        ]
        for task in self._tasks:
            task.add_done_callback(_log_crash)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []

    # ---- ChargerControl / FaultTarget -----------------------------------------------------------
    def sync(self) -> None:
        """Step the model up to the clock's present."""
        now = self._clock.elapsed()
        if now > self._stepped_to:
            self._model.advance(now - self._stepped_to)
            self._stepped_to = now
        self._commit()

    def mutate(self, change: Callable[[ChargerModel], _T]) -> _T:
        self.sync()
        result = change(self._model)
        self._commit()
        return result

    def request_reset(self, *, hard: bool, when_idle: bool) -> None:
        if when_idle and any(True for _ in self._model.transactions()):
            self._pending_reset = hard
            return
        self._pending_reset = None
        reason = StopReason.HARD_RESET if hard else StopReason.SOFT_RESET
        self.mutate(lambda m: m.stop_all(reason))
        self.require_boot(BootReason.REMOTE_RESET)
        self._reboot_when_flushed = True
        if hard:
            self.drop_connection(abort=False)  # stops are delivered after the reboot
        else:
            self._reboot_if_flushed()  # soft: deliver the stops first

    def _reboot_if_flushed(self) -> None:
        if self._reboot_when_flushed and self.outbox.transactional_count() == 0:
            self.drop_connection(abort=False)

    async def before_answer(self, action: str) -> None:
        await self.faults.before_answer(action)

    def drop_connection(self, *, abort: bool) -> None:
        self._drop_abort = abort
        self._drop.set()

    def require_boot(self, reason: BootReason) -> None:
        self._booted = False
        self._boot_reason = reason

    async def send_raw(self, frame: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(frame)
        except ConnectionClosed:
            return False
        return True

    def _commit(self) -> None:
        for event in self._model.drain_events():
            for message in self.dialect.messages_for(event):
                self.outbox.put(message, coalesce=not self._online)

    def _setting_changed(self, key: str, value: int | bool) -> None:
        if key == "MeterValueSampleInterval" and isinstance(value, int):
            self.sync()
            self._model.sample_interval_s = value
        elif key == "ConnectionTimeOut" and isinstance(value, int):
            self._model.connection_timeout_s = value
        elif key == "HeartbeatInterval" and self._heartbeat is not None:
            self._start_heartbeat()

    # ---- physics --------------------------------------------------------------------------------
    async def _physics_loop(self) -> None:
        while True:
            await self._clock.sleep(self.config.step_s)
            self.sync()
            idle = not any(True for _ in self._model.transactions())
            if self._pending_reset is not None and idle:
                self.request_reset(hard=self._pending_reset, when_idle=False)

    # ---- link -----------------------------------------------------------------------------------
    async def _link_loop(self) -> None:
        failures = 0
        subprotocol = self.dialect.subprotocol
        while True:
            await self.faults.link_allowed.wait()
            self._drop.clear()
            try:
                async with connect(
                    self.url,
                    subprotocols=[Subprotocol(subprotocol)],
                    additional_headers=self.config.authorization_header(),
                    ssl=self.config.tls_context() if self.url.startswith("wss:") else None,
                    proxy=None,
                    open_timeout=self.config.response_timeout_s,
                    close_timeout=2,
                ) as ws:
                    if ws.subprotocol != subprotocol:
                        raise LinkError(f"CSMS did not accept subprotocol {subprotocol!r}")
                    failures = 0
                    await self._serve(ws)
            except InvalidStatus as exc:
                if exc.response.status_code == HTTPStatus.UNAUTHORIZED:
                    self.stats.refused += 1
                LOG.info("%s: %s refused the websocket: %s", self.config.charge_point_id, self.url, exc)
            except (OSError, TimeoutError, WebSocketException, LinkError) as exc:
                LOG.info("%s: no link to %s: %s", self.config.charge_point_id, self.url, exc)
            failures += 1
            base = min(self.config.reconnect_max_s, self.config.reconnect_min_s * 2 ** (failures - 1))
            await self._clock.sleep(base * (0.5 + 0.5 * self._link_rng.random()))

    async def _serve(self, ws: ClientConnection) -> None:
        """Run one websocket session until it closes, fails or is dropped on purpose."""
        self.stats.connects += 1
        cp = self.dialect.charge_point(ws)
        self._ws = ws
        tasks = [
            asyncio.create_task(cp.start()),
            asyncio.create_task(self._session(cp)),
            asyncio.create_task(self._drop.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._online = False
            self._online_event.clear()
            self._reboot_when_flushed = False
            self.link_lost.set()
            self._ws, self._cp = None, None
            self._stop_heartbeat()
            if self._drop.is_set() and self._drop_abort:
                # drop the link first: a task waiting inside the ocpp library (asyncio.wait_for) may not
                # take a cancellation on Python 3.11, but it does end when its connection is gone
                ws.transport.abort()
            results = await stop_tasks(tasks)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, ConnectionClosed):
                LOG.error("%s: link task failed", self.config.charge_point_id, exc_info=result)

    async def _session(self, cp: Any) -> None:
        if not self._booted:
            await self._boot(cp)
            for message in self.dialect.boot_statuses():
                self.outbox.put(message, coalesce=True)
        self._cp = cp
        self._online = True
        self._online_event.set()
        self.link_lost.clear()
        self._start_heartbeat()
        await self._send_loop(cp)

    async def _boot(self, cp: Any) -> None:
        while True:
            self.stats.boots += 1
            try:
                outcome = await self.dialect.boot(cp, self._boot_reason)
            except _CALL_FAILURES as exc:
                LOG.warning("%s: BootNotification failed: %s", self.config.charge_point_id, exc)
                await self._clock.sleep(self.config.boot_retry_s)
                continue
            if outcome.accepted:
                self._booted, self._boot_reason = True, BootReason.POWER_UP
                spec = find_spec("HeartbeatInterval")
                if outcome.interval_s > 0 and spec is not None:
                    self._settings.set_value(spec, outcome.interval_s)
                return
            await self._clock.sleep(outcome.interval_s if outcome.interval_s > 0 else self.config.boot_retry_s)

    async def _send_loop(self, cp: Any) -> None:
        while True:
            self._reboot_if_flushed()
            message = await self.outbox.head()
            payload = message.build()
            if payload is None:
                self.outbox.done(message)
                continue
            try:
                result = await cp.call(payload, suppress=False)
            except _CALL_FAILURES as exc:
                message.attempts += 1
                limit = self._settings.integer("TransactionMessageAttempts") if message.transactional else 1
                LOG.warning(
                    "%s: %s failed (%s/%s): %s",
                    self.config.charge_point_id,
                    message.action,
                    message.attempts,
                    limit,
                    exc,
                )
                if message.attempts >= limit:
                    self.outbox.done(message)
                    self.stats.dropped += 1
                    if message.on_failure is not None:
                        message.on_failure()
                else:
                    await self._clock.sleep(self.config.transaction_message_retry_s * message.attempts)
                continue
            self.outbox.done(message)
            self.stats.sent += 1
            if message.on_result is not None:
                message.on_result(result)

    def _start_heartbeat(self) -> None:
        self._stop_heartbeat()
        if self._cp is not None:
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(self._cp))

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def _heartbeat_loop(self, cp: Any) -> None:
        while (interval := self._settings.integer("HeartbeatInterval")) > 0:
            await self._clock.sleep(interval)
            try:
                await self.dialect.heartbeat(cp)
            except _CALL_FAILURES as exc:
                LOG.info("%s: Heartbeat failed: %s", self.config.charge_point_id, exc)
            except ConnectionClosed:
                return
            else:
                self.stats.heartbeats += 1


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        LOG.error("charger task %s stopped", task.get_name(), exc_info=task.exception())


async def run(config: ChargerConfig, clock: SimClock, *, host: str | None = None, port: int | None = None) -> None:
    """Run one charger until cancelled. ``host``/``port`` override those of ``config.csms_url``."""
    url = config.url(host=host, port=port) if host is not None or port is not None else None
    async with ChargerSimulator(config, clock, url=url):
        await asyncio.Event().wait()


__all__ = ["ChargerSimulator", "EvProfile", "LinkError", "LinkStats", "run"]
