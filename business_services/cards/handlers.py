"""Commands on cards at head office, one handler each, in the caller's unit of work (docs/cards.md).

Every change of a card locks its row first, is audited, and lists the card as it now is on the station's
member list (``member_list.repository.record``; a closed card is unlisted) in the same transaction. Money moves
only by ledger entries (``business_services/ledger/model.py``) whose keys come from the document's number, so a
retried request posts nothing twice. Loss reports, unlocks, replacements and transfers are approval kinds: the
request asks, the approver's unit of work carries it out (``_approved``). Payments: ``payments.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from business_services.approvals import handlers as approvals
from business_services.approvals import registry
from business_services.approvals.model import ApprovalKind, ApprovalRequest, Rule
from business_services.audit.model import AuditEntry
from business_services.cards import payments, repository, views
from business_services.cards.changes import changed, listed, locked, public, repay_overdraft
from business_services.cards.commands import (
    Allocate,
    Bind,
    CloseCard,
    CreateCardType,
    CreateOffer,
    IssueCards,
    Recharge,
    RequestAction,
    SetFrozen,
    SetOfferActive,
    SetRestrictions,
)
from business_services.cards.members import check_member
from business_services.cards.model import (
    ACTION_NAMES,
    CHINA,
    INSUFFICIENT,
    Action,
    CardError,
    CardNotFound,
    CardRefused,
    Closing,
    Limits,
    Medium,
    Restrictions,
    Scope,
    Status,
    best_offer,
    card_number,
    check_action,
    check_allocation,
    check_close,
    check_freeze,
    check_recharge,
    closing,
    mask_card_no,
    restrictions_of,
)
from business_services.ledger import repository as ledger
from business_services.ledger.model import (
    card_closed_entry,
    card_transfer_entry,
    recharge_entry,
)
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork

APPROVER = Rule("card:write")


# ---- types and offers ----------------------------------------------------------------------------------

async def create_card_type(command: CreateCardType, uow: UnitOfWork) -> str:
    t = command.card_type
    if not await repository.insert_type(uow.conn, t, command.by):
        raise CardRefused(f"类型编码 {t.code} 或卡号前缀 {t.prefix} 已被使用 (the code or the prefix is taken)")
    await uow.audit(AuditEntry("card.type.create", f"card_type:{t.code}", t.station, None,
                               {"name": t.name, "scope": t.scope.value, "named": t.named, "medium": t.medium.value,
                                "kind": t.kind.value, "prefix": t.prefix, "length": t.length,
                                "offline_limit_fen": t.offline_limit_fen, "offline_daily_fen": t.offline_daily_fen}))
    return t.code


async def create_offer(command: CreateOffer, uow: UnitOfWork) -> int:
    o = command.offer
    offer_id = await repository.insert_offer(uow.conn, o, command.by)
    await uow.audit(AuditEntry("card.offer.create", f"card_offer:{offer_id}", None, None,
                               {"name": o.name, "min_paid_fen": o.min_paid_fen, "bonus_fen": o.bonus_fen,
                                "starts_on": o.starts_on.isoformat(), "ends_on": o.ends_on.isoformat(),
                                "stations": list(o.stations), "card_types": list(o.card_types)}))
    return offer_id


async def set_offer_active(command: SetOfferActive, uow: UnitOfWork) -> bool:
    before = await repository.set_offer_active(uow.conn, command.offer_id, command.active)
    if before is None:
        raise CardNotFound(f"offer {command.offer_id}")
    if before["active"] != command.active:
        await uow.audit(AuditEntry("card.offer.active", f"card_offer:{command.offer_id}", None,
                                   {"active": before["active"]}, {"active": command.active}))
    return command.active


# ---- issuing ---------------------------------------------------------------------------------------------

async def issue_cards(command: IssueCards, uow: UnitOfWork) -> list[str]:
    """The numbers issued: consecutive serials of the type, each with its Luhn digit."""
    type_row = await repository.lock_type(uow.conn, command.card_type)
    if type_row is None:
        raise CardError("card_type", f"没有卡类型 {command.card_type} (no such card type)")
    card_type = views.type_of(type_row)
    station = card_type.station if card_type.scope is Scope.STATION else command.station
    if station is None:
        raise CardError("station", "请选择发卡站点 (choose the station that issues the card)")
    if command.station is not None and command.station != station:
        raise CardError("station", f"单站卡只能由 {station} 发 (a single-station card is issued by its station)")
    if card_type.medium is Medium.ELECTRONIC and not command.member_no:
        raise CardError("member_no", "电子卡须绑定会员 (an electronic card is issued to a member)")
    await check_member(uow.conn, command.member_no)
    if command.main_card_no:
        main = await locked(uow.conn, command.main_card_no)
        if main["main_card_no"] is not None or main["status"] != Status.ACTIVE:
            raise CardRefused("主卡须为正常状态且本身不是副卡 (the main card must be active and not a sub card)")
    first = command.first_serial or type_row["next_serial"]
    numbers = [card_number(card_type.prefix, card_type.length, s) for s in range(first, first + command.count)]
    clash = await repository.taken(uow.conn, numbers)
    if clash:
        raise CardRefused(f"卡号 {clash[0]} 等 {len(clash)} 张已发出，请换一段流水号 (those numbers are issued)")
    restrictions = restrictions_of(card_type, command.plates, command.grades, command.stations, command.limits)
    batch_no = f"{card_type.code}:{first}-{first + command.count - 1}" if command.count > 1 else None
    await repository.insert_cards(uow.conn, numbers, command, station, restrictions, batch_no)
    await repository.take_serials(uow.conn, card_type.code, first, command.count)
    for card_no in numbers:
        await listed(uow, card_no)
    after = {"card_type": card_type.code, "member_no": command.member_no, "main_card_no": command.main_card_no,
             "count": command.count, "first": numbers[0], "last": numbers[-1]}
    target = f"card_batch:{batch_no}" if batch_no else f"card:{numbers[0]}"
    await uow.audit(AuditEntry("card.issue", target, station, None, after))
    return numbers


# ---- recharges and allocations ----------------------------------------------------------------------------

async def recharge(command: Recharge, uow: UnitOfWork) -> dict[str, Any]:
    """{balance_fen, bonus_fen, offer}; the same recharge number again answers the same (nothing posted)."""
    row = await locked(uow.conn, command.card_no)
    done = await repository.recharge(uow.conn, command.recharge_no)
    if done is None:
        check_recharge(Status(row["status"]), row["main_card_no"] is not None, command.paid_fen)
        day = command.at.astimezone(CHINA).date()
        offer = best_offer(await views.offers_on(uow.conn, day), command.paid_fen, command.station, row["card_type"],
                           day)
        bonus = offer.bonus_fen if offer else 0
        await repository.insert_recharge(uow.conn, command.recharge_no, command.card_no, command.station,
                                         command.method.value, command.shift_no, command.paid_fen, bonus,
                                         offer.id if offer else None, command.by, command.at)
        await ledger.post(uow.conn, recharge_entry(command.recharge_no, command.card_no, command.paid_fen, bonus,
                                                   command.method, command.station, command.shift_no or "-",
                                                   command.at))
        await repay_overdraft(uow, row, command.recharge_no, command.at)
        await changed(uow, "card.recharge", row, {"recharge_no": command.recharge_no, "paid_fen": command.paid_fen,
                                                  "bonus_fen": bonus, "method": command.method.value,
                                                  "station": command.station})
        done = {"card_no": command.card_no, "bonus_fen": bonus, "offer_id": offer.id if offer else None}
    elif done["card_no"] != command.card_no:
        raise CardRefused(f"充值单号 {command.recharge_no} 已用于另一张卡 (that recharge number is used)")
    return {"card_no": command.card_no, "recharge_no": command.recharge_no, "bonus_fen": done["bonus_fen"],
            "balance_fen": await views.balance(uow.conn, command.card_no)}


async def allocate(command: Allocate, uow: UnitOfWork) -> dict[str, int]:
    """Move value between a main card and its sub card; the balances after."""
    first, second = sorted((command.main_card_no, command.sub_card_no))     # one lock order: no deadlocks
    rows = {first: await locked(uow.conn, first), second: await locked(uow.conn, second)}
    main, sub = rows[command.main_card_no], rows[command.sub_card_no]
    check_allocation(Status(main["status"]), sub["main_card_no"], command.main_card_no, command.amount_fen)
    if sub["status"] == Status.CLOSED:
        raise CardRefused("副卡已注销 (the sub card is closed)")
    source, target = (sub, main) if command.back else (main, sub)
    kind = "card.reclaimed" if command.back else "card.allocated"
    try:
        await ledger.post_within_balance(uow.conn, card_transfer_entry(
            command.transfer_no, source["card_no"], target["card_no"], command.amount_fen, command.at, kind=kind))
    except ledger.Overdrawn:
        raise CardRefused(INSUFFICIENT) from None
    for row in (main, sub):
        await changed(uow, kind, row, {"transfer_no": command.transfer_no, "amount_fen": command.amount_fen})
    return {"main_balance_fen": await views.balance(uow.conn, command.main_card_no),
            "sub_balance_fen": await views.balance(uow.conn, command.sub_card_no)}


# ---- status, binding, restrictions, closing ----------------------------------------------------------------

async def set_frozen(command: SetFrozen, uow: UnitOfWork) -> dict[str, Any]:
    row = await locked(uow.conn, command.card_no)
    check_freeze(Status(row["status"]), command.freeze)
    if not command.freeze and row["overdraft_fen"]:
        raise CardRefused(f"卡有 {row['overdraft_fen'] / 100:.2f} 元离线透支未还，充值还清后自动解冻 "
                          "(repay the overdraft: a recharge unfreezes it)")
    status, reason = (Status.FROZEN.value, "manual") if command.freeze else (Status.ACTIVE.value, None)
    await repository.update_card(uow.conn, command.card_no, status=status, frozen_for=reason)
    return await changed(uow, "card.freeze" if command.freeze else "card.unfreeze", row, {"reason": command.reason})


async def bind(command: Bind, uow: UnitOfWork) -> dict[str, Any]:
    row = await locked(uow.conn, command.card_no)
    if row["status"] == Status.CLOSED:
        raise CardRefused("卡已注销 (the card is closed)")
    member_no = command.member_no
    changes: dict[str, Any] = {}
    if command.linked_card_no is not None:
        linked = await repository.card(uow.conn, command.linked_card_no)
        if linked is None or linked["medium"] != Medium.ELECTRONIC or linked["status"] == Status.CLOSED:
            raise CardRefused("请绑定一张未注销的电子卡 (bind to an electronic card that is not closed)")
        if row["medium"] != Medium.PHYSICAL:
            raise CardRefused("只有实体卡可以绑定电子卡 (only a physical card is bound to an electronic one)")
        if member_no is not None and linked["member_no"] not in (None, member_no):
            raise CardRefused("电子卡属于另一位会员 (the electronic card is another member's)")
        member_no = member_no or linked["member_no"]
        changes["linked_card_no"] = command.linked_card_no
    if member_no is not None:
        await check_member(uow.conn, command.member_no)
        if row["member_no"] not in (None, member_no):
            raise CardRefused("卡已绑定其他会员，请走过户审批 (the card is another member's: ask for a transfer)")
        changes["member_no"] = member_no
    if all(row[k] == v for k, v in changes.items()):
        return row                                   # already so (a retry): nothing written
    await repository.update_card(uow.conn, command.card_no, **changes)
    return await changed(uow, "card.bind", row)


async def set_restrictions(command: SetRestrictions, uow: UnitOfWork) -> dict[str, Any]:
    row = await locked(uow.conn, command.card_no)
    if row["status"] == Status.CLOSED:
        raise CardRefused("卡已注销 (the card is closed)")
    card_type = await views.card_type(uow.conn, row["card_type"])
    assert card_type is not None   # noqa: S101 (a foreign key)
    r: Restrictions = restrictions_of(views.type_of(card_type), command.plates, command.grades, command.stations,
                                      command.limits)
    await repository.update_card(uow.conn, command.card_no, plates=list(r.plates), grades=list(r.grades),
                                 stations=list(r.stations), daily_limit_fen=r.limits.daily_limit_fen,
                                 litres_per_fill=r.limits.litres_per_fill, fills_per_day=r.limits.fills_per_day)
    return await changed(uow, "card.restrict", row)


async def close_card(command: CloseCard, uow: UnitOfWork) -> dict[str, Any]:
    """Close a card: its balance refunded (named) or forfeited (anonymous), then unlisted."""
    row = await locked(uow.conn, command.card_no)
    check_close(Status(row["status"]), row["overdraft_fen"], await repository.open_sub_cards(uow.conn,
                                                                                            command.card_no))
    balance = await views.balance(uow.conn, command.card_no)
    rule = closing(row["named"])
    if balance > 0:
        await ledger.post(uow.conn, card_closed_entry(command.card_no, balance, rule is Closing.REFUND, command.at))
    await repository.update_card(uow.conn, command.card_no, status=Status.CLOSED.value, frozen_for=None,
                                 closed_at=command.at)
    await changed(uow, "card.close", row, {"balance_fen": balance, "rule": rule.value, "reason": command.reason})
    return {"card_no": command.card_no, "balance_fen": balance, "rule": rule.value}


# ---- changes by approval -----------------------------------------------------------------------------------

async def request_action(command: RequestAction, uow: UnitOfWork) -> ApprovalRequest:
    row = await locked(uow.conn, command.card_no)
    check_action(command.action, Status(row["status"]), row["named"], command.to_member_no)
    await check_member(uow.conn, command.to_member_no, "to_member_no")
    summary = f"{ACTION_NAMES[command.action]} {mask_card_no(command.card_no)}"
    if command.to_member_no:
        summary += f" → {command.to_member_no}"
    return await approvals.request_approval(uow, f"card.{command.action.value}", row["station"], summary,
                                            {"card_no": command.card_no, "to_member_no": command.to_member_no,
                                             "reason": command.reason})


async def _replace(uow: UnitOfWork, row: dict[str, Any], at: datetime, by: str) -> str:
    """A new card of the same type takes the old one's member, restrictions, sub cards, balance and debt."""
    type_row = await repository.lock_type(uow.conn, row["card_type"])
    assert type_row is not None   # noqa: S101 (a foreign key)
    card_type = views.type_of(type_row)
    serial = type_row["next_serial"]
    new_no = card_number(card_type.prefix, card_type.length, serial)
    while await repository.taken(uow.conn, [new_no]):
        serial += 1
        new_no = card_number(card_type.prefix, card_type.length, serial)
    issue = IssueCards(row["card_type"], row["station"], 1, by, at, member_no=row["member_no"])
    restrictions = Restrictions(tuple(row["plates"]), tuple(row["grades"]), tuple(row["stations"]),
                                Limits(row["daily_limit_fen"], row["litres_per_fill"], row["fills_per_day"]))
    await repository.insert_cards(uow.conn, [new_no], issue, row["station"], restrictions, None)
    await repository.take_serials(uow.conn, card_type.code, serial, 1)
    await repository.update_card(uow.conn, new_no, main_card_no=row["main_card_no"],
                                 linked_card_no=row["linked_card_no"], overdraft_fen=row["overdraft_fen"],
                                 status=row["status"] if row["status"] == Status.FROZEN else Status.ACTIVE.value,
                                 frozen_for=row["frozen_for"])
    balance = await views.balance(uow.conn, row["card_no"])
    if balance > 0:
        await ledger.post(uow.conn, card_transfer_entry(row["card_no"], row["card_no"], new_no, balance, at,
                                                        kind="card.replaced"))
    await repository.update_card(uow.conn, row["card_no"], status=Status.CLOSED.value, frozen_for=None,
                                 replaced_by=new_no, overdraft_fen=0, closed_at=at)
    new_row = await listed(uow, new_no)
    for sub_card_no in await repository.move_sub_cards(uow.conn, row["card_no"], new_no):
        await listed(uow, sub_card_no)                 # their main card is the new one
    await uow.audit(AuditEntry("card.issue", f"card:{new_no}", row["station"], None,
                               public(new_row) | {"replaces": row["card_no"], "balance_fen": balance}))
    return new_no


