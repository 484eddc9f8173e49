"""Who is asking, and may they: the one place where the API checks access.

Every route declares the permission it needs beside itself, and every route that names a station checks
that the caller's scope includes it::

    @router.get("")
    async def recent(station: Station, who: Annotated[Principal, Depends(require("fuelling:read"))]) -> ...:
        who.check_station(station)

A request proves who it is with a short-lived access token (``Authorization: Bearer …``; a WebSocket may
pass it as the ``access_token`` query parameter, since browsers cannot set headers on one), or, for a
partner's system, with an API key (``X-API-Key: fck_…``), which carries the key's own permissions and
stations. No or a bad credential: 401 with ``WWW-Authenticate: Bearer``. A missing permission or a station
outside the caller's scope: 403. A WebSocket is closed instead, with 4401 or 4403. The token carries the
caller's roles, permissions and stations as they were at login, and the user's token version: each
request reads that version (one indexed row), so a password change or reset, a change of roles or
stations, or disabling the user ends every token issued before at once. A token lives ``ttl_s``
(15 minutes by default). Which role holds which permission is decided in one place:
``business_services/access/model.py``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import jwt
from fastapi import HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection

from business_services.access import repository
from business_services.access.model import api_key_digest, api_key_prefix
from business_services.audit.model import Actor
from control_api.deps import checked_station

ALGORITHM = "HS256"
VERIFIED_TOKENS = 4096        # tokens a process remembers as verified (all forgotten when full)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a user (or a partner's API key) with its roles, permissions and stations."""

    username: str
    user_id: int | None
    roles: frozenset[str]
    permissions: frozenset[str]
    stations: frozenset[str] | None      # None: every station (head-office roles)
    source: str = ""                     # the client's address, for the audit chain
    token_version: int = 0               # the user's token version at login (a newer one revokes this token)

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def sees(self, station: str) -> bool:
        return self.stations is None or station in self.stations

    def check_station(self, station: str, connection: HTTPConnection | None = None) -> None:
        """403 unless ``station`` is in this caller's scope (a WebSocket ``connection`` is closed with 4403)."""
        if not self.sees(station):
            raise _forbidden(connection, f"无权访问站点 {station} (station {station} is outside your scope; "
                                         "ask an administrator)")

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.source, self.user_id)


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    """Signs and reads access tokens. Every API process of one installation needs the same ``secret``."""

    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    ttl_s: int = 900

    def issue(self, who: Principal, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {"sub": who.username, "uid": who.user_id, "roles": sorted(who.roles),
                  "perms": sorted(who.permissions), "stations": None if who.stations is None else sorted(who.stations),
                  "ver": who.token_version, "iat": issued, "exp": issued + self.ttl_s}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    # tokens this process has verified: token -> (its principal, its expiry); a token's claims never change, so its
    # signature is checked once per process and its expiry at every request (a cashier sends the same one all shift)
    _verified: dict[str, tuple[Principal, float]] = field(default_factory=dict, repr=False, compare=False)

    def read(self, token: str, source: str = "") -> Principal:
        """The principal of a valid token; ``jwt.InvalidTokenError`` for a forged, broken or expired one."""
        verified = self._verified.get(token)
        if verified is not None and time.time() < verified[1]:
            return replace(verified[0], source=source)
        claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
        stations = claims.get("stations")
        who = Principal(str(claims["sub"]), claims.get("uid"), frozenset(claims.get("roles", ())),
                        frozenset(claims.get("perms", ())), None if stations is None else frozenset(stations),
                        source, int(claims.get("ver", 0)))
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (who, float(claims["exp"]))
        return who


WS_UNAUTHORISED, WS_FORBIDDEN = 4401, 4403   # WebSocket close codes: 4000 + the HTTP status


def _is_websocket(connection: HTTPConnection | None) -> bool:
    return connection is not None and connection.scope["type"] == "websocket"


def _unauthorised(connection: HTTPConnection, message: str) -> Exception:
    if _is_websocket(connection):
        return WebSocketException(WS_UNAUTHORISED, message.encode()[:123].decode(errors="ignore"))
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _forbidden(connection: HTTPConnection | None, message: str) -> Exception:
    if _is_websocket(connection):
        return WebSocketException(WS_FORBIDDEN, message.encode()[:123].decode(errors="ignore"))
    return HTTPException(status.HTTP_403_FORBIDDEN, message)


def _token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if connection.scope["type"] == "websocket":
        return connection.query_params.get("access_token")
    return None


async def _api_key_principal(connection: HTTPConnection, key: str, source: str) -> Principal:
    prefix = api_key_prefix(key)
    if prefix is None:
        raise _unauthorised(connection, "API 密钥格式错误 (the X-API-Key is malformed; it starts with fck_)")
    async with connection.app.state.database.connection() as conn:
        row = await repository.api_key(conn, prefix)
    if row is None or row["revoked_at"] is not None or not secrets.compare_digest(
            bytes(cast(bytes, row["digest"])), api_key_digest(key)):
        raise _unauthorised(connection, "API 密钥无效或已吊销 (the API key is unknown or revoked; ask for a new one)")
    stations = cast(list[str] | None, row["stations"])
    return Principal(f"apikey:{prefix}", None, frozenset({"partner"}), frozenset(cast(list[str], row["permissions"])),
                     None if stations is None else frozenset(stations), source)


async def principal(connection: HTTPConnection) -> Principal:
    """The caller, from its token or API key; 401 without a valid one."""
    source = connection.client.host if connection.client else ""
    key = connection.headers.get("x-api-key")
    if key:
        return await _api_key_principal(connection, key, source)
    token = _token(connection)
    if token is None:
        raise _unauthorised(connection, "请先登录 (log in first: send Authorization: Bearer <access token>)")
    issuer = cast(TokenIssuer, connection.app.state.tokens)
    try:
        who = issuer.read(token, source)
    except jwt.ExpiredSignatureError:
        raise _unauthorised(connection, "登录已过期，请重新登录 (the access token has expired; log in again)") from None
    except jwt.InvalidTokenError:
        raise _unauthorised(connection, "登录凭证无效，请重新登录 (the access token is not valid; log in again)"
                            ) from None
    if who.user_id is not None:
        await _check_not_revoked(connection, who)
    return who


async def _check_not_revoked(connection: HTTPConnection, who: Principal) -> None:
    """A password change or reset, a change of roles or stations, or disabling the user ends its tokens at once."""
    async with connection.app.state.database.connection() as conn:
        current = await repository.token_state(conn, cast(int, who.user_id))
    if current is None or current[1] or current[0] != who.token_version:
        raise _unauthorised(connection, "账号的密码、角色或状态已变更，请重新登录 "
                                        "(the account's password, roles or status changed; log in again)")


LOGGED_IN = ""   # the "permission" of routes open to every logged-in caller (their own profile)


def require(permission: str, *alternatives: str) -> Callable[[HTTPConnection], Awaitable[Principal]]:
    """A dependency: the caller, if it holds ``permission`` (or one of ``alternatives``: a route the back office
    and a station server's key both call, e.g. ``require("member:write", "member:register")``); 401 without a
    login, 403 without the permission. ``require(LOGGED_IN)``: any logged-in caller."""
    accepted = (permission, *alternatives)
    named = " 或 ".join(accepted)

    async def dependency(connection: HTTPConnection) -> Principal:
        who = await principal(connection)
        if permission != LOGGED_IN and not any(who.may(p) for p in accepted):
            raise _forbidden(connection, f"没有权限：{named} (you lack the permission {named}; "
                                         "ask an administrator)")
        return who
    dependency.permission = "|".join(accepted)  # type: ignore[attr-defined]   # read by the role-matrix test
    return dependency


def at_station(permission: str) -> Callable[[HTTPConnection], Awaitable[Principal]]:
    """A dependency for routes under ``/stations/{station}``: the path's station code checked (as ``Station``
    does), ``require(permission)`` and the station in the caller's scope, all before the body is read (403,
    never a 422 first). One dependency of the connection alone, not one of three others: FastAPI solves each
    sub-dependency at every request (about 0.13 ms of a payment's CPU on the shared 2-core machine)."""
    gate = require(permission)

    async def checked(connection: HTTPConnection) -> Principal:
        station = checked_station(connection)
        who = await gate(connection)
        who.check_station(station)
        return who
    checked.permission = permission  # type: ignore[attr-defined]   # read by the role-matrix test
    return checked


def permission_of(dependency: Any) -> str | None:
    """The permission a ``require(...)`` dependency checks (``LOGGED_IN`` for any caller; None: not require)."""
    return getattr(dependency, "permission", None)
