"""Members at head office (docs/members.md): register (also from WeChat), look up (phone, card, QR, plate), the
member 360°, profile edits and manual tags. The level table and tag definitions are in ``member_levels.py``, the
PIPL requests (export, erasure) in ``member_privacy.py``; both share this module's refusals and permissions.

Permissions: reads ``member:read`` (the lookup also ``member:register``: a station server's key and the POS),
registration ``member:write`` or ``member:register``, changes ``member:write``, export and erasure
``member:privacy``. Every answer shows phones, names and plates through ``members.model.shown`` with the caller's
``Disclosure`` (unmasked with ``pii:read`` only). Stations: members belong to the company, so the lookup and the
360° find any member; a station-scoped caller's member list holds the members registered at its stations, it
registers at its stations only, and the 360°'s orders are those of its stations. Every POST takes an
``Idempotency-Key``. Head office only: a station server answers 404 (it keeps its own member list).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from business_services.members import sections, views
from business_services.members.model import (
    Disclosure,
    EditProfile,
    Gender,
    Level,
    Lifecycle,
    MemberConflict,
    MemberError,
    MemberNotFound,
    RegisterFromWeChat,
    RegisterMember,
    Source,
    TagMember,
    WeChatUnavailable,
    birthday,
    id_number,
    level_for,
    name,
    phone,
    plate,
    shown,
)
from business_services.members.repository import year_growth
from business_services.members.wechat import MiniProgram
from business_services.station_orders import views as station_orders
from business_services.stations import views as stations
from business_services.unit_of_work import UnitOfWork
from business_services.vehicles import views as vehicles
from business_services.vehicles.model import BindVehicle
from control_api.deps import Db, RowId, head_office_only
from control_api.errors import KINDS, MEDIA_TYPE, PROBLEM_BASE, problem
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.identifiers import Code

head_office = head_office_only("会员由总部管理，站点服务器没有此接口 (members are kept at head office)")


router = APIRouter(prefix="/api/v1", tags=["members"], dependencies=[Depends(head_office)])
Reader = Annotated[Principal, Depends(require("member:read"))]
Looker = Annotated[Principal, Depends(require("member:read", "member:register"))]
Registrar = Annotated[Principal, Depends(require("member:write", "member:register"))]
Writer = Annotated[Principal, Depends(require("member:write"))]
MemberNoPath = Annotated[str, Path(pattern=r"^M[0-9]{8,12}$", description="会员号 (member number), e.g. M00000001")]


# --- bodies and answers ----------------------------------------------------------------------------------------

class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str, Field(max_length=20, description="手机号 (required, unique in the company)")]
    name: Annotated[str | None, Field(max_length=32)] = None
    gender: Gender = Gender.UNKNOWN
    birthday: date | None = None
    plate: Annotated[str | None, Field(max_length=12, description="车牌，登记时一并绑定")] = None
    source: Source
    station: Code | None = None
    id_number: Annotated[str | None, Field(max_length=18, description="身份证号 (checked, kept masked only)")] = None


WeChatCode = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class WeChatRegistration(BaseModel):
    """What the mini program got from WeChat: ``wx.login``'s code and the phone button's (getPhoneNumber) code."""

    model_config = ConfigDict(extra="forbid")

    login_code: Annotated[WeChatCode, Field(description="wx.login 的 code (valid 5 minutes, once)")]
    phone_code: Annotated[WeChatCode, Field(description="手机号快速验证组件的 code (getPhoneNumber)")]
    station: Code | None = None


class WeChatMember(BaseModel):
    member_no: str
    created: bool            # false: the WeChat user or the phone was a member already (now bound to the WeChat)
    phone: str | None
    level: str
    level_name: str | None


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str | None, Field(max_length=20)] = None
    name: Annotated[str | None, Field(max_length=32)] = None
    gender: Gender | None = None
    birthday: date | None = None
    id_number: Annotated[str | None, Field(max_length=18)] = None


class MemberPublic(BaseModel):
    member_no: str
    phone: str | None
    name: str | None
    gender: str
    birthday: date | None
    source: str
    station: str | None
    id_number_masked: str | None = None
    real_name: str
    wechat_openid: str | None = None      # masked unless pii:read
    level: str
    level_name: str | None = None
    growth: int
    lifecycle: str
    status: str
    registered_at: datetime
    plates: list[str] = []
    tags: list[str] = []


class MemberPage(BaseModel):
    items: list[MemberPublic]
    next_cursor: str | None
    total: int


class TagGiven(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag_id: Annotated[int, Field(ge=1, lt=2**63)]


class Changed(BaseModel):
    changed: bool


# --- refusals ---------------------------------------------------------------------------------------------------

def refused(exc: MemberError | MemberNotFound) -> JSONResponse:
    """422 for a broken rule, 409 for a clash (with the member it clashes with), 404 for nothing there."""
    if isinstance(exc, MemberNotFound):
        code, detail, errors = 404, f"没有 {exc.args[0]} (not found: {exc.args[0]})", None
    else:
        code = 409 if isinstance(exc, MemberConflict) else 422
        detail, errors = exc.message, [{"field": exc.field, "message": exc.message}]
    slug, title = KINDS[code]
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": code, "detail": detail}
    if errors:
        body["errors"] = errors
    if isinstance(exc, MemberConflict) and exc.member_no:
        body["member_no"] = exc.member_no
    return JSONResponse(body, status_code=code, media_type=MEDIA_TYPE)


def unavailable(exc: WeChatUnavailable) -> JSONResponse:
    """503: WeChat did not answer, or the mini program's keys are missing or wrong; nothing was written."""
    return problem(503, exc.message, slug="wechat-unavailable", headers={"Retry-After": "5"})


