"""Handlers of points at head office: earning on paid member orders, taking back on refunds, points as a tender,
and the back office's commands (rules, settings, adjustments, the mall, transfers, 积分归属). docs/points.md.

Events come from the stations (``order.created``/``order.changed``, ``payment.captured``/``payment.refunded``)
and are handled once by id by the consumer; each movement's ledger key makes it post once even so:
``points.awarded:{station}:{order_no}``, ``points.reversed:{station}:{refund_no}``,
``points.paid:{station}:{payment_no}``.
The order's grade, volume and amount are read from head office's copy (``station_orders.views``), which the
station_orders handler has updated from the same event just before (it is earlier on the bus).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from business_services.audit.model import AuditEntry
from business_services.ledger import repository as ledger
from business_services.ledger.model import (
    points_award_entry,
    points_payment_entry,
    points_redemption_entry,
    points_reversal_entry,
    points_transfer_entry,
)
from business_services.messagebus import Handler
from business_services.points import lots, members, repository
from business_services.points.model import (
    AddRule,
    Adjust,
    Assign,
    ChangeRule,
    ChangeSettings,
    PointsError,
    PointsRefused,
    Redeem,
    Rule,
    Sale,
    SaveItem,
    Transfer,
    check_rule,
    points_for,
    refund_share,
    reversal,
    within_days,
)
from business_services.station_orders import views as station_orders
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import Method, PaymentCaptured, PaymentRefunded

PAID = "paid"


def award_key(station: str, order_no: str) -> str:
    return f"points.awarded:{station}:{order_no}"


def sale_of(order: dict[str, Any]) -> Sale:
    return Sale(order["station"], int(order["amount_fen"] or 0),
                None if order["grade"] is None else str(order["grade"]),
                None if order["volume_l"] is None else Decimal(order["volume_l"]))


async def award_order(uow: UnitOfWork, order: dict[str, Any], member_no: str, at: datetime) -> int:
    """What the order earns ``member_no`` by the rules, awarded once (a second call awards nothing): points."""
    station, order_no = order["station"], order["order_no"]
    if await repository.order_award(uow.conn, station, order_no) is not None:
        return 0
    points = points_for(sale_of(order), await members.level_of(uow.conn, member_no),
                        await repository.rules(uow.conn), at)
    lot_id = None
    if points:
        lot_id = await lots.award(uow.conn, points_award_entry(award_key(station, order_no), member_no, points, at,
                                                               order_no, station),
                                  member_no, points, source="awarded", at=at, station=station,
                                  settings=await repository.settings(uow.conn))
    await repository.record_award(uow.conn, station, order_no, member_no, int(order["amount_fen"] or 0), points,
                                  lot_id, order["created_at"] or at)
    for refund_no, fen, refunded_at in await repository.take_early_refunds(uow.conn, station, order_no):
        await _take_back(uow, station, refund_no, [(order_no, fen)], refunded_at)   # it came before the order
    return points


async def order_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    """A paid member order earns its points (or waits for its order.created, when that comes later)."""
    changed = OrderChanged.from_event(event)
    if changed.status != PAID or changed.member_no is None:
        return
    order = await station_orders.one(uow.conn, changed.station, changed.order_no)
    if order is None or order["kind"] is None:
        await repository.keep_pending(uow.conn, changed.station, changed.order_no, changed.member_no, changed.at)
        return
    await award_order(uow, order, changed.member_no, changed.at)


async def order_created(event: CloudEvent, uow: UnitOfWork) -> None:
    created = OrderCreated.from_event(event)
    pending = await repository.take_pending(uow.conn, created.station, created.order_no)
    order = await station_orders.one(uow.conn, created.station, created.order_no)
    if pending is not None and order is not None:
        await award_order(uow, order, pending[0], pending[1])


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    """Take back each refunded order's share of its points from whoever holds them now; what they no longer
    have becomes their points debt (docs/points.md "Refunds")."""
    refund = PaymentRefunded.from_event(event)
    if await repository.refund_recorded(uow.conn, refund.station, refund.refund_no):
        return
    await repository.record_refund(uow.conn, refund.station, refund.refund_no, "", 0, 0, 0)   # seen: once
    for allocation in refund.allocations:
        if await repository.order_award(uow.conn, refund.station, allocation.order_no) is None \
                and await repository.is_pending(uow.conn, refund.station, allocation.order_no):
            await repository.keep_early_refund(uow.conn, refund.station, allocation.order_no, refund.refund_no,
                                               allocation.amount_fen, refund.refunded_at)
    await _take_back(uow, refund.station, refund.refund_no, [(a.order_no, a.amount_fen) for a in refund.allocations],
                     refund.refunded_at)


async def _take_back(uow: UnitOfWork, station: str, refund_no: str, refunded: list[tuple[str, int]],
                     at: datetime) -> None:
    """Each refunded order's share of its points, from whoever holds them now; what they no longer have becomes
    their points debt."""
    wanted: dict[str, int] = defaultdict(int)
    first_lot: dict[str, int | None] = {}
    for order_no, fen in refunded:
        award = await repository.order_award(uow.conn, station, order_no)
        if award is None:
            continue
        share = min(refund_share(award["earned"], award["amount_fen"], fen), award["earned"] - award["reversed"])
        if share:
            await repository.add_reversed(uow.conn, station, order_no, share)
            wanted[award["member_no"]] += share
            first_lot.setdefault(award["member_no"], award["lot_id"])
    await repository.lock_members(uow.conn, *wanted)
    for member_no, points in wanted.items():
        key = f"points.reversed:{station}:{refund_no}" + (f":{member_no}" if len(wanted) > 1 else "")
        have, _ = await lots.available(uow.conn, member_no, at)
        part = reversal(points, have)
        if part.taken:
            await lots.spend(uow.conn, points_reversal_entry(key, member_no, part.taken, at, refund_no, station),
                             member_no, part.taken, at, first_lot[member_no])
        if part.owed:
            await repository.change_debt(uow.conn, member_no, part.owed, "refund", key)
        await repository.record_refund(uow.conn, station, refund_no, member_no, points, part.taken, part.owed)


async def points_paid(event: CloudEvent, uow: UnitOfWork) -> None:
    """Points as a tender at the POS: the points leave the member, marketing pays the station's clearing. A
    member who no longer has them all (spent elsewhere while the station was offline) gives what is left and
    owes the rest as points debt."""
    payment = PaymentCaptured.from_event(event)
    if payment.method is not Method.POINTS or payment.member_no is None or not payment.points_spent:
        return
    member_no, at = payment.member_no, payment.captured_at
    have, _ = await lots.available(uow.conn, member_no, at)
    part = reversal(payment.points_spent, have)
    entry = points_payment_entry(payment.station, payment.payment_no, member_no, part.taken, payment.amount_fen, at)
    if part.taken:
        if await lots.spend(uow.conn, entry, member_no, part.taken, at) is None:
            return
    elif await ledger.post(uow.conn, entry) is None:
        return
    if part.owed:
        await repository.change_debt(uow.conn, member_no, part.owed, "points-payment", entry.idempotency_key)


# ---- commands ------------------------------------------------------------------------------------------------

def _jsonable_value(value: Any) -> Any:
    """A rule's field as the audit record keeps it: sets sorted, decimals, dates and enums as text."""
    if isinstance(value, frozenset):
        return sorted(value)
    if value is None or (isinstance(value, int | str) and not isinstance(value, StrEnum)):
        return value
    return str(value)


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {k: _jsonable_value(v) for k, v in asdict(rule).items()}


