"""The member programme's tables at head office (docs/members.md): the level table (thresholds on growth, the
benefits: fuel discount, points multiplier, birthday privilege) and the tag definitions (manual, or by a rule the
nightly job applies). Reads ``member:read``, changes ``member:write``. Head office only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from business_services.members import views
from business_services.members.model import Level, MemberError, MemberNotFound, SaveLevel, SaveTag, TagRule
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, RowId
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.members import Reader, Writer, head_office, jsonable, refused
from control_api.security import Principal
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN

router = APIRouter(prefix="/api/v1", tags=["members"], dependencies=[Depends(head_office)])
LevelCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="等级代码 (level code)")]


class LevelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = ""   # the path's, when editing
    name: Annotated[str, Field(min_length=1, max_length=32, pattern=PLAIN)]
    rank: Annotated[int, Field(ge=0, le=100)]
    growth_min: Annotated[int, Field(ge=0, le=10**9)]
    discount_pct: Annotated[int, Field(ge=0, le=30, description="油品折扣 %，0–30")] = 0
    points_multiplier: Annotated[float, Field(ge=1, le=10)] = 1.0
    birthday_privilege: Annotated[str, Field(max_length=100, pattern=PLAIN)] = ""


class TagBody(BaseModel):
    """A tag: manual without ``rule_kind``; a rule tag with ``rule_kind``, ``days`` and ``at_least`` (flat, as the
    tag page's form sends them)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=32, pattern=PLAIN)]
    description: Annotated[str, Field(max_length=100, pattern=PLAIN)] = ""
    rule_kind: Literal["orders_in_days", "spent_in_days"] | None = None
    days: Annotated[int | None, Field(ge=1, le=366)] = None
    at_least: Annotated[int | None, Field(ge=1, le=10**9)] = None


class Row(BaseModel):
    """A level or tag row as the list pages show it."""

    model_config = ConfigDict(extra="allow")



# --- the level table ---------------------------------------------------------------------------------------------

@router.get("/member-levels")
async def list_levels(who: Reader, db: Db) -> dict[str, Any]:
    async with db.connection() as conn:
        rows = await views.levels(conn)
    return {"items": rows, "next_cursor": None, "total": len(rows)}


async def _save_level(body: LevelBody, code: str, create: bool, request: Request, db: Db, who: Principal) -> Row:
    level = Level(code, body.name.strip(), body.rank, body.growth_min, body.discount_pct, body.points_multiplier,
                  body.birthday_privilege.strip())
    async with db.connection() as conn:
        async with UnitOfWork(conn, who.actor) as uow:
            await request.app.state.bus.handle(SaveLevel(level, create), uow)
        rows = [r for r in await views.levels(conn) if r["code"] == code]
    return Row.model_validate(rows[0])


@router.post("/member-levels")
async def create_level(body: LevelBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    if not body.code:
        return refused(MemberError("code", "请填写等级代码，如 diamond (code is required)"))
    try:
        return await once(request, db, who, key, lambda: _save_level(body, body.code, True, request, db, who))
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)


@router.patch("/member-levels/{level}")
async def change_level(level: LevelCode, body: LevelBody, request: Request, db: Db, who: Writer) -> Any:
    try:
        return (await _save_level(body, level, False, request, db, who)).model_dump(mode="json")
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)


# --- tag definitions ---------------------------------------------------------------------------------------------

@router.get("/member-tags")
async def list_tags(who: Reader, db: Db) -> dict[str, Any]:
    async with db.connection() as conn:
        rows = await views.tags(conn)
    items = [r | {"rule_kind": (r["rule"] or {}).get("kind"), "days": (r["rule"] or {}).get("days"),
                  "at_least": (r["rule"] or {}).get("at_least")} for r in rows]
    return {"items": json.loads(json.dumps(items, default=jsonable)), "next_cursor": None, "total": len(items)}


async def _save_tag(tag_id: int | None, body: TagBody, request: Request, db: Db, who: Principal) -> Row:
    rule = None if body.rule_kind is None else TagRule.parse({"kind": body.rule_kind, "days": body.days,
                                                              "at_least": body.at_least})
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        row = await request.app.state.bus.handle(SaveTag(tag_id, body.name.strip(), rule, body.description.strip()),
                                                 uow)
    return Row.model_validate(row)


@router.post("/member-tags")
async def create_tag(body: TagBody, request: Request, db: Db, who: Writer, key: IdempotencyKey) -> Any:
    try:
        return await once(request, db, who, key, lambda: _save_tag(None, body, request, db, who))
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)


@router.patch("/member-tags/{tag_id}")
async def change_tag(tag_id: RowId, body: TagBody, request: Request, db: Db, who: Writer) -> Any:
    try:
        return (await _save_tag(tag_id, body, request, db, who)).model_dump(mode="json")
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
