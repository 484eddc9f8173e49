"""Members at head office: registration, profile edits, tags, levels, erasure (commands from the API), and growth
from paid member orders (events from the stations). Every change of what a station lists (the member, its level,
its plates) is recorded in the member list feed in the same transaction (``relist``). Audit records hold personal
data masked only, so that an erasure leaves none of it behind in the append-only chain.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import psycopg

from business_services.audit.model import AuditEntry
from business_services.faces import repository as faces
from business_services.member_list import repository as member_list
from business_services.members import repository, views
from business_services.members.model import (
    Disclosure,
    EditProfile,
    EraseMember,
    ExportPersonalData,
    MemberConflict,
    MemberError,
    MemberNotFound,
    RegisterFromWeChat,
    RegisterMember,
    SaveLevel,
    SaveTag,
    Source,
    TagMember,
    check_levels,
    growth_of,
    shown,
    upgrade,
)
from business_services.messagebus import Handler
from business_services.station_orders import views as station_orders
from business_services.unit_of_work import UnitOfWork
from business_services.vehicles import repository as vehicles
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.orders import OrderChanged
from telemetry.contracts.events.payments import PaymentRefunded

_HIDDEN = Disclosure()   # audit records keep personal data masked
log = logging.getLogger(__name__)   # member numbers only: never a phone, plate or name


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    out = shown(values, _HIDDEN)
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in out.items()}


async def relist(conn: psycopg.AsyncConnection, member_no: str) -> None:
    """Record the member as the stations' list now carries it (or unlist it when erased), in this transaction."""
    item = await views.listed_member(conn, member_no)
    if item is None:
        await member_list.unlist(conn, "member", member_no)
    else:
        await member_list.record(conn, item)


async def _existing(conn: psycopg.AsyncConnection, member_no: str) -> dict[str, Any]:
    found = await repository.member(conn, member_no, lock=True)
    if found is None:
        raise MemberNotFound(member_no)
    if found["status"] == "erased":
        raise MemberConflict("member_no", f"会员 {member_no} 的个人信息已删除，不能再修改 "
                                          "(the member's personal data was erased)")
    return found


async def register(c: RegisterMember, uow: UnitOfWork) -> dict[str, Any]:
    """A new member at the lowest level; a phone the company already has is a conflict naming that member."""
    lowest = min(await repository.levels(uow.conn), key=lambda lv: lv.rank)
    row = await repository.insert_member(uow.conn, c, secrets.token_urlsafe(16), lowest.code)
    if row is None:
        member_no = await repository.member_no_by_phone(uow.conn, c.group, c.phone)
        raise MemberConflict("phone", f"该手机号已注册为会员 {member_no} (this phone is already member {member_no})",
                             member_no)
    await uow.audit(AuditEntry("members.register", f"member:{row['member_no']}", c.station, None,
                               _masked({"phone": c.phone, "name": c.name, "source": c.source.value,
                                        "real_name": row["real_name"]})))
    await relist(uow.conn, row["member_no"])
    log.info("member %s registered (source %s, station %s)", row["member_no"], c.source.value, c.station or "-")
    return row


async def register_from_wechat(c: RegisterFromWeChat, uow: UnitOfWork) -> tuple[str, bool]:
    """(member_no, created): the member this WeChat user already is, else the member with the phone WeChat verified
    (the openid bound to it: a member registered at the POS finds its WeChat), else a new member (source wechat).
    The member found by openid keeps its phone (changing it is a profile edit). Audited when the binding changes."""
    await repository.lock_openid(uow.conn, c.group, c.openid)
    member_no = await repository.member_no_by_openid(uow.conn, c.group, c.openid)
    created = False
    if member_no is None:
        member_no = await repository.member_no_by_phone(uow.conn, c.group, c.phone)
    if member_no is None:
        try:
            member_no = (await register(RegisterMember(c.group, c.phone, Source.WECHAT, station=c.station),
                                        uow))["member_no"]
            created = True
        except MemberConflict as clash:      # registered meanwhile at a POS: that member it is
            member_no = clash.member_no
    if member_no is None:    # pragma: no cover - a phone conflict always names its member
        raise MemberConflict("phone", "该手机号的会员正在登记，请重试 (the phone is being registered; retry)")
    before = await repository.bind_wechat(uow.conn, member_no, c.openid, c.unionid)
    if before is not None:
        await uow.audit(AuditEntry("members.wechat_bind", f"member:{member_no}", c.station,
                                   _masked({"wechat_openid": before[0], "wechat_unionid": before[1]}),
                                   _masked({"wechat_openid": c.openid, "wechat_unionid": c.unionid})))
    log.info("member %s from WeChat (%s)", member_no, "new" if created else "bound" if before else "known")
    return member_no, created


