"""Commands on fleet enterprises and their money at head office, one handler each, in the caller's unit of work
(docs/fleets.md "Enterprises and accounts").

Every change of an enterprise locks its row first, lands in its history (``fleet_enterprise_changes``) and in
the audit chain. A new enterprise, and a change of its credit line, settlement or status, waits for review: an
approval request of kind ``fleet.enterprise`` (business_services/approvals) that another holder of
``fleet:approve`` decides; approved, the change is applied in the approver's unit of work (``_reviewed``).
Money moves only by the ledger's fleet entries, keyed by the document's number, so a retry posts nothing twice;
an adjustment (调账) posts only once approved (kind ``fleet.adjustment``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from business_services.approvals import handlers as approvals
from business_services.approvals import registry
from business_services.approvals.model import ApprovalKind, ApprovalRequest, Rule
from business_services.audit.model import AuditEntry
from business_services.cards.model import mask_card_no
from business_services.fleets import cards as fleet_cards
from business_services.fleets import repository, views
from business_services.fleets.commands import (
    Allocate,
    CreateEnterprise,
    CreateGroup,
    EditEnterprise,
    MoveToGroup,
    Recharge,
    RequestAdjustment,
    SetStatus,
)
from business_services.fleets.model import (
    FleetError,
    FleetNotFound,
    FleetRefused,
    Status,
    check_close,
    check_credit,
    check_money_movement,
    check_status_change,
    split_edit,
)
from business_services.ledger import repository as ledger
from business_services.ledger.model import (
    card,
    fleet_adjustment_entry,
    fleet_allocation_entry,
    fleet_gift,
    fleet_prepaid,
    fleet_recharge_entry,
)
from business_services.messagebus import Handler
from business_services.prices import views as prices
from business_services.unit_of_work import UnitOfWork

APPROVER = Rule("fleet:approve")
KIND_NAMES = {"create": "新建企业", "credit": "授信变更", "freeze": "冻结", "unfreeze": "解冻", "close": "注销"}


async def locked(uow: UnitOfWork, code: str) -> dict[str, Any]:
    row = await repository.enterprise(uow.conn, code, lock=True)
    if row is None:
        raise FleetNotFound(code)
    return row


async def _check_references(uow: UnitOfWork, fields: dict[str, Any], code: str = "") -> None:
    """The group, the price agreement and the customer code an enterprise's fields name."""
    if fields.get("group_id") is not None and not await repository.group_exists(uow.conn, fields["group_id"]):
        raise FleetError("group_id", "没有这个分组，请先建分组 (no such group)")
    if fields.get("price_agreement") and not await prices.fleet_agreement_exists(uow.conn, fields["price_agreement"]):
        raise FleetError("price_agreement", f"没有车队协议价 {fields['price_agreement']}，请先在价格管理中设置 "
                                            "(no fleet agreement price names this code)")
    if "customer_code" in fields and await repository.customer_code_taken(uow.conn, fields["customer_code"], code):
        raise FleetRefused(f"客户编码 {fields['customer_code']} 已被使用 (the customer code is taken)")


async def _ask_review(uow: UnitOfWork, row: dict[str, Any], kind: str, before: dict[str, Any] | None,
                      after: dict[str, Any], note: str) -> ApprovalRequest:
    """Record the change as pending and ask another person to review it."""
    if await repository.pending_change(uow.conn, row["code"]):
        raise FleetRefused(f"企业 {row['code']} 有一项变更正在审核，请等审核完成 (a change of it awaits review)")
    change_id = await repository.add_change(uow.conn, row["code"], kind, before, after, "pending", uow.actor.name,
                                            note)
    return await approvals.request_approval(uow, "fleet.enterprise", row["maintaining_station"],
                                            f"{row['name']}（{row['code']}）{KIND_NAMES[kind]}",
                                            {"change_id": change_id, "code": row["code"], "kind": kind})


def _asked(request: ApprovalRequest) -> dict[str, Any]:
    return {"approval_id": str(request.id), "summary": request.summary, "status": request.status,
            "expires_at": request.expires_at}


# ---- enterprises -----------------------------------------------------------------------------------------

