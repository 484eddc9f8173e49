"""The face gallery's commands and their checks (pure: no I/O). A ``FaceRefused`` says what to do, Chinese first."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from business_services.faces.consent import CONSENT_TEXTS

CONSENT_METHODS = ("terminal", "app", "paper", "counter")
_PERSON = re.compile(r"^M[0-9]{8,12}$")          # a member number (telemetry/contracts/members.py MemberNo)


class FaceRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Consent:
    by: str                    # who consented
    at: datetime
    method: str                # terminal, app, paper, counter
    text_version: str          # the version of the consent text they agreed to

    def __post_init__(self) -> None:
        if not self.by.strip() or len(self.by) > 80:
            raise FaceRefused("consent_by", "请填写同意人（1–80 字）(who consented is required)")
        if self.method not in CONSENT_METHODS:
            raise FaceRefused("consent_method", f"同意方式应为 {'、'.join(CONSENT_METHODS)} 之一 "
                                                f"(the consent method is one of {', '.join(CONSENT_METHODS)})")
        if self.text_version not in CONSENT_TEXTS:
            raise FaceRefused("consent_text_version",
                              f"同意书版本应为 {'、'.join(CONSENT_TEXTS)} 之一，请选择本人签署或勾选的版本 "
                              f"(the consent text version is one of {', '.join(CONSENT_TEXTS)})")
        if self.at.tzinfo is None:
            raise FaceRefused("consent_at", "同意时间须带时区 (the consent time needs a time zone)")


def check_person(person: str) -> str:
    if not _PERSON.match(person):
        raise FaceRefused("person", "会员号应为 M 加 8–12 位数字 (the member number is M and 8–12 digits)")
    return person


@dataclass(frozen=True, slots=True)
class EnrolFace:
    person: str
    embedding: tuple[float, ...]
    embedder: str
    consent: Consent
    key: str                   # the request's Idempotency-Key: a retry enrols nothing more
    by: str
    photo: bytes | None = None

    def __post_init__(self) -> None:
        check_person(self.person)
        if len(self.embedding) not in (128, 512) or not all(math.isfinite(v) for v in self.embedding):
            raise FaceRefused("image", "人脸特征无效，请重新拍照 (the embedding is not valid; take the photo again)")
        if len(self.key) < 8:
            raise FaceRefused("Idempotency-Key", "请求须带 Idempotency-Key (send an Idempotency-Key header)")


@dataclass(frozen=True, slots=True)
class DeleteFaces:
    person: str
    by: str
    reason: str

    def __post_init__(self) -> None:
        check_person(self.person)
        if not self.reason.strip() or len(self.reason) > 200:
            raise FaceRefused("reason", "请填写删除原因（1–200 字）(give the reason for the deletion)")


@dataclass(frozen=True, slots=True)
class RecordIdentification:
    """An identification at a terminal, for the audit chain (the person matched, never the face)."""

    person: str | None
    similarity: float
    live: bool
    liveness: float
    station: str | None
    terminal: str | None = None         # with the station: the terminal's event goes out (face.recognized / …)
    group: str = ""
    seen_at: datetime | None = None
