"""The pure rules of people and access: catalogue, roles, scope, lock-out, passwords, masking, API keys."""

from datetime import UTC, datetime, timedelta

import pytest

from business_services.access.model import (
    PERMISSIONS,
    ROLES,
    AccessRuleError,
    LoginState,
    OrgUnit,
    api_key_digest,
    api_key_prefix,
    check_password,
    check_roles,
    check_scope,
    mask_phone,
    new_api_key,
    new_password,
    permissions_of,
    stations_in_scope,
)
from control_api.menus import MENUS, menus_for, unknown_permissions
from forecourt.roles import Role

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TREE = [OrgUnit(1, "company", "changjia", "畅加能源", None), OrgUnit(2, "region", "east", "华东区", 1),
        OrgUnit(3, "region", "west", "华西区", 1), OrgUnit(4, "station", "demo-01", "一站", 2),
        OrgUnit(5, "station", "demo-02", "二站", 2), OrgUnit(6, "station", "demo-03", "三站", 3)]
UNIT = {u.code: u for u in TREE}


def test_every_role_grants_only_catalogued_permissions_and_every_permission_has_a_chinese_name() -> None:
    assert len(ROLES) == 12
    for name, permissions in ROLES.values():
        assert name and set(permissions) <= set(PERMISSIONS)
    assert all(":" in p and PERMISSIONS[p] for p in PERMISSIONS)
    assert permissions_of(["admin"]) == frozenset(PERMISSIONS)


def test_several_roles_add_up_and_unknown_roles_grant_nothing() -> None:
    both = permissions_of(["cashier", "inspector"])
    assert "device:command" in both and "inspection:write" in both
    assert "user:write" not in both
    assert permissions_of(["root"]) == frozenset()
    with pytest.raises(AccessRuleError) as refused:
        check_roles(["cashier", "root"])
    assert refused.value.field == "roles"
    with pytest.raises(AccessRuleError):
        check_roles([])


def test_only_admins_manage_users_and_a_cashier_cannot() -> None:
    assert [r for r in ROLES if "user:write" in permissions_of([r])] == ["admin"]
    assert "device:command" in permissions_of(["cashier"]) and "device:command" not in permissions_of(["attendant"])


def test_scope_the_company_is_every_station_a_region_its_stations() -> None:
    assert stations_in_scope([UNIT["changjia"]], TREE) is None
    assert stations_in_scope([UNIT["east"]], TREE) == {"demo-01", "demo-02"}
    assert stations_in_scope([UNIT["demo-03"], UNIT["demo-01"]], TREE) == {"demo-01", "demo-03"}


def test_station_roles_hold_stations_only() -> None:
    check_scope(["cashier"], [UNIT["demo-01"]])
    check_scope(["regional_manager"], [UNIT["east"]])
    with pytest.raises(AccessRuleError) as refused:
        check_scope(["cashier"], [UNIT["east"]])
    assert refused.value.field == "units"
    with pytest.raises(AccessRuleError):
        check_scope(["admin"], [])


def test_five_failures_within_fifteen_minutes_lock_for_fifteen_minutes() -> None:
    state = LoginState.cleared()
    for n in range(4):
        state = state.after_failure(T0 + timedelta(minutes=n))
        assert not state.locked(T0 + timedelta(minutes=n))
    assert state.failed_count == 4
    state = state.after_failure(T0 + timedelta(minutes=4))
    assert state.locked(T0 + timedelta(minutes=4))
    assert state.locked(T0 + timedelta(minutes=18, seconds=59))
    assert not state.locked(T0 + timedelta(minutes=19))


def test_failures_spread_out_do_not_lock() -> None:
    state = LoginState.cleared()
    for n in range(10):
        state = state.after_failure(T0 + timedelta(minutes=16 * n))
    assert state.failed_count == 1 and not state.locked(T0 + timedelta(minutes=16 * 9))


@pytest.mark.parametrize(("password", "reason"), [("short1", "至少"), ("onlyletters-here", "字母和数字"),
                                                  ("1234567890", "字母和数字"), ("zhangsan-2026", "用户名")])
def test_the_password_policy_says_what_is_wrong(password: str, reason: str) -> None:
    with pytest.raises(AccessRuleError) as refused:
        check_password(password, "zhangsan")
    assert reason in str(refused.value) and refused.value.field == "password"


def test_generated_passwords_pass_the_policy_and_differ() -> None:
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        check_password(password, "cashier")


def test_phones_are_masked_to_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("1234") == "****"
    assert mask_phone(None) is None


def test_an_api_key_is_found_by_its_prefix_and_checked_by_its_digest() -> None:
    key = new_api_key()
    assert key.key.startswith("fck_") and api_key_prefix(key.key) == key.prefix
    assert api_key_digest(key.key) == key.digest and key.key.encode() not in key.digest
    assert api_key_prefix("fck_short_x") is None and api_key_prefix("Bearer x") is None


def test_menus_are_filtered_by_permission_and_name_only_catalogued_permissions() -> None:
    assert unknown_permissions() == []
    cashier = menus_for(permissions_of(["cashier"]))
    shown = {child["key"] for group in cashier for child in group["children"]}
    assert "devices" in shown and "users" not in shown and "audit" not in shown
    assert all(group["children"] for group in cashier)
    everything = menus_for(permissions_of(["admin"]))
    assert sum(len(g["children"]) for g in everything) == sum(len(g["children"]) for g in MENUS)


def test_a_station_server_shows_station_pages_and_head_office_its_own() -> None:
    admin = permissions_of(["admin"])
    station = {c["path"] for g in menus_for(admin, Role.STATION) for c in g["children"]}
    office = {c["path"] for g in menus_for(admin, Role.HEAD_OFFICE) for c in g["children"]}
    assert "/sales/shifts" in station and "/finance/accounts" not in station
    assert "/finance/accounts" in office and "/sales/shifts" not in office
    assert "/system/users" in station & office                     # an entry without roles shows on both
    assert all("roles" not in c for g in menus_for(admin, "station") for c in g["children"])
    assert "/finance/accounts" not in {c["path"] for g in menus_for(permissions_of(["cashier"]), None)
                                       for c in g["children"]}    # the permission still decides