async def create_enterprise(command: CreateEnterprise, uow: UnitOfWork) -> dict[str, Any]:
    """{code, approval_id …}: the enterprise exists at once, pending review; its money moves once approved."""
    profile = dict(command.profile)
    await _check_references(uow, profile)
    code = await repository.next_code(uow.conn)
    profile.setdefault("customer_code", code)
    if not await repository.insert_enterprise(uow.conn, code, profile, command.by):
        raise FleetRefused(f"客户编码 {profile['customer_code']} 已被使用 (the customer code is taken)")
    row = await repository.enterprise(uow.conn, code, lock=True)
    assert row is not None   # noqa: S101 (just inserted)
    asked = await _ask_review(uow, row, "create", None, repository.snapshot(row), "")
    await uow.audit(AuditEntry("fleet.enterprise.create", f"fleet_enterprise:{code}", row["maintaining_station"],
                               None, repository.snapshot(row)))
    return {"code": code} | _asked(asked)


async def edit_enterprise(command: EditEnterprise, uow: UnitOfWork) -> dict[str, Any]:
    """{applied: fields changed now, review: the approval asked for the rest, or None}."""
    row = await locked(uow, command.code)
    if row["status"] == Status.CLOSED:
        raise FleetRefused("企业已注销，不能修改 (a closed enterprise cannot be edited)")
    now, reviewed = split_edit(row, command.changes)
    merged = row | reviewed
    check_credit(merged["settlement"], merged["credit_limit_fen"])
    await _check_references(uow, now | reviewed, command.code)
    if now:
        await repository.update_enterprise(uow.conn, command.code, now)
        await repository.add_change(uow.conn, command.code, "edit", {k: row[k] for k in now}, now, "applied",
                                    uow.actor.name, command.note)
        await uow.audit(AuditEntry("fleet.enterprise.edit", f"fleet_enterprise:{command.code}",
                                   row["maintaining_station"], {k: row[k] for k in now}, now))
        if "name" in now:                         # the stations show it with the enterprise's cards
            await fleet_cards.listed_enterprise(uow.conn, command.code, datetime.now(UTC))
    asked = None
    if reviewed:
        asked = await _ask_review(uow, row, "credit", {k: row[k] for k in reviewed}, reviewed, command.note)
    return {"applied": sorted(now), "review": None if asked is None else _asked(asked)}


async def set_status(command: SetStatus, uow: UnitOfWork) -> list[dict[str, Any]]:
    """Ask for review of a status change of each enterprise (all or none); the requests."""
    asked = []
    for code in sorted(set(command.codes)):            # one lock order: no deadlocks between batches
        row = await locked(uow, code)
        try:
            kind = check_status_change(Status(row["status"]), command.status)
            if command.status is Status.CLOSED:
                check_close(await views.money(uow.conn, code))
        except FleetRefused as exc:
            raise FleetRefused(f"{row['name']}（{code}）：{exc.message}") from None
        asked.append({"code": code} | _asked(await _ask_review(uow, row, kind, {"status": row["status"]},
                                                              {"status": command.status.value}, command.note)))
    return asked


async def create_group(command: CreateGroup, uow: UnitOfWork) -> int:
    group_id = await repository.insert_group(uow.conn, command.name, command.by)
    if group_id is None:
        raise FleetRefused(f"分组名 {command.name} 已存在 (the group exists)")
    await uow.audit(AuditEntry("fleet.group.create", f"fleet_group:{group_id}", None, None, {"name": command.name}))
    return group_id


async def move_to_group(command: MoveToGroup, uow: UnitOfWork) -> int:
    """Put the enterprises in the group at once (each change recorded); how many moved."""
    if command.group_id is not None and not await repository.group_exists(uow.conn, command.group_id):
        raise FleetError("group_id", "没有这个分组，请先建分组 (no such group)")
    moved = 0
    for code in sorted(set(command.codes)):
        row = await locked(uow, code)
        if row["group_id"] == command.group_id:
            continue
        await repository.update_enterprise(uow.conn, code, {"group_id": command.group_id})
        await repository.add_change(uow.conn, code, "group", {"group_id": row["group_id"]},
                                    {"group_id": command.group_id}, "applied", uow.actor.name)
        await uow.audit(AuditEntry("fleet.enterprise.group", f"fleet_enterprise:{code}", row["maintaining_station"],
                                   {"group_id": row["group_id"]}, {"group_id": command.group_id}))
        moved += 1
    return moved


