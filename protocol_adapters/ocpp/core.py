"""The central system's decisions, shared by the 1.6 and 2.0.1 handlers of every connection.

The handlers (``charge_points.py``) only translate OCPP payloads into calls on ``CsmsCore`` and its
answers back into OCPP. Here: the boot answer, authorisation against the id-token list (plus the
tags we started remotely), the transaction ledger with its duplicate rules, the live charger
state, and the hand-over of a finished ``ChargingSession`` to the callback — which happens
*before* the charger gets its answer, so that a failed hand-over is answered with a CALLERROR
and the charger's retry tries again. Transaction messages of one charge point are handled one at
a time (a lock per charge point), also across a reconnect that briefly leaves two connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.exceptions import FormationViolationError, FormatViolationError, InternalError

from protocol_adapters.ocpp.auth import AuthorizationCache
from protocol_adapters.ocpp.codec import (
    MeterSample,
    OcppVersion,
    PayloadError,
    check_energy_register,
    parse_meter_values,
    parse_timestamp,
)
from protocol_adapters.ocpp.sessions import ChargingSession, OpenTransaction, TransactionLedger
from protocol_adapters.ocpp.state import ChargerStates

log = logging.getLogger(__name__)

SessionSink = Callable[[ChargingSession], Awaitable[None]]
#: how long a remote start lets its id tag start a transaction without the list
REMOTE_TAG_TTL = timedelta(minutes=15)


def iso(moment: datetime) -> str:
    """OCPP dateTime: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _timestamp(text: str, version: OcppVersion) -> datetime:
    """A transaction message's timestamp; one that cannot be read is the version's format CALLERROR."""
    try:
        return parse_timestamp(text)
    except PayloadError as exc:
        error = FormationViolationError if version is OcppVersion.V16 else FormatViolationError
        raise error(description=str(exc)) from exc


async def log_session(session: ChargingSession) -> None:
    log.info("charging session %s/%s ended: %.3f kWh", session.charge_point, session.transaction_id,
             session.energy_kwh)


@dataclass(slots=True)
class CsmsStats:
    sessions: int = 0
    duplicates: int = 0
    orphans: int = 0
    hand_over_failures: int = 0
    bad_frames: int = 0
    #: meter values left out because they could not be read or were not believable (negative, absurd, inf)
    bad_values: int = 0
    #: sessions whose id tag the central system did not accept (published as refused, never as a sale)
    refused_sessions: int = 0
    #: websocket handshakes refused for an unknown charge point or missing / wrong credentials (profiles 1, 2)
    refused_handshakes: int = 0


