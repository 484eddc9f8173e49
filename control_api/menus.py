"""The back office's menu catalogue: every page a user may see, each with the permission that opens it.

``/api/v1/me`` sends ``menus_for(permissions)``: groups with only the entries the user may open, empty
groups left out. Pages of modules not built yet are listed too; they appear once a role grants their
permission (the catalogue in ``business_services/access/model.py``).
"""

from __future__ import annotations

from typing import Any

from business_services.access.model import PERMISSIONS

MENUS: list[dict[str, Any]] = [
    {"key": "operations", "title": "基础运营", "icon": "Odometer", "children": [
        {"key": "stations", "title": "站点管理", "path": "/operations/stations", "permission": "station:read"},
        {"key": "fuellings", "title": "加油记录", "path": "/operations/fuellings", "permission": "fuelling:read"},
        {"key": "shifts", "title": "交接班管理", "path": "/operations/shifts", "permission": "shift:read"},
        {"key": "prices", "title": "油价管理", "path": "/operations/prices", "permission": "price:write"},
    ]},
    {"key": "equipment", "title": "设备设施", "icon": "Monitor", "children": [
        {"key": "devices", "title": "设备管理", "path": "/equipment/devices", "permission": "device:read"},
        {"key": "inspections", "title": "巡检记录", "path": "/equipment/inspections", "permission": "inspection:read"},
    ]},
    {"key": "finance", "title": "财务管理", "icon": "Wallet", "children": [
        {"key": "ledger", "title": "资金流水", "path": "/finance/ledger", "permission": "ledger:read"},
        {"key": "reports", "title": "经营报表", "path": "/finance/reports", "permission": "report:read"},
    ]},
    {"key": "marketing", "title": "会员营销", "icon": "Goods", "children": [
        {"key": "members", "title": "会员管理", "path": "/marketing/members", "permission": "member:read"},
        {"key": "fleets", "title": "车队管理", "path": "/marketing/fleets", "permission": "fleet:read"},
    ]},
    {"key": "system", "title": "系统管理", "icon": "Setting", "children": [
        {"key": "users", "title": "用户管理", "path": "/system/users", "permission": "user:read"},
        {"key": "roles", "title": "角色权限", "path": "/system/roles", "permission": "role:read"},
        {"key": "api-keys", "title": "合作方密钥", "path": "/system/api-keys", "permission": "apikey:read"},
        {"key": "approvals", "title": "审批中心", "path": "/system/approvals", "permission": "approval:read"},
        {"key": "audit", "title": "审计日志", "path": "/system/audit", "permission": "audit:read"},
        {"key": "login-log", "title": "登录日志", "path": "/system/login-log", "permission": "loginlog:read"},
    ]},
]


def menus_for(permissions: frozenset[str]) -> list[dict[str, Any]]:
    shown = []
    for group in MENUS:
        children = [dict(child) for child in group["children"] if child["permission"] in permissions]
        if children:
            shown.append({**group, "children": children})
    return shown


def unknown_permissions() -> list[str]:
    """Menu permissions missing from the catalogue (a test keeps this empty)."""
    return [c["permission"] for g in MENUS for c in g["children"] if c["permission"] not in PERMISSIONS]
