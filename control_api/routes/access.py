"""People and access over HTTP: log in, who am I, users, roles, partners' API keys, the login log.

``POST /api/v1/auth/token`` is the one public route here (the OAuth2 password form). Every other route
names its permission beside itself; user lists show only users who share a station with the caller, and
phones are masked unless the caller holds ``pii:read``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from business_services.access import handlers, views
from business_services.access.model import PERMISSIONS, ROLES, mask_phone, permissions_of
from business_services.audit.model import Actor
from business_services.messagebus import MessageBus
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, RowId
from control_api.menus import menus_for
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import LOGGED_IN, Principal, TokenIssuer, require
from forecourt.roles import policy

router = APIRouter(prefix="/api/v1", tags=["access"])

NO_NUL = r"^[^\x00]*$"     # PostgreSQL text holds no NUL: refused as input (422), never a server error
Code = Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL)]

Caller = Annotated[Principal, Depends(require(LOGGED_IN))]
UserReader = Annotated[Principal, Depends(require("user:read"))]
UserWriter = Annotated[Principal, Depends(require("user:write"))]

LOGIN_REFUSED = {   # login result → (status, message)
    "wrong_password": (401, "用户名或密码错误 (wrong user name or password)"),
    "unknown_user": (401, "用户名或密码错误 (wrong user name or password)"),
    "disabled": (401, "账号已停用，请联系管理员 (the account is disabled; ask an administrator)"),
}


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


@router.post("/auth/token", response_model=TokenAnswer)
async def log_in(request: Request, db: Db, username: Annotated[str, Form(max_length=64, pattern=NO_NUL)],
                 password: Annotated[str, Form(max_length=256)]) -> TokenAnswer:
    source = request.client.host if request.client else ""
    message = handlers.LogIn(username, password, source, request.headers.get("user-agent", ""))
    async with db.connection() as conn, UnitOfWork(conn, Actor(username[:64], source)) as uow:
        outcome = await handlers.log_in(message, uow)
    if outcome.result == "locked":
        until = outcome.locked_until.astimezone(UTC).isoformat(timespec="seconds") if outcome.locked_until else ""
        raise HTTPException(423, f"连续登录失败次数过多，账号已锁定至 {until}，请稍后再试或联系管理员解锁 "
                                 f"(too many failed logins: the account is locked until {until}; wait or ask an "
                                 "administrator to unlock it)")
    if outcome.result != "ok":
        status, text = LOGIN_REFUSED[outcome.result]
        raise HTTPException(status, text, headers={"WWW-Authenticate": "Bearer"})
    if outcome.user is None:
        raise RuntimeError("a successful login names its user")
    issuer: TokenIssuer = request.app.state.tokens
    who = Principal(outcome.user.username, outcome.user.id, outcome.user.roles, permissions_of(outcome.user.roles),
                    outcome.stations, source, outcome.user.token_version)
    return TokenAnswer(access_token=issuer.issue(who), expires_in=issuer.ttl_s)


@router.get("/me")
async def me(who: Caller, db: Db, request: Request) -> dict[str, Any]:
    async with db.connection() as conn:
        stations = await views.stations(conn, who.stations)
    display_name = who.username
    if who.user_id is not None:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT display_name FROM business.access_users WHERE id = %s", (who.user_id,))
            row = await cur.fetchone()
            display_name = row[0] if row else who.username
    return {"user": {"id": who.user_id, "username": who.username, "display_name": display_name},
            "roles": sorted(who.roles), "permissions": sorted(who.permissions), "stations": stations,
            "menus": menus_for(who.permissions, request.app.state.role)}


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


@router.post("/me/password", status_code=204)
async def change_my_password(body: PasswordChange, who: Caller, db: Db, request: Request) -> None:
    if who.user_id is None:
        raise HTTPException(403, "此凭证没有密码可改 (this credential has no password to change)")
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await handlers.change_password(handlers.ChangePassword(who.user_id, body.old_password, body.new_password), uow)
        await _follow_up(request, uow)


async def _follow_up(request: Request, uow: UnitOfWork) -> None:
    """Hand what the access handler raised to the other contexts, in its unit of work: at head office the
    stations context sends the lists whose users changed; a station server's list is a copy, so nothing."""
    if policy(request.app.state.role).owns_master_data:
        await cast(MessageBus, request.app.state.bus).handle_raised(uow)
    else:
        uow.take_raised()


def _user_public(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"],
            "phone": row["phone"] if who.may("pii:read") else mask_phone(row["phone"]),
            "roles": row["roles"], "units": row["units"], "disabled": row["disabled"], "locked": row["locked"],
            "locked_until": row["locked_until"], "created_at": row["created_at"]}


@router.get("/users")
async def list_users(who: UserReader, db: Db, q: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
                     role: Annotated[str, Query(max_length=32, pattern=NO_NUL)] = "",
                     station: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
                     status: Annotated[str, Query(pattern="^(|active|disabled|locked)$")] = "",
                     sort: Annotated[str, Query(pattern="^-?(username|display_name|created_at)$")] = "username",
                     cursor: Cursor = "", limit: Limit = 20) -> dict[str, Any]:
    order = views.user_sort(sort)
    async with db.connection() as conn:
        rows, total, last = await views.users(conn, q=q, role=role, station=station, status=status, sort=order,
                                              scope=who.stations, limit=limit, after=after(cursor, order))
    return page([_user_public(r, who) for r in rows], total, order, last)


