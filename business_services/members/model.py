"""Pure rules of members (no I/O): who may register, what a valid phone and ID number are, how personal data is
masked, which level a growth value earns, which lifecycle stage RFM puts a member in, which rule tags hold.

Every decision here is made once: routes, handlers, jobs and exports call these functions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from telemetry.contracts.members import mask_phone

PHONE = re.compile(r"^1[3-9][0-9]{9}$")                     # a mainland mobile number
PLATE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")  # as telemetry/contracts/members.py Plate
NAME_MAX = 32


class MemberError(ValueError):
    """A request that breaks a rule (422); ``field`` names what to fix, the message says how (Chinese first)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class MemberConflict(MemberError):
    """The request clashes with what is stored (409): a phone already registered, a plate bound to another member.
    ``member_no``: the member it clashes with, when the caller may go on with that one."""

    def __init__(self, field: str, message: str, member_no: str | None = None) -> None:
        super().__init__(field, message)
        self.member_no = member_no


class MemberNotFound(LookupError):
    """No such member (404)."""


class Source(StrEnum):
    POS = "pos"                   # 收银台
    BACK_OFFICE = "back_office"   # 管理后台
    WECHAT = "wechat"             # 微信


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class Lifecycle(StrEnum):
    NEW = "new"           # 新客
    ACTIVE = "active"     # 活跃
    DORMANT = "dormant"   # 沉睡
    LOST = "lost"         # 流失


# --- values --------------------------------------------------------------------------------------------------

def phone(value: str) -> str:
    value = re.sub(r"[\s-]", "", value)
    if value.startswith("+86"):
        value = value[3:]
    if not PHONE.match(value):
        raise MemberError("phone", "手机号应为 11 位中国大陆手机号，如 13812345678 "
                                   "(phone: an 11-digit mainland mobile)")
    return value


def name(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > NAME_MAX:
        raise MemberError("name", f"姓名最多 {NAME_MAX} 个字 (name: at most {NAME_MAX} characters)")
    return value


def plate(value: str) -> str:
    value = value.strip().upper().replace(" ", "").replace("·", "")
    if not PLATE.match(value):
        raise MemberError("plate", "车牌号格式不对，如 京A12345 或新能源 京AD12345 (plate: province, letter, 5–6 more)")
    return value


#: GB 11643-1999: the weights of the 17 digits and the check character for each remainder mod 11
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class IdNumber:
    """What is kept of a resident ID number: its masked form, and the birthday and gender it encodes."""

    masked: str
    birthday: date
    gender: Gender


def id_number(value: str, today: date | None = None) -> IdNumber:
    """Check an 18-digit resident ID number (GB 11643: region, birth date, sequence, check character)."""
    value = value.strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise MemberError("id_number", "身份证号应为 18 位，末位可为 X (id_number: 17 digits and a digit or X)")
    if _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11] != value[17]:
        raise MemberError("id_number", "身份证号校验位不符，请核对 (id_number: the check character does not match)")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise MemberError("id_number", "身份证号中的出生日期无效 (id_number: the birth date is not a date)") from None
    if not date(1900, 1, 1) <= born <= (today or datetime.now(UTC).date()):
        raise MemberError("id_number", "身份证号中的出生日期无效 (id_number: the birth date is out of range)")
    return IdNumber(mask_id_number(value), born, Gender.MALE if int(value[16]) % 2 else Gender.FEMALE)


