"""Pure rules of people and access: the permission catalogue, the roles, station scope, lock-out, passwords.

Every permission the platform knows is in ``PERMISSIONS`` (``resource:action`` with its Chinese name), and
every role's permissions are in ``ROLES``: the one place that decides who may do what. A route names the
permission it needs (``control_api/security.py::require``); a role grants it here.

Scope: a user is given org units (the company, a region or stations). The company means every station
(``None``); a region means the stations under it. Head-office roles may hold any unit; station roles
(station manager, cashier, attendant, the price board screen) only stations, so a cashier can never reach
beyond the forecourt.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

PERMISSIONS: dict[str, str] = {
    "station:read": "查看站点", "station:write": "维护站点",
    "device:read": "查看设备与实时数据", "device:command": "操作设备（授权加油、停机、调价）",
    "fuelling:read": "查看加油记录",
    "user:read": "查看用户", "user:write": "管理用户（新建、改角色、重置密码、解锁）",
    "role:read": "查看角色与权限",
    "apikey:read": "查看合作方密钥", "apikey:write": "签发与吊销合作方密钥",
    "pii:read": "查看完整个人信息（手机号、车牌、卡号）",
    "audit:read": "查看审计日志", "loginlog:read": "查看登录日志",
    "approval:read": "查看审批", "approval:decide": "审批",
    "export:create": "导出 Excel（按本人可见的数据）",
    "shift:read": "查看交接班", "shift:write": "交接班",
    "shift:override": "有未付订单时强制交班",
    "shift:reconcile": "核对各站班次（总部对账）",
    "inspection:read": "查看巡检", "inspection:write": "记录巡检",
    "price:write": "调整油价",
    "price:read": "查看价格", "price:policy": "设置全公司调价限额",
    "price:rule": "管理特殊价格（本人站点）",
    "ledger:read": "查看资金流水", "report:read": "查看报表",
    "member:read": "查看会员", "promotion:write": "管理营销活动",
    "member:write": "登记与维护会员、车辆、标签与等级",
    "member:register": "收银台登记会员、查询会员（站点服务器代办）",
    "member:privacy": "依申请导出或删除会员个人信息",
    "card:read": "查看储值卡与 IC 卡", "card:write": "发卡、充值、圈存、挂失、冻结、换卡",
    "points:write": "积分规则、积分调整与积分商城",
    "fleet:read": "查看车队", "fleet:write": "管理车队（企业、车辆、车队卡、划拨）",
    "fleet:approve": "审核企业与调账", "fleet:settle": "车队对账单、收款核销与催收",
    "fleet:portal": "企业门户：只看本企业的车辆、卡、账单与余额",
    "order:read": "查看订单", "order:write": "挂单、补单、手工单、标签", "order:approve": "审批补单与挂单核销",
    "payment:read": "查看收款", "payment:take": "收款", "payment:refund": "退款",
    "inventory:read": "查看罐存比对与卸油", "inventory:write": "录入卸车记录、人工量油、倒罐与回罐",
    "inventory:configure": "设置损耗允许值",
    "payment:online": "经总部发起线上支付",   # station servers' API keys; no human role but admin
    "alarm:read": "查看报警",
    "alarm:ack": "确认、搁置报警",
    "alarm:configure": "维护报警规则与通知路由",
    "workorder:read": "查看维修工单",
    "workorder:write": "开维修工单、更新工单状态",
    "face:read": "查看人脸登记与同意记录", "face:enrol": "登记与删除人脸（须本人同意）",
    "face:identify": "人脸识别（终端刷脸）",
}

_STATION_READ = ("station:read", "device:read", "fuelling:read")
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {   # role → (Chinese name, permissions)
    "admin": ("系统管理员", tuple(PERMISSIONS)),
    "regional_manager": ("区域经理", (*_STATION_READ, "device:command", "user:read", "role:read", "audit:read",
                                     "loginlog:read", "approval:read", "approval:decide", "export:create", "shift:read",
                                     "inspection:read", "report:read", "price:write",
                                     "price:read", "price:rule",
                                     "order:read", "order:approve",
                                     "alarm:read", "alarm:ack", "alarm:configure",
                                     "inventory:read", "inventory:configure",
                                     "workorder:read", "workorder:write")),
    "station_manager": ("站长", (*_STATION_READ, "station:write", "device:command", "approval:read", "shift:read",
                                "member:read", "member:register", "card:read",
                                "shift:write", "inspection:read", "report:read",   # station:write: own stations
                                "shift:override", "order:read", "order:write", "order:approve", "approval:decide",
                                "payment:read", "payment:take", "payment:refund",
                                "price:read",
                                "alarm:read", "alarm:ack",
                                "inventory:read", "inventory:write",
                                "workorder:read", "workorder:write")),
    "cashier": ("收银员", (*_STATION_READ, "device:command", "shift:read", "shift:write", "order:read", "order:write",
                        "member:read", "member:register",
                        "payment:read", "payment:take", "price:read",
                        "alarm:read", "alarm:ack")),
    "attendant": ("加油员", (*_STATION_READ, "order:read",
                          "alarm:read")),
    "price_display": ("价格公示屏", ("station:read", "price:read")),   # the forecourt's price board screen
    "finance": ("财务", ("station:read", "fuelling:read", "ledger:read", "report:read", "approval:read",
                        "approval:decide", "export:create", "order:read", "payment:read", "shift:reconcile",
                        "price:read", "card:read", "card:write", "member:read",
                        "inventory:read", "fleet:read", "fleet:approve", "fleet:settle")),
    "marketing": ("市场营销", ("station:read", "member:read", "member:write", "promotion:write", "report:read",
                             "card:read", "points:write", "export:create")),
    "fleet_manager": ("车队经理", ("station:read", "fleet:read", "fleet:write", "fuelling:read", "export:create")),
    "fleet_client": ("企业车队用户", ("fleet:portal",)),   # an enterprise's own manager: its enterprise only
    "inspector": ("安全巡检员", ("station:read", "device:read", "inspection:read", "inspection:write",
                               "alarm:read",
                               "workorder:read", "workorder:write")),
    "auditor": ("审计员", ("station:read", "fuelling:read", "ledger:read", "user:read", "role:read", "audit:read",
                         "loginlog:read", "export:create", "order:read", "payment:read",
                         "inventory:read")),
}
STATION_ROLES = frozenset({"station_manager", "cashier", "attendant", "price_display"})   # scoped to stations only

LOCK_AFTER_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class AccessRuleError(ValueError):
    """A rule of this module refuses the request; ``field`` names what to fix, the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """Every permission the roles grant together (unknown role names grant nothing)."""
    return frozenset(p for role in roles if role in ROLES for p in ROLES[role][1])