async def edit_profile(c: EditProfile, uow: UnitOfWork) -> dict[str, Any]:
    """Change the profile; an unchanged field changes nothing (the same request again: no audit, no list change)."""
    before = await _existing(uow.conn, c.member_no)
    changes = {k: v for k, v in c.changes.items() if before.get(k) != v}
    if not changes:
        return before
    if "phone" in changes:
        other = await repository.member_no_by_phone(uow.conn, before["company_group"], changes["phone"])
        if other is not None:
            raise MemberConflict("phone", f"该手机号已注册为会员 {other} (this phone is already member {other})", other)
    after = await repository.update_profile(uow.conn, c.member_no, changes)
    await uow.audit(AuditEntry("members.edit", f"member:{c.member_no}", before["station"],
                               _masked({k: before[k] for k in changes}), _masked(changes)))
    await relist(uow.conn, c.member_no)
    return after


async def tag_member(c: TagMember, uow: UnitOfWork) -> bool:
    """Give or take a manual tag; False when the member already had (or lacked) it."""
    await _existing(uow.conn, c.member_no)
    found = await repository.tag(uow.conn, c.tag_id)
    if found is None:
        raise MemberError("tag_id", f"没有编号为 {c.tag_id} 的标签 (no tag {c.tag_id})")
    if found["kind"] != "manual":
        raise MemberConflict("tag_id", f"“{found['name']}”是规则标签，由系统每日计算，不能手工打标 "
                                       "(a rule tag is computed by the nightly job)")
    changed = await (repository.link_tag if c.on else repository.unlink_tag)(uow.conn, c.member_no, c.tag_id)
    if changed:
        await uow.audit(AuditEntry("members.tag" if c.on else "members.untag", f"member:{c.member_no}", None,
                                   None, {"tag": found["name"]}))
    return changed


async def erase(c: EraseMember, uow: UnitOfWork) -> bool:
    """PIPL erasure: the personal fields anonymised, the vehicles and every enrolled face removed; the member
    number, its orders, growth and ledger (money, points) stay; unlisted from the stations. False: already erased."""
    found = await repository.member(uow.conn, c.member_no, lock=True)
    if found is None:
        raise MemberNotFound(c.member_no)
    if found["status"] == "erased":
        return False
    plates = await vehicles.delete_of_member(uow.conn, c.member_no)
    enrolled_faces = await faces.delete_person(uow.conn, c.member_no)
    await repository.erase(uow.conn, c.member_no, secrets.token_urlsafe(16))
    await uow.audit(AuditEntry("members.erase", f"member:{c.member_no}", found["station"],
                               {"fields": ["phone", "name", "birthday", "gender", "id_number", "qr_token"],
                                "vehicles": plates, "faces": enrolled_faces}, {"reason": c.reason}))
    await relist(uow.conn, c.member_no)
    return True


async def export_personal_data(c: ExportPersonalData, uow: UnitOfWork) -> dict[str, Any]:
    """Every personal record of the member, unmasked (the member asked for it), and the audit record of the export."""
    found = await views.profile(uow.conn, c.member_no)
    if found is None:
        raise MemberNotFound(c.member_no)
    data = await views.personal_data(uow.conn, c.member_no)
    await uow.audit(AuditEntry("members.privacy_export", f"member:{c.member_no}", found["station"], None,
                               {"format": c.format, "sections": sorted(data)}))
    return data


