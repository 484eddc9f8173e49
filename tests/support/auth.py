"""Access tokens for tests of routes: a caller with the given permissions and stations, signed by the app
(``bearer``) or by ``TEST_TOKENS``, the issuer tests hand to ``api_service`` / ``create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from business_services.access.model import PERMISSIONS
from control_api.security import Principal, TokenIssuer

#: tokens some test modules make at import must still be valid when their tests run, up to the whole suite
#: later (production tokens live 15 minutes: ``TokenIssuer.ttl_s``)
TEST_TOKENS = TokenIssuer("forecourt-tests-only-" + "0" * 32, ttl_s=4 * 3600)
EVERYTHING = tuple(PERMISSIONS)


def headers(issuer: TokenIssuer, *permissions: str, stations: frozenset[str] | None = None,
            username: str = "tester", roles: frozenset[str] = frozenset()) -> dict[str, str]:
    who = Principal(username, None, roles, frozenset(permissions), stations)
    return {"Authorization": f"Bearer {issuer.issue(who)}"}


def bearer(app: FastAPI, *permissions: str, stations: frozenset[str] | None = None, username: str = "tester",
           roles: frozenset[str] = frozenset()) -> dict[str, str]:
    return headers(app.state.tokens, *permissions, stations=stations, username=username, roles=roles)


def admin_headers(*permissions: str) -> dict[str, str]:
    """Headers of a caller holding ``permissions`` (every permission when none are named), every station."""
    return headers(TEST_TOKENS, *(permissions or EVERYTHING))


def customer_headers(member_no: str = "M00000001", issuer: TokenIssuer = TEST_TOKENS) -> dict[str, str]:
    """Headers of a customer of the H5 logged in as ``member_no`` (docs/h5.md): not a staff token."""
    from control_api.customer_security import issue_session

    return {"Authorization": f"Bearer {issue_session(issuer, member_no)}"}