def check_roles(roles: Iterable[str]) -> list[str]:
    names = sorted(set(roles))
    if not names:
        raise AccessRuleError("roles", "至少选择一个角色 (choose at least one role)")
    unknown = [r for r in names if r not in ROLES]
    if unknown:
        raise AccessRuleError("roles", f"未知角色 {unknown} (unknown roles; choose from {sorted(ROLES)})")
    return names


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """A node of the organisation tree: ``company`` → ``region`` → ``station`` (a station's code is its code)."""

    id: int
    kind: str
    code: str
    name: str
    parent_id: int | None


def check_scope(roles: Iterable[str], units: Iterable[OrgUnit]) -> None:
    """Station roles hold only stations; every user holds at least one unit."""
    held = list(units)
    if not held:
        raise AccessRuleError("units", "至少选择一个组织或站点 (choose at least one organisation unit or station)")
    if set(roles) & STATION_ROLES and any(u.kind != "station" for u in held):
        raise AccessRuleError("units", "站长、收银员、加油员、价格公示屏只能分配到站点 "
                                       "(station roles are given stations only)")


def stations_in_scope(held: Iterable[OrgUnit], tree: Iterable[OrgUnit]) -> frozenset[str] | None:
    """The station codes the held units reach in ``tree``; ``None`` (every station) if the company is held."""
    units = list(tree)
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    found: set[str] = set()
    todo = list(held)
    while todo:
        unit = todo.pop()
        if unit.kind == "company":
            return None
        if unit.kind == "station":
            found.add(unit.code)
        todo.extend(children.get(unit.id, ()))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class LoginState:
    failed_count: int
    last_failed_at: datetime | None
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime) -> LoginState:
        """Five failures within 15 minutes lock the account for 15 minutes."""
        recent = self.last_failed_at is not None and now - self.last_failed_at <= FAILURE_WINDOW
        count = (self.failed_count if recent else 0) + 1
        if count >= LOCK_AFTER_FAILURES:
            return LoginState(0, now, now + LOCK_FOR)
        return LoginState(count, now, self.locked_until)

    @staticmethod
    def cleared() -> LoginState:
        return LoginState(0, None, None)


def check_password(password: str, username: str) -> None:
    """At least 10 characters with letters and digits, and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessRuleError("password", f"密码至少 {MIN_PASSWORD_LENGTH} 位 "
                                          f"(the password needs at least {MIN_PASSWORD_LENGTH} characters)")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise AccessRuleError("password", "密码须同时包含字母和数字 (the password needs letters and digits)")
    if username.lower() in password.lower():
        raise AccessRuleError("password", "密码不能包含用户名 (the password must not contain the user name)")


def new_password() -> str:
    """A password the policy accepts, for resets and the demo (shown once)."""
    return f"Fc-{secrets.token_urlsafe(9)}{secrets.randbelow(10)}"


USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise AccessRuleError("username", "用户名为 3–32 位小写字母、数字、._-，以字母开头 "
                                          "(3–32 lower-case letters, digits, . _ -, starting with a letter)")
    return username


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the first three and last four digits stay."""
    if not phone:
        return phone
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


# Raised for this process's own handlers (never sent) when users of some stations' master-data lists changed:
# ``data = {"stations": [codes]}``; the stations context raises those lists' versions and sends them.
STATION_USERS_CHANGED = "access.station_users.changed"


def listed_at(stations: frozenset[str] | None) -> frozenset[str]:
    """The stations whose lists hold a user reaching ``stations`` (None: every station, and so no list)."""
    return stations or frozenset()


API_KEY_PREFIX = "fck_"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str       # shown once to its creator
    prefix: str    # shown in lists, and how a key is looked up
    digest: bytes  # what is stored


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key, prefix, api_key_digest(key))


def api_key_digest(key: str) -> bytes:
    """SHA-256 suffices: a key is 256 random bits, not a guessable password."""
    return hashlib.sha256(key.encode()).digest()


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, _ = key.removeprefix(API_KEY_PREFIX).partition("_")
    return prefix if sep and len(prefix) == 8 else None


def check_key_permissions(permissions: Iterable[str], granted: Mapping[str, object] = PERMISSIONS) -> list[str]:
    names = sorted(set(permissions))
    if not names or any(p not in granted for p in names):
        raise AccessRuleError("permissions", f"权限须取自权限目录 (choose permissions from {sorted(granted)})")
    return names
