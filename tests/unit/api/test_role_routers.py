"""Routes one role mounts for itself (``control_api/app.py::ROLE_ROUTERS``) are protected like every other route
(the role matrix walks the shared ``ROUTERS`` only; the station prices route's 401/403 answers are in
tests/integration/business/test_station_prices.py)."""

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from control_api.app import ROLE_ROUTERS
from control_api.security import permission_of
from forecourt.roles import Role


def _permissions(route: APIRoute) -> set[str]:
    todo, found = list(route.dependant.dependencies), set()
    while todo:
        dependant = todo.pop()
        if (permission := permission_of(dependant.call)) is not None:
            found.add(permission)
        todo.extend(dependant.dependencies)
    return found


def test_every_role_route_names_one_permission() -> None:
    routes = [route for routers in ROLE_ROUTERS.values() for router in routers for route in router.routes]
    assert ROLE_ROUTERS[Role.STATION] and routes
    for route in routes:
        assert isinstance(route, APIRoute) and len(_permissions(route)) == 1, route


def test_a_role_route_answers_before_a_shared_route_of_the_same_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from control_api import app as app_module

    shared = APIRouter()

    @shared.get("/api/v1/stations/{station}/prices")
    async def head_offices_answer(station: str) -> dict[str, str]:
        return {"from": "shared"}

    monkeypatch.setattr(app_module, "ROUTERS", (shared,))
    url = "/api/v1/stations/st-01/prices"
    station = TestClient(app_module.create_app("postgresql://unused/none", role=Role.STATION))
    assert station.get(url).status_code == 401                       # the station's own route: a login first
    head_office = TestClient(app_module.create_app("postgresql://unused/none", role=Role.HEAD_OFFICE))
    assert head_office.get(url).json() == {"from": "shared"}


def test_no_other_route_answers_a_path_of_the_routers_mounted_first() -> None:
    """``FIRST`` is mounted before the role routers: it must not take a path one of them (or a shared router)
    answers. Every route of ``FIRST`` is called with a concrete path; no other route's pattern may match it."""
    from control_api.app import FIRST, ROUTERS

    first = [route for router in FIRST for route in router.routes if isinstance(route, APIRoute)]
    routers = [*ROUTERS, *(router for routers in ROLE_ROUTERS.values() for router in routers)]
    others = [route for router in routers if all(router is not f for f in FIRST)
              for route in router.routes if isinstance(route, APIRoute)]
    assert first and others
    for route in first:
        path = route.path.format(**{name: "demo-01-20261204-P00001" for name in route.param_convertors})
        assert route.path_regex.match(path), path
        clashes = [other.path for other in others if other.path_regex.match(path) and other.methods & route.methods]
        assert clashes == [], (route.path, clashes)
