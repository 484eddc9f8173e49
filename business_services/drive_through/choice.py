"""Head office's side of a member's drive-through choice that other changes move (docs/vision.md).

``agreement_ended``: a member whose plate paid by 免密支付 and whose agreement ended (by them, in WeChat or on the
H5, or by staff) falls back to ``off``, relisted to the stations, so no station attaches them to pay by a contract
that no longer exists. Audited as the system's change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from business_services.audit.model import AuditEntry
from business_services.drive_through import repository
from business_services.members import handlers as members
from business_services.unit_of_work import UnitOfWork

AGREEMENT_ENDED = "免密支付协议已解约，无感支付已关闭 (the agreement ended: drive-through payment is off)"


async def agreement_ended(uow: UnitOfWork, member_no: str) -> bool:
    """True when the member's choice was the agreement and is now off."""
    method, _ = await repository.setting(uow.conn, member_no)
    if method != "agreement":
        return False
    await repository.choose(uow.conn, member_no, "off", None, uow.actor.name, datetime.now(UTC))
    await members.relist(uow.conn, member_no)
    await uow.audit(AuditEntry("member.drive_through", f"member:{member_no}", None, {"method": "agreement"},
                               {"method": "off", "reason": AGREEMENT_ENDED}))
    return True
