"""Approvals: my inbox (``approval:decide``), my requests and one request (``approval:read``), approve, reject,
cancel. Requests themselves are made by the domains that need them (a price change above a limit …).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from business_services.approvals import handlers, views
from business_services.approvals.model import Approver, NotAllowed, NotPending, UnknownRequest
from business_services.approvals.registry import KINDS
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])
Reader = Annotated[Principal, Depends(require("approval:read"))]
Decider = Annotated[Principal, Depends(require("approval:decide"))]
Limit = Annotated[int, Query(ge=1, le=500)]


class ApprovalPublic(BaseModel):
    id: uuid.UUID
    kind: str
    kind_title: str
    station: str | None
    summary: str
    payload: dict[str, Any]
    requested_by: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None


class ApprovalPage(BaseModel):
    items: list[ApprovalPublic]
    next_cursor: str | None = None
    total: int


class Decision(BaseModel):
    comment: str | None = Field(None, max_length=500, description="意见; required to reject")


def _public(row: dict[str, Any]) -> ApprovalPublic:
    kind = KINDS.get(row["kind"])
    return ApprovalPublic(**row, kind_title=kind.title if kind else row["kind"])


def _approver(who: Principal) -> Approver:
    return Approver(who.username, who.permissions, who.stations)


@contextmanager
def _answered() -> Iterator[None]:
    """The approval rules' refusals as HTTP answers."""
    try:
        yield
    except UnknownRequest as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except NotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except NotPending as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/inbox", response_model=ApprovalPage)
async def inbox(who: Decider, db: Db, limit: Limit = 200) -> ApprovalPage:
    """Pending requests I may decide, oldest first."""
    async with db.connection() as conn:
        rows, total = await views.inbox(conn, _approver(who), limit)
    return ApprovalPage(items=[_public(r) for r in rows], total=total)


@router.get("/mine", response_model=ApprovalPage)
async def mine(who: Reader, db: Db, limit: Limit = 200) -> ApprovalPage:
    """Requests I made, newest first."""
    async with db.connection() as conn:
        rows, total = await views.mine(conn, who.username, limit)
    return ApprovalPage(items=[_public(r) for r in rows], total=total)


@router.get("/{request_id}", response_model=ApprovalPublic)
async def detail(request_id: uuid.UUID, who: Reader, db: Db) -> ApprovalPublic:
    async with db.connection() as conn:
        row = await views.one(conn, request_id)
    in_scope = row is not None and (who.stations is None or (row["station"] is not None and who.sees(row["station"])))
    if row is None or (row["requested_by"] != who.username and not in_scope):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "没有这个审批申请 (no such approval request)")
    return _public(row)


@router.post("/{request_id}/approve", response_model=ApprovalPublic)
async def approve(request_id: uuid.UUID, body: Decision, who: Decider, db: Db) -> ApprovalPublic:
    """Approve; the change asked for is made in the same transaction. A retry changes nothing."""
    with _answered():
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await handlers.approve(uow, request_id, _approver(who), body.comment)
    return await detail(request_id, who, db)


@router.post("/{request_id}/reject", response_model=ApprovalPublic)
async def reject(request_id: uuid.UUID, body: Decision, who: Decider, db: Db) -> ApprovalPublic:
    """Reject, saying why (``comment`` required). A retry changes nothing."""
    with _answered():
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await handlers.reject(uow, request_id, _approver(who), body.comment)
    return await detail(request_id, who, db)


@router.post("/{request_id}/cancel", response_model=ApprovalPublic)
async def cancel(request_id: uuid.UUID, who: Reader, db: Db) -> ApprovalPublic:
    """The requester withdraws a pending request."""
    with _answered():
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            await handlers.cancel(uow, request_id)
    return await detail(request_id, who, db)