async def save_level(c: SaveLevel, uow: UnitOfWork) -> bool:
    """Create or change a level; the table must stay usable (``check_levels``). Members keep their level until
    their next growth (upgrade) or the yearly review."""
    levels = {lv.code: lv for lv in await repository.levels(uow.conn)}
    before = levels.get(c.level.code)
    if c.create and before is not None:
        raise MemberConflict("code", f"等级代码 {c.level.code} 已存在 (the level code is taken)")
    if not c.create and before is None:
        raise MemberNotFound(c.level.code)
    if before == c.level:
        return False
    check_levels([*(lv for code, lv in levels.items() if code != c.level.code), c.level])
    try:
        async with uow.conn.transaction():
            await repository.save_level(uow.conn, c.level, c.create)
    except psycopg.errors.UniqueViolation:
        raise MemberConflict("rank", "等级序号或成长值门槛与其他等级重复 "
                                     "(rank and growth_min must be unique)") from None
    await uow.audit(AuditEntry("members.level", f"level:{c.level.code}", None,
                               None if before is None else _plain(before), _plain(c.level)))
    if before is not None and (before.name, before.discount_pct) != (c.level.name, c.level.discount_pct):
        for member_no in await repository.members_at_level(uow.conn, c.level.code):   # the stations' copy of it
            await relist(uow.conn, member_no)
    return True


def _plain(level: Any) -> dict[str, Any]:
    return {k: getattr(level, k) for k in ("name", "rank", "growth_min", "discount_pct", "points_multiplier",
                                           "birthday_privilege")}


async def save_tag(c: SaveTag, uow: UnitOfWork) -> dict[str, Any]:
    try:
        async with uow.conn.transaction():
            row = await repository.save_tag(uow.conn, c.tag_id, c.name, c.rule, c.description)
    except psycopg.errors.UniqueViolation:
        raise MemberConflict("name", f"标签“{c.name}”已存在 (the tag name is taken)") from None
    if row is None:
        raise MemberNotFound(str(c.tag_id))
    await uow.audit(AuditEntry("members.tag_definition", f"tag:{row['id']}", None, None,
                               {"name": c.name, "rule": None if c.rule is None else c.rule.as_json()}))
    return row


# --- growth from the stations' events -------------------------------------------------------------------------

async def _grow(uow: UnitOfWork, key: str, member_no: str, station: str, reference: str, amount_fen: int,
                at: datetime) -> None:
    found = await repository.member(uow.conn, member_no, lock=True)
    if found is None or found["status"] == "erased":
        return      # an unknown or erased member earns nothing (the order itself is kept by station_orders)
    if not await repository.add_growth(uow.conn, key, member_no, station, reference, amount_fen,
                                       growth_of(amount_fen), at):
        return      # this order or refund counted already
    now = datetime.now(UTC)
    earned = upgrade(await repository.levels(uow.conn), found["level"],
                     await repository.year_growth(uow.conn, member_no, now))
    if earned is not None:
        await repository.set_level(uow.conn, member_no, found["level"], earned.code, "upgrade")
        await relist(uow.conn, member_no)


async def order_paid(event: CloudEvent, uow: UnitOfWork) -> None:
    """A member order paid (``order.changed`` with status paid and a member): its growth, once per order, from
    what was paid on head office's copy of the order (station_orders, kept by the handler before this one)."""
    change = OrderChanged.from_event(event)
    if change.status != "paid" or change.member_no is None:
        return
    order = await station_orders.one(uow.conn, change.station, change.order_no)
    amount = change.paid_fen if order is None else int(order["paid_fen"])     # what the member paid
    await _grow(uow, f"order:{change.station}/{change.order_no}", change.member_no, change.station,
                change.order_no, amount, change.at)


async def refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    """A refund of a member's payment takes back the growth its amount earned, once per refund."""
    refund = PaymentRefunded.from_event(event)
    if refund.member_no is None:
        return
    await _grow(uow, f"refund:{refund.station}/{refund.refund_no}", refund.member_no, refund.station,
                refund.refund_no, -refund.amount_fen, refund.refunded_at)


EVENT_HANDLERS: dict[str, list[Handler]] = {OrderChanged.TYPE: [order_paid], PaymentRefunded.TYPE: [refunded]}
COMMAND_HANDLERS: dict[type, Handler] = {RegisterMember: register, RegisterFromWeChat: register_from_wechat,
                                         EditProfile: edit_profile, TagMember: tag_member,
                                         EraseMember: erase, ExportPersonalData: export_personal_data,
                                         SaveLevel: save_level, SaveTag: save_tag}