async def add_rule(command: AddRule, uow: UnitOfWork) -> int:
    rule = check_rule(command.rule)
    rule_id = await repository.add_rule(uow.conn, rule, command.note, uow.actor.name)
    await uow.audit(AuditEntry("points.rule.add", f"points-rule:{rule_id}", None, None,
                               _rule_json(replace(rule, id=rule_id)) | {"note": command.note}))
    return rule_id


async def change_rule(command: ChangeRule, uow: UnitOfWork) -> bool:
    rows = await repository.rule_rows(uow.conn, command.rule.id, for_update=True)
    if not rows:
        raise PointsRefused(f"没有积分规则 {command.rule.id} (no such points rule)")
    before = repository.rule_of(rows[0])
    rule = check_rule(command.rule)
    if rule == before and rows[0]["note"] == command.note:
        return False                                   # the same change again: nothing written, nothing audited
    await repository.replace_rule(uow.conn, rule, command.note)
    await uow.audit(AuditEntry("points.rule.change", f"points-rule:{rule.id}", None,
                               _rule_json(before) | {"note": rows[0]["note"]},
                               _rule_json(rule) | {"note": command.note}))
    return True


async def change_settings(command: ChangeSettings, uow: UnitOfWork) -> bool:
    before = await repository.settings(uow.conn)
    if before == command.settings:
        return False
    await repository.save_settings(uow.conn, command.settings, uow.actor.name)
    await uow.audit(AuditEntry("points.settings.change", "points-settings", None, asdict(before),
                               asdict(command.settings)))
    return True


