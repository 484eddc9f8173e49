"""Head office's side of IC cards: the purse mirror, the grey list and loads (圈存).

- ``payment.captured`` with ``ic_card``: ``purse_debit_entry`` (once, by the payment's key) and the grey
  list's record of that lock settled.
- ``ic_card.grey_recorded``: the station's grey record into the grey list (another station asks it).
- ``ic_card.grey_settled``: another station debited a grey lock from the list: the origin station's
  payment is posted now (the same key as its capture, which then posts nothing), the record settled.
- ``ic_card.purse_read``: the chip's purse as last read (``views.reconciliation``).
- Loads: ``AuthoriseLoad`` moves reserve → purse (``purse_load_entry``) and gives the station the card's
  load MAC; the station writes the chip and ``ConfirmLoad``s with the chip's TAC (checked), or, when the
  write did not happen, ``ReverseLoad``s (``purse_load_reversal_entry``). docs/ic-cards.md "Loads".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from business_services.audit.model import AuditEntry
from business_services.ic_cards import repository
from business_services.ic_cards.model import IcCardError, Psam, counter_of, mask_card
from business_services.ledger import repository as ledger
from business_services.ledger.model import Entry, purse_debit_entry, purse_load_entry, purse_load_reversal_entry
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.ic_cards import IcGreyRecorded, IcGreySettled, IcPurseRead
from telemetry.contracts.events.payments import Method, PaymentCaptured

log = logging.getLogger(__name__)


async def _debit_mirror(uow: UnitOfWork, entry: Entry, card_no: str) -> int | None:
    """Post a purse debit; one the mirror cannot cover is kept as a shortfall (the chip paid it: the sale and
    the other handlers of the event still commit), never a failed event."""
    try:
        return await ledger.post_within_balance(uow.conn, entry)
    except ledger.Overdrawn:
        amount = max(p.amount for p in entry.postings)
        await repository.shortfall(uow.conn, entry.idempotency_key, card_no, entry.station or "", entry.reference,
                                   amount, entry.occurred_at)
        log.warning("IC 卡 %s 卡内扣款 %d 分超过镜像余额，记为差异 (the purse mirror cannot cover it)",
                    mask_card(card_no), amount)
        return None


async def ic_payment_captured(event: CloudEvent, uow: UnitOfWork) -> bool:
    payment = PaymentCaptured.from_event(event)
    if payment.method is not Method.IC_CARD or payment.card_no is None:
        return False
    posted = await _debit_mirror(uow, purse_debit_entry(payment.station, payment.payment_no, payment.card_no,
                                                        payment.amount_fen, payment.captured_at), payment.card_no)
    counter = counter_of(payment.provider_ref)
    if counter is not None:
        await repository.settle_grey(uow.conn, payment.card_no, counter, payment.station, payment.amount_fen,
                                     (payment.provider_ref or "").rsplit(":", 1)[-1], payment.captured_at)
    return posted is not None


async def grey_recorded(event: CloudEvent, uow: UnitOfWork) -> None:
    await repository.record_grey(uow.conn, IcGreyRecorded.from_event(event))


async def grey_settled(event: CloudEvent, uow: UnitOfWork) -> None:
    settled = IcGreySettled.from_event(event)
    record = await repository.grey_record(uow.conn, settled.card_no, settled.counter, lock=True)
    payment_no = settled.payment_no or (record or {}).get("payment_no")
    if payment_no and settled.amount_fen:
        await _debit_mirror(uow, purse_debit_entry(settled.origin_station, payment_no, settled.card_no,
                                                   settled.amount_fen, settled.settled_at), settled.card_no)
    await repository.settle_grey(uow.conn, settled.card_no, settled.counter, settled.station, settled.amount_fen,
                                 settled.tac, settled.settled_at)
    await uow.audit(AuditEntry("ic_card.grey.settle", f"card:{mask_card(settled.card_no)}/{settled.counter}",
                               settled.origin_station, None, {"settled_by": settled.station,
                                                              "amount_fen": settled.amount_fen}))


async def purse_read(event: CloudEvent, uow: UnitOfWork) -> None:
    await repository.purse_read(uow.conn, IcPurseRead.from_event(event))


# ---- loads (圈存) -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AuthoriseLoad:
    load_no: str
    card_no: str
    station: str
    counter: int              # the chip's counter now + 1 (read by the station's reader)
    amount_fen: int
    by: str
    psam: Psam = field(repr=False)
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


@dataclass(frozen=True, slots=True)
class ConfirmLoad:
    load_no: str
    tac: str
    psam: Psam = field(repr=False)


@dataclass(frozen=True, slots=True)
class ReverseLoad:
    load_no: str


def _answer(load: dict[str, Any], psam: Psam | None = None) -> dict[str, Any]:
    answer = {k: load[k] for k in ("load_no", "card_no", "station", "counter", "amount_fen", "at", "state")}
    if psam is not None and load["state"] == "authorised":
        answer["mac"] = psam.load_mac(load["card_no"], load["counter"], load["amount_fen"], load["at"]).hex()
    return answer


async def _load(uow: UnitOfWork, load_no: str) -> dict[str, Any]:
    load = await repository.get_load(uow.conn, load_no, lock=True)
    if load is None:
        raise IcCardError(f"没有圈存 {load_no} (no load {load_no})", 404)
    return load


async def authorise_load(command: AuthoriseLoad, uow: UnitOfWork) -> dict[str, Any]:
    """The load with the MAC the chip needs; the same load asked again answers the same (posts nothing)."""
    if command.amount_fen <= 0:
        raise IcCardError("圈存金额必须大于 0 (a load moves more than 0)", 422)
    if await repository.add_load(uow.conn, command.load_no, command.card_no, command.station, command.counter,
                                 command.amount_fen, command.at, command.by):
        try:
            await ledger.post_within_balance(uow.conn, purse_load_entry(
                command.load_no, command.card_no, command.amount_fen, command.at, command.station))
        except ledger.Overdrawn:
            raise IcCardError("备用金余额不足，不能圈存 (the card's reserve account holds less than this)") from None
        await uow.audit(AuditEntry("ic_card.load.authorise", f"load:{command.load_no}", command.station, None,
                                   {"card": mask_card(command.card_no), "amount_fen": command.amount_fen,
                                    "counter": command.counter}))
    load = await _load(uow, command.load_no)
    if (load["card_no"], load["amount_fen"], load["counter"]) != (command.card_no, command.amount_fen,
                                                                  command.counter):
        raise IcCardError(f"圈存号 {command.load_no} 已用于另一笔圈存 (this load number was used for another load)")
    return _answer(load, command.psam)


async def confirm_load(command: ConfirmLoad, uow: UnitOfWork) -> dict[str, Any]:
    """The chip wrote it: its TAC must be the card's for this load."""
    load = await _load(uow, command.load_no)
    if load["state"] == "written":
        return _answer(load)
    if load["state"] != "authorised":
        raise IcCardError(f"圈存 {command.load_no} 已冲正，不能确认 (the load was reversed)")
    expected = command.psam.tac(load["card_no"], load["counter"], load["amount_fen"], load["at"]).hex()
    if command.tac.lower() != expected:
        raise IcCardError("TAC 校验失败 (the chip's TAC does not match this load)", 422)
    await repository.end_load(uow.conn, command.load_no, "written", command.tac.lower(), datetime.now(UTC))
    await uow.audit(AuditEntry("ic_card.load.confirm", f"load:{command.load_no}", load["station"],
                               {"state": "authorised"}, {"state": "written"}))
    return _answer(await _load(uow, command.load_no))


