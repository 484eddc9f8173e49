"""The face gallery's commands: enrol (once per Idempotency-Key), delete everything of a person, and record
each identification; every one in the audit chain, none with face data."""

from __future__ import annotations

from typing import Any

from business_services.audit.model import AuditEntry
from business_services.faces import repository
from business_services.faces.model import DeleteFaces, EnrolFace, FaceRefused, RecordIdentification
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events.vision import FaceRecognized, FaceSpoofDetected
from telemetry.contracts.topics import event_topic


async def enrol(command: EnrolFace, uow: UnitOfWork) -> dict[str, Any]:
    enrolment = await repository.insert_enrolment(uow.conn, command)
    if enrolment is None:                                   # the same request again: nothing more
        earlier = await repository.enrolment_by_key(uow.conn, command.key)
        if earlier is None:                                 # deleted since: the retry enrols nothing
            raise FaceRefused("Idempotency-Key", "该请求的登记已被删除，请用新的 Idempotency-Key 重新登记 "
                                                 "(that enrolment was deleted; enrol with a new key)")
        return {"id": earlier[0], "person": earlier[1], "created": False}
    c = command.consent
    await uow.audit(AuditEntry("face.enrol", f"person:{command.person}", None, None,
                               {"enrolment": enrolment, "embedder": command.embedder,
                                "photo_kept": command.photo is not None, "consent_by": c.by,
                                "consent_at": c.at.isoformat(), "consent_method": c.method,
                                "consent_text_version": c.text_version}))
    return {"id": enrolment, "person": command.person, "created": True}


async def delete(command: DeleteFaces, uow: UnitOfWork) -> int:
    removed = await repository.delete_person(uow.conn, command.person)
    await uow.audit(AuditEntry("face.delete", f"person:{command.person}", None, {"enrolments": removed},
                               {"enrolments": 0, "reason": command.reason}))
    return removed


async def record_identification(command: RecordIdentification, uow: UnitOfWork) -> None:
    """The audit record; at a named terminal also ``face.recognized`` (a live match) or ``face.spoof_detected``."""
    c = command
    await uow.audit(AuditEntry("face.identify", f"person:{c.person}" if c.person else "person:none",
                               c.station, None, {"similarity": round(c.similarity, 4), "live": c.live}))
    if c.station is None or c.terminal is None or c.seen_at is None:
        return
    event: FaceRecognized | FaceSpoofDetected
    if not c.live:
        event = FaceSpoofDetected(station=c.station, terminal=c.terminal, liveness=c.liveness, seen_at=c.seen_at)
    elif c.person is not None:
        event = FaceRecognized(station=c.station, terminal=c.terminal, member_no=c.person,
                               similarity=max(0.0, min(1.0, c.similarity)), liveness=c.liveness, seen_at=c.seen_at)
    else:
        return
    uow.emit(event_topic(c.group, c.station, event.TYPE),
             event.envelope(source="head-office", event_id=event.event_id()))


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {EnrolFace: enrol, DeleteFaces: delete,
                                         RecordIdentification: record_identification}
