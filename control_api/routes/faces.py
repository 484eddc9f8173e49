"""The face gallery at head office (docs/vision.md "Faces"): enrol a member's face from an uploaded photo with
their recorded consent (the embedding is kept, not the photo, unless FORECOURT_FACES_KEEP_PHOTOS=true), list a
person's enrolments (consent records, never face data), delete everything of a person, and identify the face in
a terminal's photo (detect, liveness, embed, 1:N search). The back office's 人脸库 also lists every enrolment
(paged, filtered by person or consent method) and reads the consent texts a person may agree to.

The models and the embedder are the FORECOURT_VISION_* settings (vision/models.py). ``face:read`` lists,
``face:enrol`` enrols and deletes, ``face:identify`` identifies. Every access is in the audit chain; the
consenting person's name is masked without ``pii:read``. Nothing here logs face data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile, status
from pydantic import BaseModel

from business_services.audit.model import AuditEntry
from business_services.faces import views
from business_services.faces.consent import CONSENT_TEXTS
from business_services.faces.gallery import Gallery
from business_services.faces.model import (
    CONSENT_METHODS,
    Consent,
    DeleteFaces,
    EnrolFace,
    FaceRefused,
    RecordIdentification,
    check_person,
)
from business_services.members.model import mask_name
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from forecourt.settings import Settings
from vision.faces.pipeline import FaceError, FacePipeline, FaceSettings
from vision.models import ModelError, store_from_settings

router = APIRouter(prefix="/api/v1/faces", tags=["faces"])

Reader = Annotated[Principal, Depends(require("face:read"))]
Enroller = Annotated[Principal, Depends(require("face:enrol"))]
Identifier = Annotated[Principal, Depends(require("face:identify"))]
MAX_PHOTO_BYTES = 8 * 1024 * 1024


def gallery(request: Request) -> Gallery:
    """The API process's gallery, made at the first use (the models load once): ``app.state.face_gallery``."""
    found: Gallery | None = getattr(request.app.state, "face_gallery", None)
    if found is None:
        settings = Settings()  # type: ignore[call-arg]   # from the environment
        try:
            pipeline = FacePipeline(store_from_settings(settings), FaceSettings(embedder=settings.vision_embedder))
        except ModelError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"人脸模型不可用，请联系管理员 ({exc})") from None
        except ImportError:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "人脸识别未安装，请联系管理员 (face recognition "
                                "needs onnxruntime and OpenCV: pip install 'forecourt[vision]')") from None
        found = Gallery(pipeline, settings.vision_embedder, keep_photos=settings.faces_keep_photos)
        request.app.state.face_gallery = found
    return found


async def _photo(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "照片不能超过 8 MB，请压缩后重试 (over 8 MB)")
    return data


def _unusable(exc: FaceError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.code})")


def _refused(exc: FaceRefused) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc} (field: {exc.field})")


class Enrolled(BaseModel):
    id: int
    person: str
    created: bool


class EnrolmentPublic(BaseModel):
    id: int
    person: str
    embedder: str
    photo_kept: bool
    consent_by: str
    consent_at: datetime
    consent_method: str
    consent_text_version: str
    enrolled_by: str
    enrolled_at: datetime


class ConsentTextPublic(BaseModel):
    version: str
    title: str
    effective: date
    text: str


class MatchPublic(BaseModel):
    person: str
    similarity: float


class Identified(BaseModel):
    box: tuple[float, float, float, float]
    score: float
    liveness: float
    live: bool
    match: MatchPublic | None
    timings_ms: dict[str, float]


class Deleted(BaseModel):
    person: str
    enrolments_removed: int


@router.post("/enrolments", status_code=status.HTTP_201_CREATED)
async def enrol(request: Request, db: Db, who: Enroller, key: IdempotencyKey,
                person: Annotated[str, Form(description="会员号 (member number)")],
                consent_by: Annotated[str, Form(description="同意人 (who consented)")],
                consent_at: Annotated[datetime, Form(description="同意时间，带时区 (when, with a time zone)")],
                consent_method: Annotated[str, Form(description="terminal / app / paper / counter")],
                consent_text_version: Annotated[str, Form(description="同意书版本 (consent text version)")],
                image: Annotated[UploadFile, File(description="正面照片 JPEG/PNG (a frontal photo)")]) -> Enrolled:
    """Enrol one face of a member who has consented; a retry with the same Idempotency-Key enrols nothing more."""
    try:
        check_person(person)
        consent = Consent(consent_by, consent_at, consent_method, consent_text_version)
    except FaceRefused as exc:
        raise _refused(exc) from None
    faces = gallery(request)
    data = await _photo(image)
    try:
        _, vector = await faces.embedding(data)
    except FaceError as exc:
        raise _unusable(exc) from None
    command = EnrolFace(person, tuple(float(v) for v in vector), faces.embedder, consent, f"{who.username}:{key}",
                        who.username, data if faces.keep_photos else None)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        answer: dict[str, Any] = await request.app.state.bus.handle(command, uow)
    return Enrolled(**answer)


