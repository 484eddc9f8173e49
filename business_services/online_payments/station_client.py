"""The station server's side of online payments: ``PaymentProvider``s that ask head office over HTTP.

Head office holds the provider keys and talks to WeChat Pay and Alipay; a station server only calls
``/api/v1/online-payments`` with its API key (permission ``payment:online``, its own station). When head
office cannot be reached (connection refused, time-out) the shared ``HeadOfficeLink`` is marked down:
every online provider's ``unavailable()`` then says so and ``charge`` fails at once without waiting, until a
probe of ``/healthz`` (every ``probe_every_s``) or any call succeeds. A charge whose answer timed out after
the customer's payment code was scanned is PENDING (the money may have been taken: query or cancel later);
a QR charge that timed out is FAILED (the customer never saw the code, so cannot pay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import asdict
from typing import Any

import niquests
from niquests.typing import MultiPartFilesAltType

from business_services.payments.providers import (
    ChargeRequest,
    ChargeResult,
    ChargeState,
    PaymentProvider,
    RefundRequest,
    RefundResult,
)
from telemetry.contracts.events.payments import Method

log = logging.getLogger(__name__)
NAMES = {Method.WECHAT: "微信支付", Method.ALIPAY: "支付宝", Method.UNIONPAY_QR: "云闪付", Method.ECNY: "数字人民币",
         Method.AGREEMENT: "免密支付"}
#: methods that take the money without the customer acting (a deduction by agreement): a late answer may mean taken
DEDUCTED = frozenset({Method.AGREEMENT})


class HeadOfficeDown(Exception):
    """No answer from head office (connection or time-out); ``answered_late`` when it may have acted."""

    def __init__(self, answered_late: bool) -> None:
        super().__init__("head office unreachable")
        self.answered_late = answered_late


class HeadOfficeLink:
    """One station server's connection to head office, shared by its online providers."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 15.0, probe_every_s: float = 5.0) -> None:
        self.base_url, self.timeout_s, self.probe_every_s = base_url.rstrip("/"), timeout_s, probe_every_s
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self.down = False
        self._probe: asyncio.Task[None] | None = None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer; a replayed answer (``Idempotent-Replayed``) is marked ``_replayed``."""
        headers = dict(self._headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        answer, data = await self._send(method, path, self.timeout_s, json=body, headers=headers)
        if answer.headers.get("Idempotent-Replayed") == "true":
            data["_replayed"] = True
        return answer.status_code or 0, data

    async def upload(self, path: str, fields: dict[str, str], files: MultiPartFilesAltType, *,
                     timeout_s: float | None = None) -> tuple[int, dict[str, Any]]:
        """A multipart POST (a terminal's photo to head office's face identification): the status and JSON answer.
        Never retried here: the caller decides (an identification changes nothing that a second one would double)."""
        answer, data = await self._send("POST", path, timeout_s or self.timeout_s, data=fields, files=files,
                                        headers=self._headers)
        return answer.status_code or 0, data

    async def _send(self, method: str, path: str, timeout_s: float,
                    **request: Any) -> tuple[niquests.Response, dict[str, Any]]:
        """One request: head office marked down (and probed) when it does not answer, up when it does; the answer
        with its JSON object ({} for an empty or non-object body)."""
        try:
            async with niquests.AsyncSession() as http:
                answer = await http.request(method, self.base_url + path, timeout=timeout_s, **request)
        except niquests.exceptions.ReadTimeout as exc:
            self._went_down(exc)
            raise HeadOfficeDown(answered_late=True) from exc
        except niquests.exceptions.RequestException as exc:
            self._went_down(exc)
            raise HeadOfficeDown(answered_late=False) from exc
        self.down = False
        try:
            data = answer.json() if answer.content else {}
        except ValueError:
            data = {}
        return answer, data if isinstance(data, dict) else {}

    def _went_down(self, exc: Exception) -> None:
        if not self.down:
            log.warning("head office %s unreachable (%s): online payments paused", self.base_url, type(exc).__name__)
        self.down = True
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        async with niquests.AsyncSession() as http:
            while self.down:
                await asyncio.sleep(self.probe_every_s)
                with contextlib.suppress(niquests.exceptions.RequestException):
                    if (await http.get(self.base_url + "/healthz", timeout=min(self.timeout_s, 3.0))).ok:
                        self.down = False
                        log.info("head office %s reachable again: online payments resume", self.base_url)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


def _result(status: int, data: dict[str, Any]) -> ChargeResult:
    if status == 200:
        return ChargeResult(ChargeState(data["state"]), data.get("provider_ref"), data.get("qr_code_url"),
                            str(data.get("message", "")))
    return ChargeResult(ChargeState.FAILED, message=_refusal(status, data))


def _refusal(status: int, data: dict[str, Any]) -> str:
    return str(data.get("detail") or f"总部拒绝 (head office answered {status})")


class HeadOfficeProvider:
    """An online method, authorised through head office."""

    safe_offline = False

    def __init__(self, method: Method, base_url: str, api_key: str, *, link: HeadOfficeLink | None = None) -> None:
        self.method = method
        self.link = link or HeadOfficeLink(base_url, api_key)

    def _down_message(self) -> str:
        return f"总部连接中断，暂不能使用{NAMES.get(self.method, self.method.value)}（可收现金或银行卡） " \
               "(head office is unreachable; take cash or a bank card)"

    def unavailable(self) -> str | None:
        return self._down_message() if self.link.down else None

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if self.link.down:
            return ChargeResult(ChargeState.FAILED, message=self._down_message())
        body = {k: v for k, v in asdict(request).items() if v is not None} | {"method": request.method.value}
        try:
            status, data = await self.link.call("POST", "/api/v1/online-payments", body,
                                                idempotency_key=f"charge-{request.payment_no}")
        except HeadOfficeDown as exc:
            if exc.answered_late and (request.auth_code is not None or self.method in DEDUCTED):
                return ChargeResult(ChargeState.PENDING, message="总部未及时应答，支付结果未知，请稍后查询 "
                                                                 "(head office did not answer in time; query later)")
            return ChargeResult(ChargeState.FAILED, message=self._down_message())
        if status == 200 and data.get("_replayed") and data.get("state") == ChargeState.PENDING:
            return await self.query(request.payment_no)      # a retried charge: what is known now, not then
        return _result(status, data)

    async def _ask(self, method: str, path: str, payment_no: str, key: str | None = None) -> ChargeResult:
        try:
            status, data = await self.link.call(method, path, idempotency_key=key)
        except HeadOfficeDown:
            return ChargeResult(ChargeState.PENDING, message=self._down_message())
        if status >= 500:
            return ChargeResult(ChargeState.PENDING, message=str(data.get("detail", "")))
        return _result(status, data)

    async def query(self, payment_no: str) -> ChargeResult:
        return await self._ask("GET", f"/api/v1/online-payments/{payment_no}", payment_no)

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self._ask("POST", f"/api/v1/online-payments/{payment_no}/cancel", payment_no,
                               key=f"cancel-{uuid.uuid4()}")   # closing is itself repeatable

    async def refund(self, request: RefundRequest) -> RefundResult:
        body = {"refund_no": request.refund_no, "amount_fen": request.amount_fen, "reason": request.reason[:80]}
        try:
            status, data = await self.link.call("POST", f"/api/v1/online-payments/{request.payment_no}/refunds", body,
                                                idempotency_key=f"refund-{request.refund_no}")
        except HeadOfficeDown:
            return RefundResult(ChargeState.PENDING, message=self._down_message())
        if status == 200:
            return RefundResult(ChargeState(data["state"]), data.get("provider_ref"), str(data.get("message", "")))
        state = ChargeState.PENDING if status >= 500 else ChargeState.FAILED
        return RefundResult(state, message=_refusal(status, data))


class NotOffered:
    """An online method not set up yet: every charge fails with why."""

    safe_offline = False

    def __init__(self, method: Method) -> None:
        self.method = method

    def unavailable(self) -> str | None:
        return f"{NAMES.get(self.method, self.method.value)}尚未开通 (not set up yet)"

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        return ChargeResult(ChargeState.FAILED, message=self.unavailable() or "")

    async def query(self, payment_no: str) -> ChargeResult:
        return ChargeResult(ChargeState.FAILED, message=self.unavailable() or "")

    async def cancel(self, payment_no: str) -> ChargeResult:
        return ChargeResult(ChargeState.FAILED, message=self.unavailable() or "")

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.FAILED, message=self.unavailable() or "")


def online_providers(base_url: str, api_key: str) -> dict[Method, PaymentProvider]:
    """The station server's online providers: WeChat Pay, Alipay and 免密支付 (deductions by the member's
    agreement) through head office (one shared link)."""
    link = HeadOfficeLink(base_url, api_key)
    return {Method.WECHAT: HeadOfficeProvider(Method.WECHAT, base_url, api_key, link=link),
            Method.ALIPAY: HeadOfficeProvider(Method.ALIPAY, base_url, api_key, link=link),
            Method.AGREEMENT: HeadOfficeProvider(Method.AGREEMENT, base_url, api_key, link=link),
            Method.UNIONPAY_QR: NotOffered(Method.UNIONPAY_QR), Method.ECNY: NotOffered(Method.ECNY)}
