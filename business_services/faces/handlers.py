"""The face gallery's commands: enrol (once per Idempotency-Key), delete everything of a person, and record
each identification; every one in the audit chain, none with face data."""

from __future__ import annotations

from typing import Any

from business_services.audit.model import AuditEntry
from business_services.faces import repository
from business_services.faces.model import DeleteFaces, EnrolFace, FaceRefused, RecordIdentification
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork


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
    await uow.audit(AuditEntry("face.identify", f"person:{command.person}" if command.person else "person:none",
                               command.station, None,
                               {"similarity": round(command.similarity, 4), "live": command.live}))


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {EnrolFace: enrol, DeleteFaces: delete,
                                         RecordIdentification: record_identification}