@router.get("/enrolments")
async def list_enrolments(db: Db, who: Reader, cursor: Cursor = "", limit: Limit = 20,
                          person: Annotated[str, Query(max_length=13, pattern=r"^(M[0-9]{8,12})?$",
                                                       description="会员号 (member number)")] = "",
                          consent_method: Annotated[str, Query(pattern=f"^({'|'.join(CONSENT_METHODS)})?$",
                                                               description="同意方式 (consent method)")] = "",
                          ) -> dict[str, Any]:
    """Every enrolment newest first, with its consent record (never the face); the read is audited."""
    async with db.connection() as conn:
        rows, total, last = await views.enrolment_page(conn, person=person, consent_method=consent_method,
                                                       after=after(cursor, views.NEWEST_FIRST), limit=limit)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await uow.audit(AuditEntry("face.read", f"person:{person}" if person else "enrolments", None, None,
                                   {"enrolments": len(rows), "consent_method": consent_method or None}))
    return page([_public(r, who) for r in rows], total, views.NEWEST_FIRST, last)


@router.get("/consent-texts")
async def consent_texts(who: Reader) -> list[ConsentTextPublic]:
    """The consent texts a person may agree to, each whole, newest version first."""
    return [ConsentTextPublic(version=c.version, title=c.title, effective=c.effective, text=c.text)
            for c in sorted(CONSENT_TEXTS.values(), key=lambda c: c.effective, reverse=True)]


def _public(row: dict[str, Any], who: Principal) -> EnrolmentPublic:
    """One enrolment as this user may see it: the consenting person masked without ``pii:read``."""
    shown = row["consent_by"] if who.may("pii:read") else mask_name(row["consent_by"])
    return EnrolmentPublic(**{**row, "consent_by": shown})


@router.get("/people/{member_no}")
async def enrolments(member_no: str, request: Request, db: Db, who: Reader) -> list[EnrolmentPublic]:
    """A person's enrolments and the consent recorded for each (never the face); the read is audited."""
    try:
        check_person(member_no)
    except FaceRefused as exc:
        raise _refused(exc) from None
    async with db.connection() as conn:
        rows = await views.enrolments(conn, member_no)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await uow.audit(AuditEntry("face.read", f"person:{member_no}", None, None, {"enrolments": len(rows)}))
    return [_public(r, who) for r in rows]


@router.delete("/people/{member_no}")
async def delete(member_no: str, request: Request, db: Db, who: Enroller,
                 reason: Annotated[str, Form(description="删除原因 (why: the person's request, withdrawal …)")]
                 ) -> Deleted:
    """Delete every enrolment of the person (embeddings, photos if kept, consent rows); the index forgets them."""
    try:
        command = DeleteFaces(member_no, who.username, reason)
    except FaceRefused as exc:
        raise _refused(exc) from None
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        removed: int = await request.app.state.bus.handle(command, uow)
    return Deleted(person=member_no, enrolments_removed=removed)


@router.post("/identify")
async def identify(request: Request, db: Db, who: Identifier,
                   image: Annotated[UploadFile, File(description="终端拍摄的照片 (the terminal's photo)")],
                   station: Annotated[str | None, Form(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")] = None,
                   terminal: Annotated[str | None, Form(min_length=1, max_length=64)] = None) -> Identified:
    """The face in a terminal's photo: found, alive, and who it is if anyone enrolled is close enough. With the
    station and terminal, ``face.recognized`` (a live match) or ``face.spoof_detected`` goes out."""
    if station is not None:
        who.check_station(station)
    faces = gallery(request)
    data = await _photo(image)
    async with db.connection() as conn:
        try:
            result = await faces.identify(conn, data)
        except FaceError as exc:
            raise _unusable(exc) from None
    match = result.match
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        await request.app.state.bus.handle(
            RecordIdentification(match.person if match else None, match.similarity if match else 0.0, result.live,
                                 result.liveness, station, terminal, request.app.state.group,
                                 datetime.now(UTC)), uow)
    return Identified(box=result.box, score=result.score, liveness=result.liveness, live=result.live,
                      match=MatchPublic(person=match.person, similarity=match.similarity) if match else None,
                      timings_ms=result.timings_ms)