async def reverse_load(command: ReverseLoad, uow: UnitOfWork) -> dict[str, Any]:
    """The chip was not written: the amount goes back to the reserve account, once."""
    load = await _load(uow, command.load_no)
    if load["state"] == "reversed":
        return _answer(load)
    if load["state"] != "authorised":
        raise IcCardError(f"圈存 {command.load_no} 已写卡，不能冲正 (the chip was written: it cannot be reversed)")
    await ledger.post(uow.conn, purse_load_reversal_entry(command.load_no, load["card_no"], load["amount_fen"],
                                                          datetime.now(UTC), load["station"]))
    await repository.end_load(uow.conn, command.load_no, "reversed", None, datetime.now(UTC))
    await uow.audit(AuditEntry("ic_card.load.reverse", f"load:{command.load_no}", load["station"],
                               {"state": "authorised"}, {"state": "reversed"}))
    return _answer(await _load(uow, command.load_no))


EVENT_HANDLERS: dict[str, list[Handler]] = {PaymentCaptured.TYPE: [ic_payment_captured],
                                            IcGreyRecorded.TYPE: [grey_recorded],
                                            IcGreySettled.TYPE: [grey_settled],
                                            IcPurseRead.TYPE: [purse_read]}
COMMAND_HANDLERS: dict[type, Handler] = {AuthoriseLoad: authorise_load, ConfirmLoad: confirm_load,
                                         ReverseLoad: reverse_load}
