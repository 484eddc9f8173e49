"""Pure rules of the station's prices: which report of a nozzle is the newest, and a set's state from its nozzles.

A nozzle's reports for one version can arrive twice or out of order (the edge's outbox replays after an outage,
the broker redelivers): the newest is the one with the higher ``attempt``, then the later ``at``; on a tie the
state that ends a try (applied, refused) wins over ``pending``. A set is ``in_force`` when every nozzle in it
reported ``applied``, ``partly_applied`` when any refused, else ``applying``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

SetState = Literal["in_force", "applying", "partly_applied"]
_FINAL = {"applied": 1, "refused": 1, "pending": 0}


def report_order(attempt: int, at: datetime, state: str) -> tuple[int, datetime, int]:
    """A key that grows with newer reports of one nozzle and version."""
    return attempt, at, _FINAL.get(state, 0)


def set_state(nozzle_states: Iterable[str | None]) -> SetState:
    """The state of a set from its nozzles' newest states (None: no report yet)."""
    states = list(nozzle_states)
    if states and all(s == "applied" for s in states):
        return "in_force"
    if any(s == "refused" for s in states):
        return "partly_applied"
    return "applying"



NozzleKey = tuple[str, int, int]


def _key(n: dict[str, Any]) -> NozzleKey:
    return str(n["device"]), int(n["fuelling_point"]), int(n["nozzle"])


def prices_view(station: str, sets: list[dict[str, Any]], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /api/v1/stations/{station}/prices`` from the sets held (any order) and the nozzles' newest reports.

    ``version_in_force``: the newest set every nozzle of which applied; its grades (``since``: when its last
    nozzle applied). ``latest``: the newest set and its state. ``nozzles``: each nozzle of the newest set with its
    newest report (``pending`` until one comes) and ``old_price_fen``, the price its pump showed under the newest
    older set it applied (what it still shows while the new price is pending or refused).
    """
    by_version: dict[int, dict[NozzleKey, dict[str, Any]]] = {}
    for r in reports:
        by_version.setdefault(int(r["version"]), {})[_key(r)] = r
    ordered = sorted(sets, key=lambda s: int(s["version"]), reverse=True)
    in_force: dict[str, Any] | None = None
    since: datetime | None = None
    states: dict[int, SetState] = {}
    for s in ordered:
        mine = by_version.get(s["version"], {})
        keys = [_key(n) for n in s["nozzles"]]
        states[s["version"]] = set_state(mine[k]["state"] if k in mine else None for k in keys)
        if in_force is None and states[s["version"]] == "in_force":
            in_force, since = s, max((mine[k]["at"] for k in keys), default=None)
    latest = ordered[0] if ordered else None
    nozzles = [] if latest is None else [_nozzle(n, latest["version"], ordered, by_version) for n in latest["nozzles"]]
    grades = []
    if in_force is not None:
        units: dict[str, str] = in_force.get("units") or {}
        grades = [{"grade": g, "unit": units.get(g, "L"), "price_fen": p, "since": since}
                  for g, p in sorted(in_force["grades"].items())]
    return {"station": station, "version_in_force": None if in_force is None else in_force["version"],
            "grades": grades,
            "latest": None if latest is None else {
                "version": latest["version"], "state": states[latest["version"]],
                "effective_at": latest["effective_at"], "change_no": latest["change_no"]},
            "nozzles": nozzles}


def _nozzle(n: dict[str, Any], version: int, ordered: list[dict[str, Any]],
            by_version: dict[int, dict[NozzleKey, dict[str, Any]]]) -> dict[str, Any]:
    k = _key(n)
    r = by_version.get(version, {}).get(k)
    older = (by_version.get(s["version"], {}).get(k) for s in ordered if s["version"] < version)
    old = next((o["price_fen"] for o in older if o is not None and o["state"] == "applied"), None)
    return {"device": k[0], "fuelling_point": k[1], "nozzle": k[2], "grade": n["grade"], "price_fen": n["price_fen"],
            "version": version, "state": r["state"] if r else "pending", "detail": r["detail"] if r else "",
            "at": r["at"] if r else None, "old_price_fen": old}