def _station_refused(station: str | None, who: Principal) -> MemberError | None:
    """A station-scoped caller registers at its own stations (403 otherwise) and must name one."""
    if station is not None:
        who.check_station(station)
    elif who.stations is not None:
        return MemberError("station", "请选择登记站点 (station: a station-scoped user names the station)")
    return None


async def _company(conn: Any, request: Request, station: str | None) -> str:
    """The company a member registers with: the station's when its master data is here, else this API's group."""
    detail = None if station is None else await stations.station_detail(conn, station)
    return str(request.app.state.group) if detail is None else str(detail["company_group"])


def _disclosure(who: Principal) -> Disclosure:
    return Disclosure.of(who.permissions)


async def _public(conn: Any, member_no: str, who: Principal) -> MemberPublic:
    found = await views.profile(conn, member_no)
    if found is None:
        raise MemberNotFound(member_no)
    row = found | {"plates": list(await vehicles.plates_of(conn, member_no)),
                   "tags": [t["name"] for t in await views.tags_of(conn, member_no)]}
    return MemberPublic.model_validate(shown(row, _disclosure(who)))


# --- members ----------------------------------------------------------------------------------------------------

@router.get("/members", response_model=MemberPage)
async def list_members(who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 20,
                       q: Annotated[str, Query(max_length=32, description="会员号、姓名或手机号后 4 位以上")] = "",
                       phone_: Annotated[str, Query(alias="phone", max_length=16, pattern=r"^[0-9]*$")] = "",
                       name_: Annotated[str, Query(alias="name", max_length=32)] = "",
                       plate_: Annotated[str, Query(alias="plate", max_length=10)] = "",
                       level: Annotated[str, Query(max_length=32)] = "",
                       tag: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
                       lifecycle: Lifecycle | None = None) -> dict[str, Any]:
    """Newest first; erased members are not listed."""
    f = views.MemberFilter(q=q, phone=phone_, name=name_, plate=plate_, level=level, tag=tag, lifecycle=lifecycle)
    async with db.connection() as conn:
        rows, total, last = await views.page(conn, f, who.stations, after(cursor, views.NEWEST_FIRST), limit)
    disclosure = _disclosure(who)
    return page([MemberPublic.model_validate(shown(r, disclosure)) for r in rows], total, views.NEWEST_FIRST, last)


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberPublic)
async def register(body: MemberCreate, request: Request, db: Db, who: Registrar, key: IdempotencyKey) -> Response:
    """A new member (201). A phone already registered: 409 with that member's ``member_no``, so the POS can go on
    with it. With ``plate`` the vehicle is bound in the same transaction."""
    station_refused = _station_refused(body.station, who)
    if station_refused is not None:
        return refused(station_refused)
    try:
        checked_plate = plate(body.plate) if body.plate else None
        command = RegisterMember(
            group=request.app.state.group, phone=phone(body.phone), source=body.source, name=name(body.name),
            gender=body.gender, birthday=birthday(body.birthday), station=body.station,
            id_number=id_number(body.id_number) if body.id_number else None, plate=checked_plate)
    except MemberError as exc:
        return refused(exc)
    if command.birthday is None and command.id_number is not None:
        command = RegisterMember(**{**_fields(command), "birthday": command.id_number.birthday})

    async def work() -> MemberPublic:
        async with db.connection() as conn:
            group = await _company(conn, request, body.station)
            async with UnitOfWork(conn, who.actor) as uow:
                row = await request.app.state.bus.handle(RegisterMember(**{**_fields(command), "group": group}), uow)
                if checked_plate:
                    await request.app.state.bus.handle(BindVehicle(row["member_no"], checked_plate), uow)
                return await _public(conn, row["member_no"], who)
    try:
        answer = await once(request, db, who, key, work)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    if answer.status_code == 200:
        answer.status_code = status.HTTP_201_CREATED
    return answer


