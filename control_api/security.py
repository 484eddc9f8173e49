"""Who is asking, and may they: the one place where the API checks access.

Every route declares the permission it needs beside itself, and every route that names a station checks
that the caller's scope includes it::

    @router.get("")
    async def recent(station: Station, who: Annotated[Principal, Depends(require("fuelling:read"))]) -> ...:
        who.check_station(station)

A request proves who it is with a short-lived access token (``Authorization: Bearer …``; a WebSocket may
pass it as the ``access_token`` query parameter, since browsers cannot set headers on one). No or a bad
token: 401 with ``WWW-Authenticate: Bearer``. A missing permission or a station outside the caller's
scope: 403. The token carries the caller's roles, permissions and stations as they were at login, so a
request needs no database read; it lives ``ttl_s`` (15 minutes by default).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import jwt
from fastapi import HTTPException, status
from starlette.requests import HTTPConnection

from business_services.audit.model import Actor

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: a user (or a partner's API key) with its roles, permissions and stations."""

    username: str
    user_id: int | None
    roles: frozenset[str]
    permissions: frozenset[str]
    stations: frozenset[str] | None      # None: every station (head-office roles)
    source: str = ""                     # the client's address, for the audit chain

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def sees(self, station: str) -> bool:
        return self.stations is None or station in self.stations

    def check_station(self, station: str) -> None:
        """403 unless ``station`` is in this caller's scope."""
        if not self.sees(station):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"无权访问站点 {station} (station {station} is outside "
                                                           "your scope; ask an administrator)")

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
                  "iat": issued, "exp": issued + self.ttl_s}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def read(self, token: str, source: str = "") -> Principal:
        """The principal of a valid token; ``jwt.InvalidTokenError`` for a forged, broken or expired one."""
        claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
        stations = claims.get("stations")
        return Principal(str(claims["sub"]), claims.get("uid"), frozenset(claims.get("roles", ())),
                         frozenset(claims.get("perms", ())), None if stations is None else frozenset(stations),
                         source)


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if connection.scope["type"] == "websocket":
        return connection.query_params.get("access_token")
    return None


def principal(connection: HTTPConnection) -> Principal:
    """The caller, from its token; 401 without a valid one."""
    token = _token(connection)
    if token is None:
        raise _unauthorised("请先登录 (log in first: send Authorization: Bearer <access token>)")
    issuer = cast(TokenIssuer, connection.app.state.tokens)
    source = connection.client.host if connection.client else ""
    try:
        return issuer.read(token, source)
    except jwt.ExpiredSignatureError:
        raise _unauthorised("登录已过期，请重新登录 (the access token has expired; log in again)") from None
    except jwt.InvalidTokenError:
        raise _unauthorised("登录凭证无效，请重新登录 (the access token is not valid; log in again)") from None


def require(permission: str) -> Callable[[HTTPConnection], Principal]:
    """A dependency: the caller, if it holds ``permission``; 401 without a login, 403 without the permission."""
    def dependency(connection: HTTPConnection) -> Principal:
        who = principal(connection)
        if not who.may(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"没有权限：{permission} (you lack the permission {permission}; ask an administrator)")
        return who
    dependency.permission = permission  # type: ignore[attr-defined]   # read by the role-matrix test
    return dependency


def permission_of(dependency: Any) -> str | None:
    """The permission a ``require(...)`` dependency checks (None for any other callable)."""
    return getattr(dependency, "permission", None)
