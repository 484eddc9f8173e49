"""Access tokens for tests of routes: a caller with the given permissions and stations, signed by the app."""

from __future__ import annotations

from fastapi import FastAPI

from control_api.security import Principal, TokenIssuer


def bearer(app: FastAPI, *permissions: str, stations: frozenset[str] | None = None, username: str = "tester",
           roles: frozenset[str] = frozenset()) -> dict[str, str]:
    issuer: TokenIssuer = app.state.tokens
    who = Principal(username, None, roles, frozenset(permissions), stations)
    return {"Authorization": f"Bearer {issuer.issue(who)}"}