def _fields(command: RegisterMember) -> dict[str, Any]:
    return {f: getattr(command, f) for f in RegisterMember.__dataclass_fields__}


@router.post("/members/wechat", response_model=WeChatMember, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "已是会员 (the member the WeChat user or the phone already is)"}})
async def register_from_wechat(body: WeChatRegistration, request: Request, db: Db, who: Registrar,
                               key: IdempotencyKey) -> Response:
    """WeChat quick registration (微信快捷注册): the mini program's two codes are exchanged at WeChat for the openid and
    the verified phone; a new member (201, ``source: wechat``), or the member the openid or the phone already is
    (200, ``created: false``), the openid bound to it. WeChat's refusals: 422/409 saying to authorise again; WeChat
    away or the mini program not set up: 503. A retry with the same ``Idempotency-Key`` gets the first answer
    without asking WeChat (its codes work once)."""
    station_refused = _station_refused(body.station, who)
    if station_refused is not None:
        return refused(station_refused)
    mini: MiniProgram | None = getattr(request.app.state, "wechat_mini", None)

    async def work() -> WeChatMember:
        if mini is None:
            raise WeChatUnavailable("未开通微信小程序注册：请设置 FORECOURT_WECHAT_MINI_APPID 和 "
                                    "FORECOURT_WECHAT_MINI_SECRET (the mini program is not configured)")
        person = await mini.identify(body.login_code, body.phone_code)     # WeChat first, no transaction open
        async with db.connection() as conn:
            group = await _company(conn, request, body.station)
            async with UnitOfWork(conn, who.actor) as uow:
                member_no, created = await request.app.state.bus.handle(
                    RegisterFromWeChat(group, person.openid, person.unionid, person.phone, body.station), uow)
            found = await views.profile(conn, member_no)
        shown_row = shown(found or {}, _disclosure(who))
        return WeChatMember(member_no=member_no, created=created, phone=shown_row.get("phone"),
                            level=shown_row.get("level", ""), level_name=shown_row.get("level_name"))
    try:
        answer = await once(request, db, who, key, work)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    except WeChatUnavailable as exc:
        return unavailable(exc)
    if answer.status_code == 200 and json.loads(bytes(answer.body))["created"]:
        answer.status_code = status.HTTP_201_CREATED
    return answer


@router.get("/members/lookup")
async def lookup(who: Looker, request: Request, db: Db,
                 phone_: Annotated[str, Query(alias="phone", max_length=20)] = "",
                 card_no: Annotated[str, Query(max_length=19, pattern=r"^[0-9]*$")] = "",
                 qr: Annotated[str, Query(max_length=64)] = "",
                 plate_: Annotated[str, Query(alias="plate", max_length=12)] = "",
                 member_no: Annotated[str, Query(pattern=r"^(M[0-9]{8,12})?$")] = "",
                 openid: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$",
                                              description="微信小程序 openid")] = "") -> Any:
    """One member by exactly one of phone, card number, QR token, plate, member number (the POS checks the
    points of the member on an order by it) or WeChat openid (the mini program): the POS's summary, or 404."""
    given = [k for k, v in (("phone", phone_), ("card_no", card_no), ("qr", qr), ("plate", plate_),
                            ("member_no", member_no), ("openid", openid)) if v]
    if len(given) != 1:
        return refused(MemberError("phone", "请只提供手机号、卡号、二维码、车牌、会员号或微信 openid 中的一项 "
                                            "(give exactly one of phone, card_no, qr, plate, member_no, openid)"))
    try:
        wanted = {"phone": phone(phone_) if phone_ else "", "qr": qr, "plate": plate(plate_) if plate_ else "",
                  "openid": openid}
    except MemberError as exc:
        return refused(exc)
    async with db.connection() as conn:
        if card_no:
            number = await sections.member_of_card(conn, card_no)
        elif member_no:
            number = member_no
        else:
            number = await views.find(conn, request.app.state.group, **wanted)
        found = None if number is None else await views.summary(conn, number)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "未找到会员 (no member matches)")
    disclosure = _disclosure(who)
    return shown(found, disclosure) | {"cards": [shown(c, disclosure) for c in found["cards"]]}


