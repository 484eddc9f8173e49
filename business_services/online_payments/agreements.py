"""免密支付 at head office: each member's agreement with WeChat Pay (委托代扣), signed, kept and ended here
(docs/online-payments.md "Payment agreements").

``start``: an agreement ``signing`` (one per member at a time; started again while unsigned, the same one and
the same page), then the provider's signing page (``presign``) asked with no transaction open; the member confirms
there and the provider's ``PAPAY.SIGN`` notification (``notified``) makes it ``active`` with its contract id — or a
read of a signing agreement (``current``) asks the provider, when the notification is late or lost. ``end``: the
member or staff ends it (the provider is told first; an unsigned one just ends); ``PAPAY.TERMINATE`` (the member
ended it in WeChat) ends it too. Every change happens once: each is a move from one state, repeats change nothing.
A deduction names the active agreement's contract (``repository.active_contract``; ``handlers.OnlinePayments``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from business_services.audit.model import Actor, AuditEntry
from business_services.online_payments import repository
from business_services.online_payments.handlers import Connections
from business_services.online_payments.model import ProviderUnreachable
from business_services.online_payments.papay import ContractNotice, PapayGateway, PapayRefused
from business_services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
NOT_SET_UP = "免密支付尚未开通，请联系总部开通微信委托代扣 (payment agreements are not set up at head office)"
UNREACHABLE = "微信支付暂时无法连接，请稍后再试 (WeChat Pay did not answer; try again)"


class AgreementError(Exception):
    """Refused; ``status`` 404 no such thing, 409 its state, 503 the provider is not set up or not reachable."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status


#: what else an ended agreement ends, in the same transaction (head office wires the member's drive-through
#: choice falling back to off: ``drive_through.choice.agreement_ended``), so no crash leaves one without the other
OnEnded = Callable[[UnitOfWork, str], Awaitable[object]]


class Agreements:
    def __init__(self, db: Connections, gateway: PapayGateway | None, on_ended: OnEnded | None = None) -> None:
        self.db, self.gateway, self.on_ended = db, gateway, on_ended

    async def _ended(self, uow: UnitOfWork, member_no: str) -> None:
        if self.on_ended is not None:
            await self.on_ended(uow, member_no)

    def _provider(self) -> PapayGateway:
        if self.gateway is None:
            raise AgreementError(NOT_SET_UP, 503)
        return self.gateway

    async def current(self, member_no: str) -> dict[str, Any] | None:
        """The member's newest agreement; one being signed is asked of the provider first (a late notification)."""
        async with self.db.connection() as conn:
            row = await repository.latest_agreement(conn, member_no)
        if row is None or row["state"] != "signing" or self.gateway is None:
            return row
        try:
            found = await self.gateway.contract(row["out_contract_code"])
        except (ProviderUnreachable, PapayRefused) as exc:
            log.warning("agreement %s: query: %s", row["out_contract_code"], exc)
            return row
        if found is not None:
            await self.apply(found, Actor.system("wechatpay"))
        async with self.db.connection() as conn:
            return await repository.agreement(conn, row["out_contract_code"])

    async def start(self, member_no: str, actor: Actor) -> dict[str, Any]:
        """The agreement being signed and its signing page (409 when one is active already)."""
        gateway = self._provider()
        async with self.db.connection() as conn, UnitOfWork(conn, actor) as uow:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('payment_agreement:' || %s))", (member_no,))
            row = await repository.open_agreement(conn, member_no, lock=True)
            if row is not None and row["state"] == "active":
                raise AgreementError("会员已开通免密支付；如需重签请先解约 (the member has an active agreement; end "
                                     "it first to sign again)")
            code = row["out_contract_code"] if row else await repository.start_agreement(
                conn, member_no, gateway.plan_id, actor.name)
            if row is None:
                await uow.audit(AuditEntry("member.agreement.start", f"member:{member_no}", None, None,
                                           {"out_contract_code": code, "provider": gateway.name}))
        try:
            url = await gateway.presign(code, f"加油会员 {member_no}")
        except ProviderUnreachable as exc:
            raise AgreementError(UNREACHABLE, 503) from exc
        except PapayRefused as exc:
            raise AgreementError(str(exc), 409) from exc
        async with self.db.connection() as conn:
            await repository.agreement_page(conn, code, url)
            return await repository.agreement(conn, code) or {}

    async def end(self, member_no: str, actor: Actor, reason: str) -> dict[str, Any]:
        """End the member's agreement (the provider first when it is signed); the row as it ended."""
        async with self.db.connection() as conn:
            row = await repository.open_agreement(conn, member_no)
        if row is None:
            raise AgreementError("会员没有生效或签约中的免密支付 (the member has no agreement to end)", 404)
        if row["state"] == "active":
            try:
                await self._provider().terminate(row["out_contract_code"], reason)
            except ProviderUnreachable as exc:
                raise AgreementError(UNREACHABLE, 503) from exc
            except PapayRefused as exc:
                raise AgreementError(str(exc), 409) from exc
        async with self.db.connection() as conn, UnitOfWork(conn, actor) as uow:
            await repository.agreement_ended(conn, row["out_contract_code"], reason)   # or the notification did
            await self._ended(uow, member_no)
            await uow.audit(AuditEntry("member.agreement.end", f"member:{member_no}", None,       # who asked, always
                                       {"state": row["state"]}, {"state": "ended", "reason": reason}))
            return await repository.agreement(conn, row["out_contract_code"]) or row

    async def apply(self, notice: ContractNotice, actor: Actor) -> dict[str, Any] | None:
        """What the provider says of a contract (a notification or a query), applied once; the agreement's row when
        it changed now (None: unknown, or nothing to change)."""
        after: dict[str, Any] | None = None
        async with self.db.connection() as conn, UnitOfWork(conn, actor) as uow:
            row = await repository.agreement(conn, notice.out_contract_code, lock=True)
            if row is None:
                log.warning("contract notification for an unknown agreement %s", notice.out_contract_code)
                return None
            changed = False
            if notice.state == "SIGNED" and notice.contract_id:
                changed = await repository.agreement_signed(conn, notice.out_contract_code, notice.contract_id)
            elif notice.state == "TERMINATED":
                why = "会员在微信中解约 (ended by the member in WeChat)" if notice.mode == "USER" else "已解约 (ended)"
                changed = await repository.agreement_ended(conn, notice.out_contract_code, why)
                if changed:
                    await self._ended(uow, row["member_no"])
            if changed:
                after = await repository.agreement(conn, notice.out_contract_code) or row
                await uow.audit(AuditEntry(
                    f"member.agreement.{'signed' if notice.state == 'SIGNED' else 'ended'}",
                    f"member:{row['member_no']}", None, {"state": row["state"]},
                    {"state": after["state"], "out_contract_code": notice.out_contract_code}))
        if notice.state == "SIGNED" and row["state"] == "ended" and self.gateway is not None:
            await self._end_orphan(notice.out_contract_code)   # signed in WeChat after it was ended here
        return after

    async def _end_orphan(self, out_contract_code: str) -> None:
        """A contract the member confirmed after the agreement was ended here never deducts (no active row) — and
        is ended at WeChat Pay too, so the member's WeChat does not list an agreement we no longer keep."""
        try:
            await self._provider().terminate(out_contract_code, "商户已取消签约 (cancelled by the merchant)")
        except (ProviderUnreachable, PapayRefused) as exc:
            log.warning("agreement %s signed after it ended here; not ended at WeChat Pay: %s", out_contract_code, exc)
