"""The customer H5's 免密支付 (docs/h5.md, docs/online-payments.md "Payment agreements"): the member signs or ends
their own agreement with WeChat Pay (委托代扣). Customers only (``customer()``; a link session may not).

- ``GET /api/v1/h5/me/agreement``: the member's newest agreement (one being signed is asked of WeChat Pay first);
- ``POST /api/v1/h5/me/agreement`` → ``{state: signing, sign_url}``: the page to confirm on in WeChat (the same page
  again while unsigned; 409 when one is active). It moves no money, and a repeat gives the same page, so it needs
  no Idempotency-Key;
- ``DELETE /api/v1/h5/me/agreement``: ends it at WeChat Pay and here; drive-through by agreement goes off (404 when
  there is nothing to end).

Each is audited as the member's (``member.agreement.start`` / ``.end``), by the same service as the staff routes
(``routes/payment_agreements.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from control_api.customer_security import Customer, customer
from control_api.deps import Db
from control_api.routes.payment_agreements import (
    AgreementOut,
    Service,
    agreement_out,
    end,
    existing,
    start,
)

router = APIRouter(prefix="/api/v1/h5/me/agreement", tags=["h5"])
Member = Annotated[Customer, Depends(customer())]
ENDED_BY_MEMBER = "会员在 H5 解约 (ended by the member)"


@router.get("", response_model=AgreementOut)
async def mine(who: Member, db: Db, service: Service) -> AgreementOut:
    await existing(db, who.member_no)
    row = await service.current(who.member_no)
    return agreement_out(who.member_no, row)


@router.post("", response_model=AgreementOut)
async def sign(who: Member, db: Db, service: Service) -> AgreementOut:
    """Start signing: open ``sign_url`` in WeChat and confirm there."""
    await existing(db, who.member_no)
    return await start(service, who.member_no, who.actor)


@router.delete("", response_model=AgreementOut)
async def leave(who: Member, db: Db, service: Service) -> AgreementOut:
    """End the agreement; recognised plates no longer pay by it."""
    await existing(db, who.member_no)
    return await end(service, who.member_no, who.actor, ENDED_BY_MEMBER)