async def _reviewed(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """A reviewed change approved: apply it (in the approver's unit of work)."""
    change = await repository.change(uow.conn, int(request.payload["change_id"]))
    if change is None or change["state"] != "pending":
        raise FleetError("change", "这项变更已处理 (the change is no longer pending)")
    row = await locked(uow, change["enterprise"])
    if change["kind"] == "create":
        applied: dict[str, Any] = {"review": "approved"}
    elif change["kind"] == "credit":
        applied = dict(change["after"])
        check_credit((row | applied)["settlement"], (row | applied)["credit_limit_fen"])
    else:
        wanted = Status(change["after"]["status"])
        check_status_change(Status(row["status"]), wanted)
        if wanted is Status.CLOSED:
            check_close(await views.money(uow.conn, row["code"]))
        applied = {"status": wanted.value}
    await repository.update_enterprise(uow.conn, row["code"], applied)
    await repository.close_change(uow.conn, change["id"], "applied", uow.actor.name)
    await fleet_cards.listed_enterprise(uow.conn, row["code"], datetime.now(UTC))   # status or credit: stations
    await uow.audit(AuditEntry(f"fleet.enterprise.{change['kind']}", f"fleet_enterprise:{row['code']}",
                               row["maintaining_station"], {k: row[k] for k in applied},
                               applied | {"approval": str(request.id), "requested_by": request.requested_by}))


async def _not_reviewed(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """Rejected or withdrawn: the change is not made (a new enterprise stays rejected)."""
    change = await repository.change(uow.conn, int(request.payload["change_id"]))
    if change is None or change["state"] != "pending":
        return
    await repository.close_change(uow.conn, change["id"], "rejected", uow.actor.name)
    if change["kind"] == "create":
        await repository.update_enterprise(uow.conn, change["enterprise"], {"review": "rejected"})


# ---- money -----------------------------------------------------------------------------------------------

async def recharge(command: Recharge, uow: UnitOfWork) -> dict[str, Any]:
    """{recharge_no, balances}; the same recharge number again answers the same (nothing posted)."""
    row = await locked(uow, command.code)
    entry = fleet_recharge_entry(command.recharge_no, command.code, command.paid_fen, command.gift_fen,
                                 command.method, command.station, command.shift_no or "-", command.at)
    done = await repository.entry_moves(uow.conn, entry.idempotency_key, fleet_prepaid(command.code).code)
    if done is False:
        raise FleetRefused(f"充值单号 {command.recharge_no} 已用于另一家企业 (that recharge number is used)")
    if done is None:
        check_money_movement(row["status"], row["review"])
        await ledger.post(uow.conn, entry)
        await uow.audit(AuditEntry("fleet.recharge", f"fleet_enterprise:{command.code}", command.station, None,
                                   {"recharge_no": command.recharge_no, "paid_fen": command.paid_fen,
                                    "gift_fen": command.gift_fen, "method": command.method.value,
                                    "shift_no": command.shift_no}))
    return {"code": command.code, "recharge_no": command.recharge_no} | await views.money(uow.conn, command.code)


async def allocate(command: Allocate, uow: UnitOfWork) -> dict[str, Any]:
    """划拨 to (or back from) the enterprise's cards, all or none; the enterprise's balances after."""
    row = await locked(uow, command.code)
    cards = await repository.cards(uow.conn, [card_no for card_no, _ in command.lines])
    source = (fleet_gift if command.gift else fleet_prepaid)(command.code)
    entries = []
    for i, (card_no, amount) in enumerate(command.lines, 1):
        found = cards.get(card_no)
        if found is None or found["enterprise"] != command.code:
            raise FleetError("lines", f"卡 {mask_card_no(card_no)} 不是本企业的卡 (not a card of the enterprise)")
        if found["pays_from"] != "card" and not command.back:
            raise FleetRefused(f"卡 {mask_card_no(card_no)} 使用企业授信消费，无需划拨 (the card buys on credit)")
        if found["status"] == "closed" and not command.back:
            raise FleetRefused(f"卡 {mask_card_no(card_no)} 已注销 (the card is closed)")
        entries.append(fleet_allocation_entry(f"{command.allocation_no}-{i}", command.code, card_no,
                                              -amount if command.back else amount, command.at, command.gift))
    done = await repository.entry_moves(uow.conn, entries[0].idempotency_key, source.code)
    if done is False:
        raise FleetRefused(f"划拨单号 {command.allocation_no} 已被使用 (that allocation number is used)")
    if done is None:
        check_money_movement(row["status"], row["review"])
        for entry, (card_no, _) in zip(entries, command.lines, strict=True):
            try:
                await ledger.post_within_balance(uow.conn, entry)
            except ledger.Overdrawn as exc:
                short = f"卡 {mask_card_no(card_no)} 余额" if exc.account == card(card_no).code else \
                    ("企业赠送余额" if command.gift else "企业预付余额")
                raise FleetRefused(f"{short}不足，未划拨 (not enough balance; nothing was moved)") from None
        for card_no, _ in command.lines:           # the money each card may spend, offline too
            await fleet_cards.listed(uow.conn, card_no, command.at)
        await uow.audit(AuditEntry("fleet.allocate", f"fleet_enterprise:{command.code}", row["maintaining_station"],
                                   None, {"allocation_no": command.allocation_no, "back": command.back,
                                          "gift": command.gift, "lines": [[mask_card_no(n), a]
                                                                          for n, a in command.lines]}))
    return {"code": command.code, "allocation_no": command.allocation_no, "cards": len(command.lines)} | \
        await views.money(uow.conn, command.code)


async def request_adjustment(command: RequestAdjustment, uow: UnitOfWork) -> dict[str, Any]:
    row = await locked(uow, command.code)
    check_money_movement(row["status"], row["review"])
    which = "赠送" if command.gift else "预付"
    asked = await approvals.request_approval(
        uow, "fleet.adjustment", row["maintaining_station"],
        f"{row['name']}（{command.code}）{which}余额调账 {command.amount_fen / 100:+.2f} 元：{command.reason}",
        {"code": command.code, "adjustment_no": command.adjustment_no, "amount_fen": command.amount_fen,
         "gift": command.gift, "reason": command.reason})
    return {"code": command.code, "adjustment_no": command.adjustment_no} | _asked(asked)


async def _adjust(request: ApprovalRequest, uow: UnitOfWork) -> None:
    """An approved adjustment posts (once: its number is the entry's key)."""
    p = request.payload
    row = await locked(uow, p["code"])
    check_money_movement(row["status"], row["review"])
    try:
        posted = await ledger.post_within_balance(uow.conn, fleet_adjustment_entry(
            p["adjustment_no"], p["code"], p["amount_fen"], request.created_at, p["reason"], p["gift"]))
    except ledger.Overdrawn:
        raise FleetError("amount_fen", "调减金额超过企业余额，不能批准 (the balance is smaller than the "
                                       "adjustment)") from None
    if posted is not None:
        await uow.audit(AuditEntry("fleet.adjust", f"fleet_enterprise:{p['code']}", row["maintaining_station"],
                                   None, p | {"approval": str(request.id), "requested_by": request.requested_by}))


ENTERPRISE_REVIEW = registry.register(ApprovalKind("fleet.enterprise", "车队企业审核", APPROVER, _reviewed,
                                                   on_closed=_not_reviewed))
ADJUSTMENT = registry.register(ApprovalKind("fleet.adjustment", "车队调账", APPROVER, _adjust))

EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {
    CreateEnterprise: create_enterprise, EditEnterprise: edit_enterprise, SetStatus: set_status,
    CreateGroup: create_group, MoveToGroup: move_to_group, Recharge: recharge, Allocate: allocate,
    RequestAdjustment: request_adjustment,
}