async def _approved(request: ApprovalRequest, uow: UnitOfWork) -> None:
    action = Action(request.kind.removeprefix("card."))
    card_no, to_member_no = request.payload["card_no"], request.payload.get("to_member_no")
    row = await locked(uow.conn, card_no)
    check_action(action, Status(row["status"]), row["named"], to_member_no)
    at = datetime.now(UTC)
    extra: dict[str, Any] = {"approval": str(request.id), "requested_by": request.requested_by}
    if action is Action.REPORT_LOSS:
        await repository.update_card(uow.conn, card_no, status=Status.LOST.value, frozen_for=None)
    elif action is Action.UNLOCK:                      # back to frozen while an offline overdraft is unpaid
        owes = row["overdraft_fen"] > 0
        await repository.update_card(uow.conn, card_no, status=(Status.FROZEN if owes else Status.ACTIVE).value,
                                     frozen_for="overdraft" if owes else None)
    elif action is Action.TRANSFER:
        await repository.update_card(uow.conn, card_no, member_no=to_member_no)
    else:
        extra["replaced_by"] = await _replace(uow, row, at, request.requested_by)
    await changed(uow, f"card.{action.value}", row, extra)


KINDS = {action: registry.register(ApprovalKind(f"card.{action.value}", f"卡{ACTION_NAMES[action]}", APPROVER,
                                                _approved)) for action in Action}

EVENT_HANDLERS: dict[str, list[Handler]] = payments.EVENT_HANDLERS
COMMAND_HANDLERS: dict[type, Handler] = {
    CreateCardType: create_card_type, CreateOffer: create_offer, SetOfferActive: set_offer_active,
    IssueCards: issue_cards, Recharge: recharge, Allocate: allocate, SetFrozen: set_frozen, Bind: bind,
    SetRestrictions: set_restrictions, CloseCard: close_card, RequestAction: request_action,
    **payments.COMMAND_HANDLERS,
}
