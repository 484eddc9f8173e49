"""The back office's menu catalogue: every page a user may see, each with the permission that opens it.

``/api/v1/me`` sends ``menus_for(permissions, role)``: groups with only the entries the user may open on the
serving app's role (``forecourt/roles.py``), empty groups left out. An entry's ``roles`` names the roles whose
back office shows it (a station server's pages are the station's: 交接班; head office's: 资金账户); without
``roles`` it shows on both. One entry per page of the back office: its ``path`` is the page's path in
``control_api/web/admin/pages/index.js`` (a test keeps the two equal), so a module's entry is added with
its page, never before (docs/how-to/add-a-page.md).
"""

from __future__ import annotations

from typing import Any

from business_services.access.model import PERMISSIONS
from forecourt.roles import Role

STATION_ONLY = (Role.STATION,)
HEAD_OFFICE_ONLY = (Role.HEAD_OFFICE,)

MENUS: list[dict[str, Any]] = [
    {"key": "operations", "title": "基础运营", "icon": "Odometer", "children": [
        {"key": "stations", "title": "站点管理", "path": "/operations/stations", "permission": "station:read"},
    ]},
    {"key": "sales", "title": "销售管理", "icon": "ShoppingCart", "children": [
        {"key": "shifts", "title": "交接班", "path": "/sales/shifts", "permission": "shift:read",
         "roles": STATION_ONLY},
    ]},
    {"key": "members", "title": "会员管理", "icon": "User", "children": [   # head office's (issue 18)
        {"key": "member-list", "title": "会员列表", "path": "/members/list", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "member-detail", "title": "会员详情", "path": "/members/detail", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "member-levels", "title": "等级与权益", "path": "/members/levels", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "member-tags", "title": "会员标签", "path": "/members/tags", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "member-vehicles", "title": "车辆与黑名单", "path": "/members/vehicles", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "points", "title": "积分查询", "path": "/members/points", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "points-rules", "title": "积分规则", "path": "/members/points-rules", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "points-mall", "title": "积分商城", "path": "/members/mall", "permission": "member:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "faces", "title": "人脸库", "path": "/members/faces", "permission": "face:read",
         "roles": HEAD_OFFICE_ONLY},   # the face gallery (docs/vision.md "The gallery")
    ]},
    {"key": "cards", "title": "卡务管理", "icon": "CreditCard", "children": [
        {"key": "ic-reconciliation", "title": "IC 卡对账", "path": "/cards/ic-reconciliation",
         "permission": "card:read", "roles": HEAD_OFFICE_ONLY},
        {"key": "card-list", "title": "卡片列表", "path": "/cards/list", "permission": "card:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "card-detail", "title": "卡详情", "path": "/cards/detail", "permission": "card:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "card-types", "title": "卡类型与充值优惠", "path": "/cards/types", "permission": "card:read",
         "roles": HEAD_OFFICE_ONLY},
    ]},
    {"key": "fleets", "title": "车队管理", "icon": "Van", "children": [   # head office's (issue 19, docs/fleets.md)
        {"key": "fleet-enterprises", "title": "车队企业", "path": "/fleets/enterprises", "permission": "fleet:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-enterprise-detail", "title": "企业详情", "path": "/fleets/detail", "permission": "fleet:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-cards", "title": "车队卡", "path": "/fleets/cards", "permission": "fleet:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-statements", "title": "对账单", "path": "/fleets/statements", "permission": "fleet:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-receivables", "title": "应收账款与催收", "path": "/fleets/receivables",
         "permission": "fleet:read", "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-partner-keys", "title": "开放接口与推送", "path": "/fleets/partner-keys",
         "permission": "fleet:write", "roles": HEAD_OFFICE_ONLY},
        {"key": "fleet-portal", "title": "企业门户", "path": "/fleets/portal", "permission": "fleet:portal",
         "roles": HEAD_OFFICE_ONLY},
    ]},
    {"key": "prices", "title": "价格管理", "icon": "PriceTag", "children": [
        {"key": "prices", "title": "油价", "path": "/prices/list", "permission": "price:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "price-change", "title": "调价申请", "path": "/prices/change", "permission": "price:write",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "price-calendar", "title": "调价日历", "path": "/prices/calendar", "permission": "price:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "price-changes", "title": "调价记录", "path": "/prices/changes", "permission": "price:read",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "price-policy", "title": "调价限额与特殊价格", "path": "/prices/policy", "permission": "price:rule",
         "roles": HEAD_OFFICE_ONLY},
        {"key": "price-board", "title": "价格公示屏", "path": "/prices/board", "permission": "price:read"},
    ]},
    {"key": "inventory", "title": "油品库存", "icon": "Histogram", "children": [
        {"key": "tank-reconciliation", "title": "罐存比对", "path": "/inventory/reconciliation",
         "permission": "inventory:read"},
        {"key": "deliveries", "title": "卸油与量油", "path": "/inventory/deliveries", "permission": "inventory:read",
         "roles": STATION_ONLY},
        {"key": "leak-tests", "title": "油罐渗漏检测", "path": "/inventory/leak-tests", "permission": "inventory:read"},
    ]},
    {"key": "finance", "title": "财务管理", "icon": "Wallet", "children": [
        {"key": "accounts", "title": "资金账户", "path": "/finance/accounts", "permission": "ledger:read",
         "roles": HEAD_OFFICE_ONLY},
    ]},
    {"key": "equipment", "title": "设备设施", "icon": "Monitor", "children": [
        {"key": "devices", "title": "设备管理", "path": "/equipment/devices", "permission": "device:read"},
        {"key": "work-orders", "title": "维修工单", "path": "/equipment/work-orders", "permission": "workorder:read"},
    ]},
    {"key": "alarms", "title": "报警中心", "icon": "Bell", "children": [
        {"key": "alarm-console", "title": "报警台", "path": "/alarms/console", "permission": "alarm:read"},
        {"key": "alarm-journal", "title": "报警日志", "path": "/alarms/journal", "permission": "alarm:read"},
        {"key": "alarm-kpis", "title": "报警指标", "path": "/alarms/kpis", "permission": "alarm:read"},
        {"key": "alarm-rules", "title": "报警规则", "path": "/alarms/rules", "permission": "alarm:configure"},
        {"key": "alarm-routing", "title": "通知路由", "path": "/alarms/routing", "permission": "alarm:configure",
         "roles": HEAD_OFFICE_ONLY},
    ]},
    {"key": "system", "title": "系统管理", "icon": "Setting", "children": [
        {"key": "users", "title": "用户管理", "path": "/system/users", "permission": "user:read"},
        {"key": "roles", "title": "角色权限", "path": "/system/roles", "permission": "role:read"},
        {"key": "approvals", "title": "审批中心", "path": "/system/approvals", "permission": "approval:read"},
        {"key": "audit", "title": "审计日志", "path": "/system/audit", "permission": "audit:read"},
        {"key": "login-log", "title": "登录日志", "path": "/system/login-log", "permission": "loginlog:read"},
    ]},
]


def shown_on(entry: dict[str, Any], role: Role | str | None) -> bool:
    """Whether the back office of ``role`` shows this entry (None: any role)."""
    return role is None or Role(role) in entry.get("roles", tuple(Role))


def menus_for(permissions: frozenset[str], role: Role | str | None = None) -> list[dict[str, Any]]:
    shown = []
    for group in MENUS:
        children = [{k: v for k, v in child.items() if k != "roles"} for child in group["children"]
                    if child["permission"] in permissions and shown_on(child, role)]
        if children:
            shown.append({**group, "children": children})
    return shown


def unknown_permissions() -> list[str]:
    """Menu permissions missing from the catalogue (a test keeps this empty)."""
    return [c["permission"] for g in MENUS for c in g["children"] if c["permission"] not in PERMISSIONS]
