"""The back office's menu catalogue: every page a user may see, each with the permission that opens it.

``/api/v1/me`` sends ``menus_for(permissions)``: groups with only the entries the user may open, empty
groups left out. One entry per page of the back office: its ``path`` is the page's path in
``control_api/web/admin/pages/index.js`` (a test keeps the two equal), so a module's entry is added with
its page, never before (docs/how-to/add-a-page.md).
"""

from __future__ import annotations

from typing import Any

from business_services.access.model import PERMISSIONS

MENUS: list[dict[str, Any]] = [
    {"key": "operations", "title": "基础运营", "icon": "Odometer", "children": [
        {"key": "stations", "title": "站点管理", "path": "/operations/stations", "permission": "station:read"},
    ]},
    {"key": "equipment", "title": "设备设施", "icon": "Monitor", "children": [
        {"key": "devices", "title": "设备管理", "path": "/equipment/devices", "permission": "device:read"},
    ]},
    {"key": "system", "title": "系统管理", "icon": "Setting", "children": [
        {"key": "users", "title": "用户管理", "path": "/system/users", "permission": "user:read"},
        {"key": "roles", "title": "角色权限", "path": "/system/roles", "permission": "role:read"},
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
