"""Pure rules of face payment at the terminal (刷脸支付; docs/vision.md "Face payment at the terminal"), no I/O.

The terminal's photo is identified by head office's gallery; what it answers and the member as the station's
member list holds them decide here, in one place, whether the orders are paid and from which card:

* a photo without one clear face, a face that is not live, or a live face nobody enrolled is refused; the page
  may try its next frame (``Refusal.retry``);
* a match pays only a member who chose to pay without the cashier (无感支付: ``drive_through`` ``stored_value``
  with a card). Enrolling a face is consent to be recognised, not to be charged: a member who has not opted in
  is refused, and the cashier takes another method.
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.contracts.members import ListedMember


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str
    retry: bool = False          # another frame may do (the face, not the member, was the problem)


NO_FACE = Refusal("no_face", "未检测到人脸，请正对摄像头 (no face found: look at the camera)", retry=True)
SEVERAL = Refusal("several_faces", "请一人刷脸 (one person at a time, please)", retry=True)
BAD_IMAGE = Refusal("bad_image", "画面不清晰，请重试 (the frame could not be read)", retry=True)
SPOOF = Refusal("spoof", "活体检测未通过 (liveness check failed)", retry=True)
NO_MATCH = Refusal("no_match", "未识别到会员，请使用其他支付方式 (no member recognised: take another method)",
                   retry=True)
NOT_LISTED = Refusal("not_listed", "会员不在本站名单，请使用其他支付方式 (the member is not on this station's list)")
NOT_ACTIVE = Refusal("not_active", "会员状态不可用，请使用其他支付方式 (the member is frozen or closed)")
NOT_OPTED_IN = Refusal("not_opted_in", "会员未开通免密支付，请使用其他支付方式 (the member has not opted in to paying "
                                       "without the cashier)")
NOT_STORED_VALUE = Refusal("not_stored_value", "刷脸支付暂只支持储值卡，请使用其他支付方式 (face payment pays from a "
                                               "stored-value card only for now)")
HEAD_OFFICE_DOWN = Refusal("head_office_down", "总部连接中断，刷脸支付暂不可用（人脸库在总部），请使用其他支付方式 "
                                               "(head office is unreachable: the face gallery is there)")
NOT_SET_UP = Refusal("not_set_up", "本站未连接总部，不能刷脸支付 (this station server has no head office link)")
NOT_PERMITTED = Refusal("not_permitted", "本站的总部密钥没有人脸识别权限，请管理员为其加上 face:identify "
                                         "(the station's API key at head office lacks face:identify)")
FACE_UNAVAILABLE = Refusal("face_unavailable", "总部人脸识别暂不可用，请使用其他支付方式 (head office cannot identify "
                                               "faces now)")
NOTHING_OWED = Refusal("nothing_owed", "订单已结清 (the orders are paid)")
PAYMENT_FAILED = "payment_failed"

#: head office's FaceError codes (vision/faces/pipeline.py), as the identify route names them in its 422
FACE_ERRORS = {"no_face": NO_FACE, "several_faces": SEVERAL, "bad_image": BAD_IMAGE}


@dataclass(frozen=True, slots=True)
class Identified:
    """What head office's ``POST /api/v1/faces/identify`` answered."""

    live: bool
    liveness: float
    person: str | None
    similarity: float


@dataclass(frozen=True, slots=True)
class Payer:
    member_no: str
    name_masked: str
    card_no: str


def unusable(detail: str) -> Refusal:
    """Head office's 422 for a photo it could not use: its code is the last word in parentheses."""
    code = detail.rsplit("(", 1)[-1].rstrip(") ") if "(" in detail else ""
    return FACE_ERRORS.get(code, BAD_IMAGE)


def face_refusal(seen: Identified) -> Refusal | None:
    """Why the face does not name a member (None: ``seen.person`` does)."""
    if not seen.live:
        return SPOOF
    if seen.person is None:
        return NO_MATCH
    return None


def payer(member: ListedMember | None) -> Payer | Refusal:
    """Who pays and from which card, or why the matched member cannot pay by face."""
    if member is None:
        return NOT_LISTED
    if member.status != "active":
        return NOT_ACTIVE
    if member.drive_through == "off":
        return NOT_OPTED_IN
    if member.drive_through != "stored_value" or member.drive_through_card_no is None:
        return NOT_STORED_VALUE
    return Payer(member.member_no, member.name_masked, member.drive_through_card_no)