async def adjust(command: Adjust, uow: UnitOfWork) -> bool:
    """A manual grant or deduction, audited; False when this adjustment was made already."""
    key = f"points.adjusted:{command.adjust_no}"
    if command.points > 0:
        done = await lots.award(uow.conn, points_award_entry(key, command.member_no, command.points, command.at,
                                                             command.adjust_no),
                                command.member_no, command.points, source="adjusted", at=command.at,
                                settings=await repository.settings(uow.conn)) is not None
    else:
        done = await lots.spend(uow.conn, points_reversal_entry(key, command.member_no, -command.points, command.at,
                                                                command.adjust_no),
                                command.member_no, -command.points, command.at) is not None
    if done:
        await uow.audit(AuditEntry("points.adjust", f"member:{command.member_no}", None, None,
                                   {"adjust_no": command.adjust_no, "points": command.points,
                                    "reason": command.reason}))
    return done


async def save_item(command: SaveItem, uow: UnitOfWork) -> bool:
    before = await repository.item(uow.conn, command.sku, for_update=True)
    if command.create:
        if before is not None:
            raise PointsRefused(f"商品编码 {command.sku} 已存在 (the item {command.sku} exists already)")
        await repository.add_item(uow.conn, command.sku, dict(command.values))
    else:
        if before is None:
            raise PointsRefused(f"没有商品 {command.sku} (no such item)")
        if all(before[k] == v for k, v in command.values.items()):
            return False
        await repository.change_item(uow.conn, command.sku, dict(command.values))
    after = await repository.item(uow.conn, command.sku)
    await uow.audit(AuditEntry("points.mall.item." + ("add" if command.create else "change"),
                               f"points-item:{command.sku}", None, _jsonable(before), _jsonable(after)))
    return True


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


async def redeem(command: Redeem, uow: UnitOfWork) -> bool:
    """Stock down by the quantity and the points spent, once (False: this redemption was made already)."""
    item = await repository.item(uow.conn, command.sku, for_update=True)
    if item is None:
        raise PointsError("sku", f"没有商品 {command.sku} (no such item)")
    if not item["active"]:
        raise PointsRefused(f"商品 {item['name']} 已下架 (the item is withdrawn)")
    if not await repository.record_redemption(uow.conn, command.redemption_no, command.member_no, command.sku,
                                              command.quantity, item["points"] * command.quantity, command.station,
                                              uow.actor.name, command.at):
        return False
    if item["stock"] < command.quantity:
        raise PointsRefused(f"库存不足：{item['name']} 剩 {item['stock']} 件 (out of stock: {item['stock']} left)")
    await repository.change_item(uow.conn, command.sku, {"stock": item["stock"] - command.quantity})
    points = item["points"] * command.quantity
    await lots.spend(uow.conn, points_redemption_entry(f"points.redeemed:{command.redemption_no}", command.member_no,
                                                       points, command.at, command.redemption_no, command.station),
                     command.member_no, points, command.at)
    await uow.audit(AuditEntry("points.redeem", f"member:{command.member_no}", command.station, None,
                               {"redemption_no": command.redemption_no, "sku": command.sku,
                                "quantity": command.quantity, "points": points}))
    return True


