"""The pure rules of face payment: what head office's answer and the station's member list decide."""

from __future__ import annotations

import pytest

from business_services.face_payments import model
from telemetry.contracts.members import ListedMember
from tests.integration.station_members.support import CARD, member


@pytest.mark.parametrize(("seen", "refusal"), [
    (model.Identified(live=False, liveness=0.2, person="M00000001", similarity=0.9), model.SPOOF),
    (model.Identified(live=False, liveness=0.2, person=None, similarity=0.0), model.SPOOF),
    (model.Identified(live=True, liveness=0.99, person=None, similarity=0.0), model.NO_MATCH),
    (model.Identified(live=True, liveness=0.99, person="M00000001", similarity=0.7), None),
])
def test_only_a_live_match_names_a_member(seen: model.Identified, refusal: model.Refusal | None) -> None:
    assert model.face_refusal(seen) == refusal


@pytest.mark.parametrize(("listed", "answer"), [
    (None, model.NOT_LISTED),
    (member(status="frozen", drive_through="stored_value", drive_through_card_no=CARD), model.NOT_ACTIVE),
    (member(), model.NOT_OPTED_IN),                                            # enrolled is not opted in
    (member(drive_through="stored_value"), model.NOT_STORED_VALUE),            # no card chosen
    (member(drive_through="agreement"), model.NOT_STORED_VALUE),
    (member(drive_through="stored_value", drive_through_card_no=CARD), model.Payer("M00000001", "张*", CARD)),
])
def test_the_member_pays_only_by_their_opt_in(listed: ListedMember | None,
                                               answer: model.Payer | model.Refusal) -> None:
    assert model.payer(listed) == answer


@pytest.mark.parametrize(("detail", "refusal"), [
    ("请一人刷脸 (several_faces)", model.SEVERAL),
    ("未检测到人脸 (no_face)", model.NO_FACE),
    ("无法读取图片 (bad_image)", model.BAD_IMAGE),
    ("something else", model.BAD_IMAGE),
])
def test_head_offices_unusable_photo_codes(detail: str, refusal: model.Refusal) -> None:
    assert model.unusable(detail) == refusal
    assert refusal.retry                       # another frame may do


def test_refusals_about_the_member_or_the_link_are_final() -> None:
    for refusal in (model.NOT_LISTED, model.NOT_ACTIVE, model.NOT_OPTED_IN, model.NOT_STORED_VALUE,
                    model.HEAD_OFFICE_DOWN, model.NOT_PERMITTED):
        assert not refusal.retry and "(" in refusal.message          # Chinese, then the English
