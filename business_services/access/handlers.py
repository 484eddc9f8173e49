"""Commands of people and access, one function each, taking (message, uow); each audits what it did.

A rule that refuses raises ``AccessRuleError`` (the field and what to do), a missing user ``LookupError``;
nothing is written then. Logging in is the exception: a failed login is recorded (login log, audit,
failure count) and committed, and its result says why it failed, so the caller can answer 401 after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from business_services.access import repository
from business_services.access.model import (
    STATION_USERS_CHANGED,
    AccessRuleError,
    LoginState,
    NewApiKey,
    check_key_permissions,
    check_password,
    check_roles,
    check_scope,
    check_username,
    listed_at,
    new_api_key,
    new_password,
    stations_in_scope,
)
from business_services.audit.model import AuditEntry
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent

HASHER = PasswordHash((Argon2Hasher(),))
_NOBODY = HASHER.hash("a password no user has 0")   # verified for unknown names, so they take as long


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LogIn:
    username: str
    password: str
    source: str
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class LoginResult:
    result: str                                   # ok, wrong_password, unknown_user, locked, disabled
    user: repository.UserRow | None = None
    stations: frozenset[str] | None = None
    locked_until: datetime | None = None


async def log_in(msg: LogIn, uow: UnitOfWork) -> LoginResult:
    now = _now()
    user = await repository.user_by_name(uow.conn, msg.username, lock=True)
    if user is None:
        HASHER.verify(msg.password, _NOBODY)
        outcome = LoginResult("unknown_user")
    elif user.disabled:
        outcome = LoginResult("disabled", user)
    elif user.state.locked(now):
        outcome = LoginResult("locked", user, locked_until=user.state.locked_until)
    elif not HASHER.verify(msg.password, user.password_hash):
        state = user.state.after_failure(now)
        await repository.save_login_state(uow.conn, user.id, state)
        outcome = LoginResult("locked" if state.locked(now) else "wrong_password", user,
                              locked_until=state.locked_until)
    else:
        if user.state != LoginState.cleared():
            await repository.save_login_state(uow.conn, user.id, LoginState.cleared())
        outcome = LoginResult("ok", user, await repository.stations_of(uow.conn, user.id))
    user_id = None if user is None else user.id
    await repository.log_login(uow.conn, msg.username, user_id, msg.source, msg.user_agent, outcome.result, now)
    action = "auth.login" if outcome.result == "ok" else "auth.login_failed"
    await uow.audit(AuditEntry(action, f"user:{user_id or msg.username[:64]}", after={"result": outcome.result}))
    return outcome


@dataclass(frozen=True, slots=True)
class UserChange:
    """A new user (``user_id`` None, ``password`` set) or the new state of an existing one."""

    display_name: str
    roles: list[str]
    units: list[str]                            # org unit codes: the company, regions or station codes
    caller_stations: frozenset[str] | None      # whoever makes the change cannot give more than they reach
    phone: str | None = None
    disabled: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    user_id: int | None = None


async def _checked_units(msg: UserChange, uow: UnitOfWork) -> tuple[list[str], list[int]]:
    roles = check_roles(msg.roles)
    held = await repository.units(uow.conn, sorted(set(msg.units)))
    missing = sorted(set(msg.units) - {u.code for u in held})
    if missing:
        raise AccessRuleError("units", f"组织或站点不存在：{missing} (unknown organisation units)")
    check_scope(roles, held)
    reach = stations_in_scope(held, await repository.units(uow.conn))
    if msg.caller_stations is not None and (reach is None or not reach <= msg.caller_stations):
        raise AccessRuleError("units", "不能授予超出您自己范围的站点 (you cannot give stations outside your own scope)")
    if not msg.display_name.strip():
        raise AccessRuleError("display_name", "请填写姓名 (enter a display name)")
    return roles, [u.id for u in held]


def _public(username: str, msg: UserChange, roles: list[str]) -> dict[str, object]:
    return {"username": username, "display_name": msg.display_name, "phone": msg.phone or None,
            "disabled": msg.disabled, "roles": roles, "units": sorted(set(msg.units))}


async def _lists_changed(uow: UnitOfWork, *stations: frozenset[str] | None) -> None:
    """The users of these stations' lists changed: their lists must reach the stations (stations context)."""
    codes = sorted(frozenset().union(*(listed_at(s) for s in stations)))
    if codes:
        uow.raise_event(CloudEvent(source="business/access", type=STATION_USERS_CHANGED, data={"stations": codes}))


async def create_user(msg: UserChange, uow: UnitOfWork) -> int:
    username = check_username(msg.username)
    check_password(msg.password, username)
    roles, unit_ids = await _checked_units(msg, uow)
    user_id = await repository.insert_user(uow.conn, username, msg.display_name.strip(), msg.phone or None,
                                           HASHER.hash(msg.password))
    if user_id is None:
        raise AccessRuleError("username", f"用户名 {username} 已存在 (the user name is taken; choose another)")
    await repository.set_roles(uow.conn, user_id, roles)
    await repository.set_units(uow.conn, user_id, unit_ids)
    await uow.audit(AuditEntry("access.user.create", f"user:{user_id}", after=_public(username, msg, roles)))
    await _lists_changed(uow, await repository.stations_of(uow.conn, user_id))
    return user_id