class UserBody(BaseModel):
    display_name: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    roles: list[Code] = Field(max_length=10)
    units: list[Code] = Field(max_length=100)
    phone: str | None = Field(None, pattern=r"^\+?[0-9 -]{5,20}$")
    disabled: bool = False


class NewUser(UserBody):
    username: str = Field(max_length=32, pattern=NO_NUL)
    password: str = Field(max_length=256)


async def _in_scope(db: Db, who: Principal, user_id: int) -> None:
    """404 for a user the caller cannot see (sharing no station), as for one that does not exist."""
    async with db.connection() as conn:
        rows, _, _ = await views.users(conn, scope=who.stations, limit=1, user_id=user_id)
    if not rows:
        raise HTTPException(404, f"用户 {user_id} 不存在 (no such user)")


@router.post("/users", status_code=201)
async def create_user(body: NewUser, who: UserWriter, db: Db, request: Request) -> dict[str, int]:
    change = handlers.UserChange(body.display_name, body.roles, body.units, who.stations, body.phone, body.disabled,
                                 body.username, body.password)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        user_id = await handlers.create_user(change, uow)
        await _follow_up(request, uow)
    return {"id": user_id}


@router.patch("/users/{user_id}", status_code=204)
async def edit_user(user_id: RowId, body: UserBody, who: UserWriter, db: Db, request: Request) -> None:
    await _in_scope(db, who, user_id)
    change = handlers.UserChange(body.display_name, body.roles, body.units, who.stations, body.phone, body.disabled,
                                 user_id=user_id)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await handlers.update_user(change, uow)
        await _follow_up(request, uow)


@router.post("/users/{user_id}/password-reset")
async def reset_password(user_id: RowId, who: UserWriter, db: Db, request: Request) -> dict[str, str]:
    """A new password, shown once: the administrator hands it over; the user changes it."""
    await _in_scope(db, who, user_id)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        password = await handlers.reset_password(user_id, uow)
        await _follow_up(request, uow)
    return {"password": password}


@router.post("/users/{user_id}/unlock", status_code=204)
async def unlock(user_id: RowId, who: UserWriter, db: Db) -> None:
    await _in_scope(db, who, user_id)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await handlers.unlock(user_id, uow)


@router.get("/roles")
async def list_roles(who: Annotated[Principal, Depends(require("role:read"))]) -> dict[str, Any]:
    items = [{"code": code, "name": name,
              "permissions": [{"code": p, "name": PERMISSIONS[p]} for p in permissions]}
             for code, (name, permissions) in ROLES.items()]
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.get("/permissions")
async def list_permissions(who: Annotated[Principal, Depends(require("role:read"))]) -> dict[str, Any]:
    items = [{"code": code, "name": name} for code, name in PERMISSIONS.items()]
    return {"items": items, "next_cursor": None, "total": len(items)}


class NewApiKey(BaseModel):
    partner: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    permissions: list[Code] = Field(max_length=len(PERMISSIONS))
    stations: list[Code] | None = Field(None, max_length=1000)


@router.post("/api-keys", status_code=201)
async def create_api_key(body: NewApiKey, who: Annotated[Principal, Depends(require("apikey:write"))],
                         db: Db) -> dict[str, Any]:
    """The key is in this answer only: store it now; only its prefix is kept readable."""
    message = handlers.CreateApiKey(body.partner, body.permissions, body.stations, who.stations, who.permissions)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        key_id, key = await handlers.create_api_key(message, uow)
    return {"id": key_id, "prefix": key.prefix, "key": key.key}


@router.get("/api-keys")
async def list_api_keys(who: Annotated[Principal, Depends(require("apikey:read"))], db: Db, cursor: Cursor = "",
                        limit: Limit = 20) -> dict[str, Any]:
    start = after(cursor, views.KEYS_NEWEST_FIRST)
    async with db.connection() as conn:
        rows, total, last = await views.api_keys(conn, limit=limit, after=start)
    return page(rows, total, views.KEYS_NEWEST_FIRST, last)


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: RowId, who: Annotated[Principal, Depends(require("apikey:write"))], db: Db) -> None:
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await handlers.revoke_api_key(key_id, uow)
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from None


@router.get("/login-log")
async def login_log(who: Annotated[Principal, Depends(require("loginlog:read"))], db: Db,
                    username: Annotated[str, Query(max_length=64, pattern=NO_NUL)] = "",
                    result: Annotated[str, Query(pattern="^(|ok|wrong_password|unknown_user|locked|disabled)$")] = "",
                    cursor: Cursor = "", limit: Limit = 20) -> dict[str, Any]:
    start = after(cursor, views.LOGINS_NEWEST_FIRST)
    async with db.connection() as conn:
        rows, total, last = await views.login_log(conn, username=username, result=result, scope=who.stations,
                                                  limit=limit, after=start)
    return page(rows, total, views.LOGINS_NEWEST_FIRST, last)
