"""Playing the driver: plug an EV in, present a card, unplug; plus the connector-fault shortcuts.

Mixed into ``ChargerSimulator`` so a scenario writes ``await charger.plug_in(1, "RFID0001")``.
A card (``swipe``) is authorised with the CSMS (Authorize, queued in the outbox behind earlier
messages like every charger-initiated CALL) and then starts a transaction on the connector;
presenting the card of a running transaction stops it (reason Local). Offline, the card reader
applies LocalAuthorizeOffline (cached verdicts) and AllowOfflineTxForUnknownId.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from simulators.charger.config import ChargerConfig, EvProfile
from simulators.charger.dialect import Dialect, Outgoing
from simulators.charger.events import ErrorCode, StopReason
from simulators.charger.model import ChargerError, ChargerModel
from simulators.charger.outbox import Outbox
from simulators.charger.settings import ChargerSettings

if TYPE_CHECKING:
    from simulators.charger.faults import ChargerFaults

_T = TypeVar("_T")


class DriverControls:
    """Driver actions on a running charger simulator."""

    config: ChargerConfig
    dialect: Dialect
    outbox: Outbox
    faults: ChargerFaults
    #: the CSMS's last verdict per id tag (the 1.6 "authorization cache")
    auth_cache: dict[str, bool]
    #: set while the charger has no websocket to the CSMS
    link_lost: asyncio.Event

    if TYPE_CHECKING:

        @property
        def model(self) -> ChargerModel: ...

        @property
        def settings(self) -> ChargerSettings: ...

        @property
        def online(self) -> bool: ...

        def sync(self) -> None: ...

        def mutate(self, change: Callable[[ChargerModel], _T]) -> _T: ...

    async def plug_in(self, connector_id: int, id_tag: str | None = None, ev: EvProfile | None = None) -> bool:
        """Plug ``ev`` (default ``EvProfile()``) in; with ``id_tag`` also present that card.

        Returns False only when a card was presented and not accepted (the EV stays plugged in).
        A connector already authorised (card first, or remote start) starts its transaction now.
        """
        profile = ev or EvProfile()
        self.mutate(lambda m: m.plug_in(connector_id, profile))
        if id_tag is None or self.model.connector(connector_id).session is not None:
            return True
        return await self.swipe(id_tag, connector_id)

    async def unplug(self, connector_id: int) -> None:
        """The driver pulls the plug: a running transaction ends with reason EVDisconnected."""
        self.mutate(lambda m: m.unplug(connector_id))

    async def swipe(self, id_tag: str, connector_id: int | None = None) -> bool:
        """Present a card at the reader (of ``connector_id``, or of the charger).

        Stops this card's running transaction if it has one, else authorises the card (Authorize,
        or the offline rules) on the connector with an EV waiting, else on a free connector.
        Returns whether the card was accepted.
        """
        self.sync()
        own = [c.connector_id for c, tx in self.model.transactions() if tx.id_tag == id_tag]
        own = [cid for cid in own if connector_id in (None, cid)]
        if own:
            self.mutate(lambda m: m.stop_transaction(own[0], StopReason.LOCAL))
            return True
        target = connector_id if connector_id is not None else self.model.free_connector()
        if target is None or not self.model.can_authorize(target):
            return False
        if not await self.authorize(id_tag):
            return False
        try:
            self.mutate(lambda m: m.authorize(target, id_tag))
        except ChargerError:
            return False  # the connector changed while the CSMS was deciding
        return True

    def inject_fault(self, connector_id: int, error_code: ErrorCode | str, info: str | None = None) -> None:
        """Connector fault (status Faulted with a 1.6 ChargePointErrorCode)."""
        self.faults.connector_fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self.faults.clear_connector_fault(connector_id)

    # ---- the card reader ------------------------------------------------------------------------
    async def authorize(self, id_tag: str) -> bool:
        """Ask the CSMS (Authorize); offline or unanswered, use the offline rules."""
        if self.online:
            accepted = await self._ask_csms(id_tag)
            if accepted is not None:
                self.auth_cache[id_tag] = accepted
                return accepted
        if self.settings.flag("LocalAuthorizeOffline") and self.auth_cache.get(id_tag, False):
            return True
        return self.settings.flag("AllowOfflineTxForUnknownId") and id_tag not in self.auth_cache

    async def _ask_csms(self, id_tag: str) -> bool | None:
        """The CSMS's verdict on ``id_tag``; None if it gave none (error, timeout, link lost)."""
        verdict: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()

        def answered(result: Any) -> None:
            if not verdict.done():
                verdict.set_result(self.dialect.authorize_accepted(result))

        def failed() -> None:
            if not verdict.done():
                verdict.set_result(None)

        request = self.dialect.authorize_request(id_tag)
        message = Outgoing("Authorize", lambda: request, on_result=answered, on_failure=failed)
        self.outbox.put(message)
        link_lost = asyncio.create_task(self.link_lost.wait())
        waiters: set[asyncio.Future[Any]] = {verdict, link_lost}
        try:
            await asyncio.wait(waiters, timeout=3 * self.config.response_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            link_lost.cancel()
            self.outbox.done(message)
        return verdict.result() if verdict.done() else None
