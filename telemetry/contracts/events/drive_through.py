"""Drive-through events of a station (docs/vision.md "Drive-through payment").

``drive_through.awaiting``: a member who chose 每次确认 (``ListedMember.drive_through_confirm``) fuelled at a
position their plate attached them to; the order is not paid until they confirm it on the customer H5. The
station server emits it through its outbox; head office keeps the confirmation (once per recognition) and pushes
the notice to the member. The station asks head office for the answer until ``expires_at``, then leaves the order
to the cashier. The id comes from the recognition, so the same wait published twice is one event.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fields import Fen, Litres, UtcTime
from telemetry.contracts.events.payments import DocumentNo
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import CardNo, DriveThroughMethod, MemberNo, Plate

DRIVE_THROUGH_AWAITING = "drive_through.awaiting"
_NAMESPACE = uuid.UUID("8b7f3c1e-2d4a-4f6b-9e0c-5a1d7c3b9f24")

RecognitionId = Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]


class DriveThroughAwaiting(EventPayload):
    TYPE = DRIVE_THROUGH_AWAITING

    station: Code
    recognition_id: RecognitionId                 # the vehicle.recognized event that attached the member
    order_no: DocumentNo
    fuelling_point: Annotated[int, Field(ge=1, le=99)]
    member_no: MemberNo
    plate: Plate
    method: DriveThroughMethod                    # how it is paid once confirmed
    card_no: CardNo | None = None                 # stored value: the card
    grade: int
    volume_l: Litres
    amount_fen: Annotated[Fen, Field(gt=0)]
    fuelled_at: UtcTime                           # when the fuelling ended
    expires_at: UtcTime                           # after it, the cashier takes the order

    def event_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"awaiting/{self.recognition_id}"))
