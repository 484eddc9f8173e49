"""Alipay through its real SDK (``python-alipay-sdk``, module ``alipay``), RSA2.

The SDK's one base URL is ``AliPay._gateway`` (only switchable to the sandbox by ``debug=True``); it is set
after construction to reach the simulator or another gateway (docs/online-payments.md). The SDK is
synchronous (``urlopen``); each call runs in a worker thread. A time-out, an HTTP or connection error or an
answer whose signature fails is ``ProviderUnreachable``: the outcome is unknown, the payment stays pending.
A QR order is closed with ``alipay.trade.close`` (never ``cancel``, which would refund a paid one).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from alipay import AliPay, AliPayConfig
from alipay.exceptions import AliPayException, AliPayValidationError

from business_services.online_payments.model import Notice, Outcome, ProviderUnreachable
from business_services.online_payments.settings import AlipaySettings
from business_services.payments.providers import ChargeState

TRADE_STATES = {"TRADE_SUCCESS": ChargeState.SUCCEEDED, "TRADE_FINISHED": ChargeState.SUCCEEDED,
                "WAIT_BUYER_PAY": ChargeState.PENDING, "TRADE_CLOSED": ChargeState.FAILED}


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


class AlipayGateway:
    name = "alipay"

    def __init__(self, settings: AlipaySettings) -> None:
        self._app_id = settings.app_id
        self._pay = AliPay(appid=settings.app_id, app_notify_url=settings.notify_url or None,
                           app_private_key_string=settings.app_private_key,
                           alipay_public_key_string=settings.alipay_public_key, sign_type="RSA2",
                           config=AliPayConfig(timeout=settings.timeout_s))
        self._pay._gateway = settings.gateway

    async def _call(self, method: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = await asyncio.to_thread(method, **kwargs)
        except (OSError, AliPayValidationError) as exc:
            raise ProviderUnreachable(f"支付宝无应答或应答验签失败 (Alipay: {type(exc).__name__})") from exc
        except AliPayException as exc:                   # an unsigned refusal (e.g. our signature was refused)
            return {"code": "40002", "sub_code": "unsigned-refusal", "sub_msg": str(exc)[:200]}
        if answer.get("code") == "20000":
            raise ProviderUnreachable("支付宝服务暂不可用 (Alipay: 20000 service unavailable)")
        return answer

    @staticmethod
    def _refused(data: dict[str, Any]) -> Outcome:
        return Outcome(ChargeState.FAILED, message=f"支付宝拒绝：{data.get('sub_msg') or data.get('msg')} "
                                                   f"({data.get('sub_code') or data.get('code')})")

    async def create(self, payment_no: str, amount_fen: int, description: str, auth_code: str | None) -> Outcome:
        if auth_code is not None:
            data = await self._call(self._pay.api_alipay_trade_pay, out_trade_no=payment_no, scene="bar_code",
                                    auth_code=auth_code, subject=description, total_amount=yuan(amount_fen))
            if data.get("code") == "10000":
                return Outcome(ChargeState.SUCCEEDED, data.get("trade_no"), message="支付成功")
            if data.get("code") == "10003":                # the customer confirms in the app
                return Outcome(ChargeState.PENDING, data.get("trade_no"), message="等待顾客在支付宝中确认")
        else:
            data = await self._call(self._pay.api_alipay_trade_precreate, subject=description, out_trade_no=payment_no,
                                    total_amount=yuan(amount_fen))
            if data.get("code") == "10000":
                return Outcome(ChargeState.PENDING, qr_code_url=data["qr_code"], message="请顾客用支付宝扫码支付")
        if data.get("sub_code") == "ACQ.TRADE_HAS_SUCCESS":
            return await self.query(payment_no)
        return self._refused(data)

    async def query(self, payment_no: str) -> Outcome:
        data = await self._call(self._pay.api_alipay_trade_query, out_trade_no=payment_no)
        if data.get("code") == "10000":
            return Outcome(TRADE_STATES.get(str(data.get("trade_status")), ChargeState.PENDING), data.get("trade_no"))
        if data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":  # a QR order exists at Alipay once it is scanned
            return Outcome(ChargeState.PENDING, message="顾客尚未扫码 (not scanned yet)")
        raise ProviderUnreachable(f"支付宝查询失败：{data.get('sub_msg') or data.get('msg')}")

    async def close(self, payment_no: str) -> Outcome:
        data = await self._call(self._pay.api_alipay_trade_close, out_trade_no=payment_no)
        if data.get("code") == "10000" or data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return Outcome(ChargeState.FAILED, message="已撤销，顾客未付款 (closed: the customer did not pay)")
        if data.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":   # paid (or closed) meanwhile: ask which
            return await self.query(payment_no)
        raise ProviderUnreachable(f"支付宝关单失败：{data.get('sub_msg') or data.get('msg')}")

    async def refund(self, refund_no: str, payment_no: str, amount_fen: int, total_fen: int, reason: str) -> Outcome:
        data = await self._call(self._pay.api_alipay_trade_refund, refund_amount=yuan(amount_fen),
                                out_trade_no=payment_no, out_request_no=refund_no, refund_reason=reason or "退款")
        if data.get("code") == "10000":
            return Outcome(ChargeState.SUCCEEDED, data.get("trade_no"))
        return self._refused(data)

    def verify(self, headers: dict[str, str], body: bytes) -> Notice | None:
        """The notification if its RSA2 signature checks out with the SDK and it is for this app, else None."""
        try:
            data = dict(parse_qsl(body.decode(), keep_blank_values=True))
            signature = data.pop("sign", "")
            if not signature or not self._pay.verify(data, signature) or data.get("app_id") != self._app_id:
                return None
            return Notice(data["notify_id"], data["out_trade_no"],
                          TRADE_STATES.get(data.get("trade_status", ""), ChargeState.PENDING), data.get("trade_no"),
                          int(Decimal(data["total_amount"]) * 100))
        except (AliPayException, KeyError, ValueError, ArithmeticError, UnicodeDecodeError):
            return None