class CsmsCore:
    def __init__(self, auth: AuthorizationCache, *, expected: Mapping[str, int], heartbeat_interval_s: int = 300,
                 on_session: SessionSink = log_session, on_change: Callable[[], None] = lambda: None,
                 first_transaction_id: int = 1, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.auth = auth
        self.ledger = TransactionLedger(first_transaction_id)
        self.states = ChargerStates(expected, now)
        self.heartbeat_interval_s = heartbeat_interval_s
        self.on_session = on_session
        self.on_change = on_change
        self.now = now
        self.stats = CsmsStats()
        self._remote_tags: dict[tuple[str, str], datetime] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, cp: str) -> asyncio.Lock:
        return self._locks.setdefault(cp, asyncio.Lock())

    # --- connection, boot, status -----------------------------------------------------------------

    def boot(self, cp: str, vendor: str, model: str) -> int:
        """Every expected charger is accepted; the answer's heartbeat interval."""
        log.info("charge point %s booted (%s %s)", cp, vendor, model)
        self.states.booted(cp, vendor, model)
        self.on_change()
        return self.heartbeat_interval_s

    def status_16(self, cp: str, connector: int, status: str, error_code: str) -> None:
        if connector > 0:
            self.states.status(cp, connector, status, "" if error_code == "NoError" else error_code)
            self.on_change()

    def status_201(self, cp: str, evse: int, connector_status: str) -> None:
        self.states.status_201(cp, evse, connector_status)
        self.on_change()

    def problem_201(self, cp: str, evse: int, tech_code: str, raised: bool) -> None:
        self.states.connector(cp, evse).error_code = tech_code if raised else ""

    def samples(self, cp: str, meter_value: Sequence[Mapping[str, Any]] | None,
                version: OcppVersion) -> list[MeterSample]:
        """The readable meter samples; each value left out is counted and logged (the good ones are kept)."""
        samples = parse_meter_values(meter_value, version)
        for sample in samples:
            for problem in sample.problems:
                self.stats.bad_values += 1
                log.warning("%s sent a meter value we do not use: %s", cp, problem)
        return samples

    def register(self, cp: str, field: str, value_wh: int) -> int | None:
        """A 1.6 meterStart / meterStop we can believe; None (counted and logged) when it is negative or absurd."""
        try:
            check_energy_register(value_wh)
        except PayloadError as exc:
            self.stats.bad_values += 1
            log.warning("%s sent a %s we do not use: %s", cp, field, exc)
            return None
        return value_wh

    def meter_values(self, cp: str, connector: int, meter_value: Sequence[Mapping[str, Any]],
                     version: OcppVersion, transaction_id: int | None = None) -> None:
        if connector <= 0:   # connector / EVSE 0 is the main meter of the charge point
            return
        samples = self.samples(cp, meter_value, version)
        for sample in samples:
            self.states.sample(cp, connector, sample)
        if transaction_id is not None:
            self.ledger.metered(cp, str(transaction_id), samples)
        if transaction_id is not None and not self.ledger.is_finished(cp, str(transaction_id)):
            self.states.transaction_seen(cp, connector, str(transaction_id))   # e.g. started before a restart
        self.on_change()

    # --- authorisation ----------------------------------------------------------------------------

    def allow_remote(self, cp: str, id_tag: str) -> None:
        self._remote_tags[(cp, id_tag.casefold())] = self.now() + REMOTE_TAG_TTL

    def forget_remote(self, cp: str, id_tag: str) -> None:
        self._remote_tags.pop((cp, id_tag.casefold()), None)

    def authorize(self, cp: str, id_tag: str, version: OcppVersion) -> str:
        status = self.auth.answer(id_tag, version)
        log.info("authorise %s at %s: %s", id_tag, cp, status)
        return status

    def _start_status(self, tx: OpenTransaction, version: OcppVersion) -> str:
        """The id tag's verdict when a transaction starts: decided once, repeated for duplicates."""
        if not tx.tag_status and tx.id_tag:
            deadline = self._remote_tags.pop((tx.charge_point, tx.id_tag.casefold()), None)
            remote = deadline is not None and deadline >= self.now()
            tx.tag_status = "Accepted" if remote else self.auth.answer(tx.id_tag, version)
        return tx.tag_status

    # --- transactions -----------------------------------------------------------------------------

    async def _hand_over(self, session: ChargingSession, tx: OpenTransaction) -> None:
        """Hand the finished session over with the id tag's verdict; a refused one is counted and logged."""
        session = replace(session, id_tag_status=tx.tag_status)
        try:
            await self.on_session(session)
        except Exception as exc:
            self.stats.hand_over_failures += 1
            log.exception("charging session %s/%s could not be handed over", session.charge_point,
                          session.transaction_id)
            raise InternalError(description="the session could not be recorded; send it again") from exc
        self.ledger.finish(session)
        self.stats.sessions += 1
        if not session.authorised:
            self.stats.refused_sessions += 1
            log.warning("charging session %s/%s with id tag %s (%s) was not authorised; %.3f kWh flowed",
                        session.charge_point, session.transaction_id, session.id_tag,
                        session.id_tag_status or "no token", session.energy_kwh)

    async def start_16(self, cp: str, connector: int, id_tag: str, meter_start: int, timestamp: str) -> tuple[int, str]:
        async with self.lock(cp):
            at = _timestamp(timestamp, OcppVersion.V16)
            meter = self.register(cp, "meterStart", meter_start)
            tx, new = self.ledger.start_16(cp, connector, id_tag, meter, at)
            if new:
                self.states.transaction_started(cp, connector, tx.transaction_id, meter, at)
                self.on_change()
            else:
                self.stats.duplicates += 1
                log.info("repeated StartTransaction from %s: transaction %s again", cp, tx.transaction_id)
            return int(tx.transaction_id), self._start_status(tx, OcppVersion.V16)

    async def stop_16(self, cp: str, transaction_id: int, meter_stop: int, timestamp: str, reason: str | None,
                      transaction_data: Sequence[Mapping[str, Any]] | None) -> None:
        async with self.lock(cp):
            at = _timestamp(timestamp, OcppVersion.V16)
            samples = self.samples(cp, transaction_data, OcppVersion.V16)
            meter = self.register(cp, "meterStop", meter_stop)
            outcome = self.ledger.stop_16(cp, transaction_id, meter, at, reason or "Local")
            if outcome.duplicate:
                self.stats.duplicates += 1
                log.info("repeated StopTransaction %s from %s ignored", transaction_id, cp)
                return
            if outcome.session is None or outcome.transaction is None:
                self.stats.orphans += 1
                log.warning("StopTransaction %s from %s: unknown transaction, no session recorded", transaction_id, cp)
                connector = self.states.connector_of(cp, str(transaction_id))
                if connector is not None:
                    self.states.transaction_ended(cp, connector, str(transaction_id), meter, at)
                    self.on_change()
                return
            await self._hand_over(outcome.session, outcome.transaction)
            connector = outcome.transaction.connector
            for sample in samples:
                self.states.sample(cp, connector, sample)
            self.states.transaction_ended(cp, connector, str(transaction_id), meter, at)
            self.on_change()

    async def transaction_event(self, cp: str, event_type: str, timestamp: str, seq_no: int,
                                transaction_info: Mapping[str, Any], meter_value: Sequence[Mapping[str, Any]] | None,
                                evse: Mapping[str, Any] | None, id_token: Mapping[str, Any] | None) -> str | None:
        """Book a 2.0.1 TransactionEvent; the id token's status when the event carries one."""
        async with self.lock(cp):
            at = _timestamp(timestamp, OcppVersion.V201)
            tx_id = str(transaction_info["transaction_id"])
            tag = str(id_token["id_token"]) if id_token else None
            samples = self.samples(cp, meter_value, OcppVersion.V201)
            outcome = self.ledger.event_201(
                cp, event_type=event_type, seq_no=seq_no, transaction_id=tx_id, timestamp=at,
                connector=int(evse["id"]) if evse else None, id_tag=tag, samples=samples,
                stopped_reason=transaction_info.get("stopped_reason"))
            tx = outcome.transaction
            if tx is None:   # a transaction already finished, or never seen starting
                if outcome.duplicate:
                    self.stats.duplicates += 1
                else:
                    self.stats.orphans += 1
                    log.warning("TransactionEvent %s #%s from %s: transaction never seen starting", tx_id, seq_no, cp)
                return self.auth.answer(tag, OcppVersion.V201) if tag else None
            status = None
            if tag:   # the starting token's verdict is decided once; another token (e.g. at a stop) is looked up
                same = tag.casefold() == tx.id_tag.casefold()
                status = self._start_status(tx, OcppVersion.V201) if same else self.auth.answer(tag, OcppVersion.V201)
            if outcome.duplicate:
                self.stats.duplicates += 1
                log.info("repeated TransactionEvent %s #%s from %s ignored", tx_id, seq_no, cp)
                return status
            if event_type == "Started":
                self.states.transaction_started(cp, tx.connector, tx_id)
            for sample in samples:
                self.states.sample(cp, tx.connector, sample)
            state = transaction_info.get("charging_state")
            if outcome.session is not None:
                await self._hand_over(outcome.session, tx)
                self.states.transaction_ended(cp, tx.connector, tx_id, ev_connected=state == "EVConnected")
            else:
                self.states.charging_state(cp, tx.connector, state)
            self.on_change()
            return status