async def _move(uow: UnitOfWork, key: str, from_member: str, to_member: str, points: int, at: datetime,
                reference: str, source: str, first_lot: int | None = None) -> bool:
    """``points`` from one member's lots to new lots of the other with the same expiry dates, in one entry."""
    await repository.lock_members(uow.conn, from_member, to_member)
    taken = await lots.spend(uow.conn, points_transfer_entry(key, from_member, to_member, points, at, reference),
                             from_member, points, at, first_lot)
    if taken is None:
        return False
    owed = await repository.owed(uow.conn, to_member)
    for lot, n in taken:      # the receiver's debt is paid first, as from any earning
        settle = min(owed, n)
        if settle:
            await ledger.post(uow.conn, points_reversal_entry(f"points.debt-paid:{key}:{lot.id}", to_member, settle,
                                                              at, reference))
            await repository.change_debt(uow.conn, to_member, -settle, "debt-paid", key)
            owed -= settle
        await repository.add_lot(uow.conn, to_member, n, n - settle, source, key, None, at, lot.expires_at)
    return True


async def transfer(command: Transfer, uow: UnitOfWork) -> bool:
    key = f"points.transferred:{command.transfer_no}"
    if not await repository.record_transfer(uow.conn, command.transfer_no, "gift", command.from_member,
                                            command.to_member, command.points, "", uow.actor.name, command.at):
        return False
    await _move(uow, key, command.from_member, command.to_member, command.points, command.at, command.transfer_no,
                "transferred")
    await uow.audit(AuditEntry("points.transfer", f"member:{command.from_member}", None, None,
                               {"transfer_no": command.transfer_no, "to_member": command.to_member,
                                "points": command.points}))
    return True


async def assign(command: Assign, uow: UnitOfWork) -> int:
    """积分归属: the points of the sale go to ``member_no``; the points moved (or awarded)."""
    order = await station_orders.one(uow.conn, command.station, command.order_no)
    if order is None or order["kind"] is None:
        raise PointsRefused(f"总部没有订单 {command.order_no} (head office has no such order)")
    if order["status"] != PAID:
        raise PointsRefused("订单未支付，不能归属积分 (the order is not paid)")
    settings = await repository.settings(uow.conn)
    if not within_days(order["created_at"], command.at, settings.assign_days):
        raise PointsRefused(f"已超过积分归属期限（消费后 {settings.assign_days} 天内） "
                            f"(too late: within {settings.assign_days} days of the sale)")
    award = await repository.order_award(uow.conn, command.station, command.order_no)
    if award is None:
        points = await award_order(uow, order, command.member_no, command.at)
        await repository.move_award(uow.conn, command.station, command.order_no, command.member_no)
        moved_from = None
    else:
        moved_from = award["member_no"]
        if moved_from == command.member_no:
            raise PointsRefused("该订单积分已归属此会员 (the order's points are this member's already)")
        if award["assigned_at"] is not None:
            raise PointsRefused("该订单积分已归属过一次 (an order's points are assigned once)")
        points = award["earned"] - award["reversed"]
        if points > 0:
            key = f"points.assigned:{command.station}:{command.order_no}"
            try:
                await _move(uow, key, moved_from, command.member_no, points, command.at, command.order_no, "assigned",
                            award["lot_id"])
            except PointsRefused as short:
                raise PointsRefused(f"原会员的这笔积分已使用，无法归属 (the member who earned them has spent "
                                    f"them) — {short.message}") from short
        await repository.move_award(uow.conn, command.station, command.order_no, command.member_no)
        if points > 0:
            await repository.record_transfer(uow.conn, f"{command.station}:{command.order_no}", "assign", moved_from,
                                             command.member_no, points, f"{command.station}/{command.order_no}",
                                             uow.actor.name, command.at)
    await uow.audit(AuditEntry("points.assign", f"{command.station}/{command.order_no}", command.station,
                               None if moved_from is None else {"member_no": moved_from},
                               {"member_no": command.member_no, "points": points}))
    return points


EVENT_HANDLERS: dict[str, list[Handler]] = {
    OrderCreated.TYPE: [order_created],
    OrderChanged.TYPE: [order_changed],
    PaymentRefunded.TYPE: [payment_refunded],
    PaymentCaptured.TYPE: [points_paid],
}
COMMAND_HANDLERS: dict[type, Handler] = {
    AddRule: add_rule, ChangeRule: change_rule, ChangeSettings: change_settings, Adjust: adjust,
    SaveItem: save_item, Redeem: redeem, Transfer: transfer, Assign: assign,
}