async def update_user(msg: UserChange, uow: UnitOfWork) -> None:
    user = await _existing(uow, msg.user_id or 0)
    roles, unit_ids = await _checked_units(msg, uow)
    before_units = [u.code for u in await repository.user_units(uow.conn, user.id)]
    reached = await repository.stations_of(uow.conn, user.id)
    before = {"username": user.username, "display_name": user.display_name, "phone": user.phone,
              "disabled": user.disabled, "roles": sorted(user.roles), "units": sorted(before_units)}
    await repository.update_profile(uow.conn, user.id, msg.display_name.strip(), msg.phone or None, msg.disabled)
    await repository.set_roles(uow.conn, user.id, roles)
    await repository.set_units(uow.conn, user.id, unit_ids)
    after = _public(user.username, msg, roles)
    if after != before:
        await uow.audit(AuditEntry("access.user.update", f"user:{user.id}", before=before, after=after))
    if (after["roles"], after["units"], after["disabled"]) != (before["roles"], before["units"], before["disabled"]):
        await repository.revoke_tokens(uow.conn, user.id)   # what the user's tokens say is no longer true
        await _lists_changed(uow, reached, await repository.stations_of(uow.conn, user.id))


async def _existing(uow: UnitOfWork, user_id: int) -> repository.UserRow:
    user = await repository.user_by_id(uow.conn, user_id, lock=True)
    if user is None:
        raise LookupError(f"用户 {user_id} 不存在 (no such user)")
    return user


@dataclass(frozen=True, slots=True)
class ChangePassword:
    user_id: int
    old_password: str = field(repr=False)
    new_password: str = field(repr=False)


async def change_password(msg: ChangePassword, uow: UnitOfWork) -> None:
    user = await _existing(uow, msg.user_id)
    if not HASHER.verify(msg.old_password, user.password_hash):
        raise AccessRuleError("old_password", "原密码不正确 (the current password is wrong)")
    check_password(msg.new_password, user.username)
    await repository.set_password(uow.conn, user.id, HASHER.hash(msg.new_password))
    await uow.audit(AuditEntry("access.password.change", f"user:{user.id}"))
    await _lists_changed(uow, await repository.stations_of(uow.conn, user.id))   # the list holds the hash


async def reset_password(user_id: int, uow: UnitOfWork) -> str:
    """A new password for the user (shown once to the administrator); the account is unlocked too."""
    user = await _existing(uow, user_id)
    password = new_password()
    await repository.set_password(uow.conn, user.id, HASHER.hash(password))
    await repository.save_login_state(uow.conn, user.id, LoginState.cleared())
    await uow.audit(AuditEntry("access.password.reset", f"user:{user.id}"))
    await _lists_changed(uow, await repository.stations_of(uow.conn, user.id))
    return password


async def unlock(user_id: int, uow: UnitOfWork) -> None:
    user = await _existing(uow, user_id)
    await repository.save_login_state(uow.conn, user.id, LoginState.cleared())
    await uow.audit(AuditEntry("access.user.unlock", f"user:{user.id}",
                               before={"failed_count": user.state.failed_count,
                                       "locked_until": user.state.locked_until}))


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    partner: str
    permissions: list[str]
    stations: list[str] | None                  # None: every station
    caller_stations: frozenset[str] | None
    caller_permissions: frozenset[str]


async def create_api_key(msg: CreateApiKey, uow: UnitOfWork) -> tuple[int, NewApiKey]:
    permissions = check_key_permissions(msg.permissions)
    if not set(permissions) <= msg.caller_permissions:
        raise AccessRuleError("permissions", "不能授予您自己没有的权限 (you cannot grant permissions you lack)")
    stations = None if msg.stations is None else sorted(set(msg.stations))
    if msg.caller_stations is not None and (stations is None or not set(stations) <= msg.caller_stations):
        raise AccessRuleError("stations", "不能授予超出您自己范围的站点 (you cannot give stations outside your scope)")
    if not msg.partner.strip():
        raise AccessRuleError("partner", "请填写合作方名称 (name the partner)")
    key = new_api_key()
    key_id = await repository.insert_api_key(uow.conn, key.prefix, key.digest, msg.partner.strip(), permissions,
                                             stations, uow.actor.name)
    await uow.audit(AuditEntry("access.apikey.create", f"apikey:{key.prefix}",
                               after={"partner": msg.partner, "permissions": permissions, "stations": stations}))
    return key_id, key


async def revoke_api_key(key_id: int, uow: UnitOfWork) -> None:
    revoked = await repository.revoke_api_key(uow.conn, key_id, _now())
    if revoked is None:
        raise LookupError(f"密钥 {key_id} 不存在或已吊销 (no such key, or it is revoked already)")
    await uow.audit(AuditEntry("access.apikey.revoke", f"apikey:{revoked['prefix']}"))