@router.get("/members/{member_no}")
async def member_360(member_no: MemberNoPath, who: Reader, db: Db) -> Any:
    """The member 360°: profile, vehicles, tags, level and its benefits, growth, lifecycle (RFM), points and
    orders (of the caller's stations)."""
    disclosure = _disclosure(who)
    async with db.connection() as conn:
        found = await views.profile(conn, member_no)
        if found is None:
            return refused(MemberNotFound(member_no))
        levels = await views.levels(conn)
        year = await year_growth(conn, member_no, datetime.now(UTC))
        answer = {
            "profile": (await _public(conn, member_no, who)).model_dump(mode="json")
            | {"qr_token": found["qr_token"] if disclosure.pii else None},
            "vehicles": [shown(v, disclosure) for v in await vehicles.vehicles_of(conn, member_no)],
            "tags": await views.tags_of(conn, member_no),
            "level": {"code": found["level"], "name": found["level_name"], "discount_pct": found["discount_pct"],
                      "points_multiplier": found["points_multiplier"],
                      "birthday_privilege": found["birthday_privilege"], "next": _next_level(levels, found["level"])},
            "growth": {"total": found["growth"], "last_365_days": year,
                       "earned_level": level_for([Level(**{k: lv[k] for k in Level.__dataclass_fields__})
                                                   for lv in levels], year).code,
                       "history": await views.growth_history(conn, member_no),
                       "level_changes": await views.level_changes(conn, member_no)},
            "lifecycle": {"stage": found["lifecycle"], "recency_days": found["recency_days"],
                          "frequency_90d": found["frequency_90d"], "monetary_90d_fen": found["monetary_90d_fen"]},
            "points": await sections.points(conn, member_no, datetime.now(UTC)),
            "orders": await station_orders.of_member(conn, member_no, who.stations),
            "cards": [shown(c, disclosure) for c in await sections.cards(conn, member_no)],
        }
    return JSONResponse(json.loads(json.dumps(answer, default=jsonable)))


def _next_level(levels: list[dict[str, Any]], current: str) -> dict[str, Any] | None:
    ranks = [lv for lv in levels if lv["code"] == current]
    higher = [lv for lv in levels if ranks and lv["rank"] > ranks[0]["rank"]]
    return None if not higher else {"code": higher[0]["code"], "name": higher[0]["name"],
                                    "growth_min": higher[0]["growth_min"]}


def jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@router.patch("/members/{member_no}", response_model=MemberPublic)
async def edit(member_no: MemberNoPath, body: MemberUpdate, request: Request, db: Db, who: Writer) -> Any:
    """Change the profile (only the fields sent); the same values again change nothing."""
    sent = body.model_dump(exclude_unset=True)
    try:
        changes: dict[str, Any] = {}
        if sent.get("phone") is not None:
            changes["phone"] = phone(sent["phone"])
        if "name" in sent:
            changes["name"] = name(sent["name"])
        if sent.get("gender") is not None:
            changes["gender"] = Gender(sent["gender"]).value
        if "birthday" in sent:
            changes["birthday"] = birthday(sent["birthday"])
        if sent.get("id_number"):
            checked = id_number(sent["id_number"])
            changes |= {"id_number_masked": checked.masked, "real_name": "checked"}
        async with db.connection() as conn:
            async with UnitOfWork(conn, who.actor) as uow:
                await request.app.state.bus.handle(EditProfile(member_no, changes), uow)
            return await _public(conn, member_no, who)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)


@router.post("/members/{member_no}/tags", response_model=Changed)
async def give_tag(member_no: MemberNoPath, body: TagGiven, request: Request, db: Db, who: Writer,
                   key: IdempotencyKey) -> Any:
    return await _tag(member_no, body.tag_id, True, request, db, who, key)


@router.delete("/members/{member_no}/tags/{tag_id}", response_model=Changed)
async def take_tag(member_no: MemberNoPath, tag_id: RowId, request: Request, db: Db, who: Writer) -> Any:
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            changed = await request.app.state.bus.handle(TagMember(member_no, tag_id, False), uow)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
    return Changed(changed=changed)


async def _tag(member_no: str, tag_id: int, on: bool, request: Request, db: Db, who: Principal, key: str) -> Any:
    async def work() -> Changed:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return Changed(changed=await request.app.state.bus.handle(TagMember(member_no, tag_id, on), uow))
    try:
        return await once(request, db, who, key, work)
    except (MemberError, MemberNotFound) as exc:
        return refused(exc)