def birthday(value: date | None, today: date | None = None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= (today or datetime.now(UTC).date()):
        raise MemberError("birthday", "生日应在 1900 年至今天之间 (birthday: between 1900 and today)")
    return value


# --- masking: the one place that decides what a reader sees --------------------------------------------------

def mask_name(value: str) -> str:
    """张** : the family name and a star per other character."""
    return value[:1] + "*" * max(len(value) - 1, 1) if value else value


def mask_plate(value: str) -> str:
    """京A***45 : the province, the letter and the last two."""
    return value[:2] + "*" * (len(value) - 4) + value[-2:] if len(value) > 4 else "****"


def mask_card(value: str) -> str:
    """6222 **** **** 1234 without spaces: the first four and the last four."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "****"


def mask_openid(value: str) -> str:
    """oAbc****wxyz : a WeChat openid or unionid, its first four and last four."""
    return value[:4] + "****" + value[-4:] if len(value) > 8 else "****"


def mask_id_number(value: str) -> str:
    """1101**********123X : the region's first four and the last four."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What one reader may see unmasked: ``pii`` (``pii:read``) every personal field; ``card_numbers`` the full
    card number (``pii:read``, or ``member:register``: the POS pays with it)."""

    pii: bool = False
    card_numbers: bool = False

    @classmethod
    def of(cls, permissions: frozenset[str] | set[str]) -> Disclosure:
        pii = "pii:read" in permissions
        return cls(pii=pii, card_numbers=pii or "member:register" in permissions)


_MASKS = {"phone": mask_phone, "name": mask_name, "plate": mask_plate, "wechat_openid": mask_openid,
          "wechat_unionid": mask_openid}


def shown(row: Mapping[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    """A member's, vehicle's or card's row as this reader may see it: ``phone``, ``name``, ``plate``, ``plates``, the
    WeChat ``wechat_openid`` and ``wechat_unionid``, and ``card_no`` masked unless disclosed (``id_number_masked``
    is never more than masked). Only rows about a person go through here (a level's or tag's ``name`` is not
    personal)."""
    out = dict(row)
    if not disclosure.pii:
        for key, mask in _MASKS.items():
            if isinstance(out.get(key), str):
                out[key] = mask(out[key])
        if isinstance(out.get("plates"), list | tuple):
            out["plates"] = [mask_plate(p) for p in out["plates"]]
    if not disclosure.card_numbers and isinstance(out.get("card_no"), str):
        out["card_no"] = mask_card(out["card_no"])
    return out


# --- levels and growth ---------------------------------------------------------------------------------------

GROWTH_FEN = 100            # one growth point per yuan paid
REVIEW_WINDOW = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Level:
    code: str
    name: str
    rank: int
    growth_min: int
    discount_pct: int = 0
    points_multiplier: float = 1.0
    birthday_privilege: str = ""


def growth_of(amount_fen: int) -> int:
    """The growth a paid amount earns (a refund's negative amount takes back as much); whole yuan, toward zero."""
    return int(amount_fen / GROWTH_FEN)


def level_for(levels: Sequence[Level], year_growth: int) -> Level:
    """The highest level whose threshold ``year_growth`` (the last 365 days) reaches."""
    ranked = sorted(levels, key=lambda lv: lv.rank)
    reached = [lv for lv in ranked if lv.growth_min <= year_growth]
    return reached[-1] if reached else ranked[0]


def upgrade(levels: Sequence[Level], current: str, year_growth: int) -> Level | None:
    """The level to move up to at once, or None (a member never moves down except at the yearly review)."""
    by_code = {lv.code: lv for lv in levels}
    earned = level_for(levels, year_growth)
    held = by_code.get(current)
    return earned if held is None or earned.rank > held.rank else None


def review(levels: Sequence[Level], current: str, year_growth: int) -> Level | None:
    """The yearly review: the level the last 365 days' growth earns, when it differs from the one held."""
    earned = level_for(levels, year_growth)
    return None if earned.code == current else earned


def check_levels(levels: Sequence[Level]) -> None:
    """A level table is usable: the lowest rank starts at growth 0 and a higher rank needs more growth."""
    ranked = sorted(levels, key=lambda lv: lv.rank)
    if not ranked or ranked[0].growth_min != 0:
        raise MemberError("growth_min", "最低等级的成长值门槛必须为 0 (the lowest level starts at growth 0)")
    for lower, higher in itertools.pairwise(ranked):
        if higher.growth_min <= lower.growth_min:
            raise MemberError("growth_min", f"{higher.name}的门槛应高于{lower.name} "
                                            "(a higher rank needs a higher threshold)")


# --- lifecycle from RFM --------------------------------------------------------------------------------------

NEW_FOR = timedelta(days=30)        # a member is new for 30 days after registering (if not yet a regular)
ACTIVE_WITHIN = timedelta(days=30)  # bought within 30 days: active
DORMANT_WITHIN = timedelta(days=90)  # 31–90 days: dormant; longer: lost
RFM_WINDOW = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Rfm:
    """A member's orders as the lifecycle sees them: the last paid order, and count and sum over 90 days."""

    registered_at: datetime
    last_order_at: datetime | None
    orders_90d: int
    amount_90d_fen: int

    def recency_days(self, now: datetime) -> int | None:
        return None if self.last_order_at is None else max((now - self.last_order_at).days, 0)


def lifecycle(rfm: Rfm, now: datetime) -> Lifecycle:
    """new: registered within 30 days with fewer than two orders; active: an order within 30 days; dormant:
    the last order (or the registration, without orders) 31–90 days ago; lost: longer ago."""
    if now - rfm.registered_at <= NEW_FOR and rfm.orders_90d < 2:
        return Lifecycle.NEW
    since = now - (rfm.last_order_at or rfm.registered_at)
    if rfm.last_order_at is not None and since <= ACTIVE_WITHIN:
        return Lifecycle.ACTIVE
    return Lifecycle.DORMANT if since <= DORMANT_WITHIN else Lifecycle.LOST


# --- rule tags -----------------------------------------------------------------------------------------------

class RuleKind(StrEnum):
    ORDERS_IN_DAYS = "orders_in_days"     # paid member orders in the last N days ≥ at_least
    SPENT_IN_DAYS = "spent_in_days"       # fen paid in the last N days ≥ at_least


@dataclass(frozen=True, slots=True)
class TagRule:
    kind: RuleKind
    days: int
    at_least: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> TagRule:
        try:
            rule = cls(RuleKind(raw["kind"]), int(raw["days"]), int(raw["at_least"]))
        except (KeyError, ValueError, TypeError):
            raise MemberError("rule", "规则应为 {kind: orders_in_days|spent_in_days, days, at_least} "
                                      "(rule: kind, days and at_least)") from None
        if not 1 <= rule.days <= 366 or rule.at_least < 1:
            raise MemberError("rule", "天数应在 1–366 之间，门槛至少为 1 (days 1–366, at_least ≥ 1)")
        return rule

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "days": self.days, "at_least": self.at_least}


# --- WeChat quick registration (members/wechat.py asks WeChat; these decide what its answers mean) -------------

class WeChatUnavailable(Exception):
    """WeChat did not answer (in time), or head office's mini program keys are wrong or missing (503): nothing was
    written; the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_EXPIRED = {"login_code": "微信授权已过期，请重新授权 (login_code: unknown or expired; call wx.login again)",
            "phone_code": "手机号授权已过期，请重新点击“手机号快捷登录” "
                          "(phone_code: unknown, expired or used; ask for the phone number again)"}
_MISCONFIGURED = frozenset({40013, 40125, 41002, 41004, 40002, 40164, 48001})   # appid, secret, grant type, IP, rights
_BUSY = frozenset({-1, 45009, 45011})                                   # system busy, rate limits


def wechat_refusal(errcode: int, errmsg: str, field: str) -> MemberError | WeChatUnavailable:
    """What WeChat's refusal of a code (``field``: login_code or phone_code) means for the caller: the person must
    authorise again (422; a used login code 409), or head office must fix or wait for WeChat (503)."""
    if errcode == 40029:
        return MemberError(field, _EXPIRED[field])
    if errcode == 40163:
        return MemberConflict(field, "微信授权码已使用过，请重新授权 (the code was used already; get a new one)")
    if errcode == 40226:
        return MemberConflict(field, "微信判定该账号存在风险，无法快捷注册，请到站内登记 "
                                     "(WeChat refuses this account as high-risk; register at a station)")
    if errcode in _MISCONFIGURED:
        return WeChatUnavailable(f"微信小程序的 AppID 或 AppSecret 配置有误（错误码 {errcode}），请联系管理员 "
                                 f"(the mini program's keys are wrong: {errcode} {errmsg})")
    if errcode in _BUSY:
        return WeChatUnavailable(f"微信繁忙，请稍后重试（错误码 {errcode}） (WeChat is busy: {errcode}; retry)")
    return WeChatUnavailable(f"微信拒绝了请求（错误码 {errcode}），请稍后重试 (WeChat refused: {errcode} {errmsg})")


def wechat_token_refusal(errcode: int, errmsg: str) -> WeChatUnavailable:
    """``/cgi-bin/token`` gave the mini program no token: WeChat busy, else head office's keys (40001 there: a wrong
    secret)."""
    if errcode in _BUSY:
        return WeChatUnavailable(f"微信繁忙，请稍后重试（错误码 {errcode}） (WeChat is busy: {errcode}; retry)")
    return WeChatUnavailable(f"微信小程序的 AppID 或 AppSecret 配置有误（错误码 {errcode}），请联系管理员 "
                             f"(no access token for the mini program: {errcode} {errmsg})")


def wechat_phone(country_code: str, pure_phone: str) -> str:
    """The member's phone from WeChat's phone_info: a mainland mobile only (members are registered by one)."""
    if country_code != "86":
        raise MemberError("phone_code", "仅支持中国大陆手机号注册会员，请到站内登记 "
                                        "(only mainland mobiles register here)")
    return phone(pure_phone)


# --- commands ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RegisterMember:
    group: str                     # the operating company (phone_digest's key)
    phone: str
    source: Source
    name: str | None = None
    gender: Gender = Gender.UNKNOWN
    birthday: date | None = None
    station: str | None = None
    id_number: IdNumber | None = None
    plate: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterFromWeChat:
    """The mini program's quick registration, once WeChat has told who it is: the member with this openid, else the
    one with this phone (the openid bound to it), else a new member (source wechat)."""

    group: str
    openid: str
    unionid: str | None
    phone: str                     # as WeChat verified it
    station: str | None = None


@dataclass(frozen=True, slots=True)
class EditProfile:
    member_no: str
    changes: dict[str, Any] = field(default_factory=dict)   # phone, name, gender, birthday, id_number (checked)


@dataclass(frozen=True, slots=True)
class TagMember:
    member_no: str
    tag_id: int
    on: bool                       # True: give the tag; False: take it away


@dataclass(frozen=True, slots=True)
class EraseMember:
    member_no: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExportPersonalData:
    """PIPL: what head office keeps about one member, for the member's own request (audited)."""

    member_no: str
    format: str                    # xlsx or json: recorded in the audit


@dataclass(frozen=True, slots=True)
class SaveLevel:
    level: Level
    create: bool


@dataclass(frozen=True, slots=True)
class SaveTag:
    tag_id: int | None             # None: a new tag
    name: str
    rule: TagRule | None
    description: str = ""
