"""WeChat Pay through its real SDK (``wechatpayv3``), in the platform-public-key mode.

The SDK has no gateway option: ``Core._gate_way`` (its one base URL) is set after construction — the
smallest way to point it at the simulator (docs/online-payments.md). The SDK is synchronous (``requests``);
each call runs in a worker thread. A time-out, a refused connection, a 5xx or an answer whose signature
fails is ``ProviderUnreachable``: the outcome is unknown and the payment stays pending.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from business_services.online_payments.model import Notice, Outcome, ProviderUnreachable
from business_services.online_payments.settings import WeChatSettings
from business_services.payments.providers import ChargeState

TRADE_STATES = {"SUCCESS": ChargeState.SUCCEEDED, "REFUND": ChargeState.SUCCEEDED,
                "NOTPAY": ChargeState.PENDING, "USERPAYING": ChargeState.PENDING,
                "CLOSED": ChargeState.FAILED, "REVOKED": ChargeState.FAILED, "PAYERROR": ChargeState.FAILED}


class WeChatGateway:
    name = "wechatpay"

    def __init__(self, settings: WeChatSettings) -> None:
        self._pay = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, mchid=settings.mchid,
                              private_key=settings.merchant_private_key, cert_serial_no=settings.merchant_serial,
                              appid=settings.appid, apiv3_key=settings.apiv3_key, notify_url=settings.notify_url,
                              public_key=settings.platform_public_key, public_key_id=settings.platform_key_id,
                              timeout=(3, settings.timeout_s))
        self._pay._core._gate_way = settings.gateway.rstrip("/")
        self._key_id = settings.platform_key_id

    async def _call(self, method: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            code, text = await asyncio.to_thread(method, **kwargs)
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"微信支付无应答 (WeChat Pay did not answer: {type(exc).__name__})") from exc
        except Exception as exc:      # the SDK raises a bare Exception for an answer whose signature fails
            if "verify the signature" not in str(exc):
                raise
            raise ProviderUnreachable("微信支付应答验签失败 (WeChat Pay's answer failed verification)") from exc
        if code >= 500:
            raise ProviderUnreachable(f"微信支付系统繁忙 (WeChat Pay answered {code})")
        data = json.loads(text) if isinstance(text, str) and text else {}
        return code, data

    def _transaction(self, data: dict[str, Any]) -> Outcome:
        state = TRADE_STATES.get(str(data.get("trade_state")), ChargeState.PENDING)
        return Outcome(state, data.get("transaction_id"), message=str(data.get("trade_state_desc", "")))

    async def create(self, payment_no: str, amount_fen: int, description: str, auth_code: str | None) -> Outcome:
        if auth_code is not None:
            code, data = await self._call(self._pay.pay, description=description, out_trade_no=payment_no,
                                          amount={"total": amount_fen, "currency": "CNY"},
                                          payer={"auth_code": auth_code}, pay_type=WeChatPayType.CODEPAY)
            if code == 200:
                return self._transaction(data)
            if data.get("code") == "USERPAYING":        # the customer enters the password; ask again
                return Outcome(ChargeState.PENDING, message="等待顾客输入支付密码 (the customer confirms in WeChat)")
        else:
            code, data = await self._call(self._pay.pay, description=description, out_trade_no=payment_no,
                                          amount={"total": amount_fen, "currency": "CNY"})
            if code == 200:
                return Outcome(ChargeState.PENDING, qr_code_url=data["code_url"], message="请顾客用微信扫码支付")
        if data.get("code") == "ORDERPAID":
            return await self.query(payment_no)
        return Outcome(ChargeState.FAILED, message=f"微信支付拒绝：{data.get('message', code)} ({data.get('code')})")

    async def query(self, payment_no: str) -> Outcome:
        code, data = await self._call(self._pay.query, out_trade_no=payment_no)
        if code == 200:
            return self._transaction(data)
        if data.get("code") == "ORDER_NOT_EXIST":
            return Outcome(ChargeState.PENDING, message="微信支付尚无此订单 (no such order at WeChat Pay yet)")
        raise ProviderUnreachable(f"微信支付查询失败：{data.get('message', code)}")

    async def close(self, payment_no: str) -> Outcome:
        code, data = await self._call(self._pay.close, out_trade_no=payment_no)
        if code in (200, 204):
            return Outcome(ChargeState.FAILED, message="已撤销，顾客未付款 (closed: the customer did not pay)")
        if data.get("code") in ("ORDERPAID", "ORDER_NOT_EXIST"):
            return await self.query(payment_no)
        raise ProviderUnreachable(f"微信支付关单失败：{data.get('message', code)}")

    async def refund(self, refund_no: str, payment_no: str, amount_fen: int, total_fen: int, reason: str) -> Outcome:
        code, data = await self._call(self._pay.refund, out_refund_no=refund_no, out_trade_no=payment_no,
                                      amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
                                      reason=reason or None)
        if code == 200 and data.get("status") in ("SUCCESS", "PROCESSING"):
            return Outcome(ChargeState.SUCCEEDED, data.get("refund_id"))
        return Outcome(ChargeState.FAILED, message=f"微信支付拒绝退款：{data.get('message', code)} "
                                                   f"({data.get('code')})")

    def verify(self, headers: dict[str, str], body: bytes) -> Notice | None:
        """The notification if it is signed with our platform key id and its signature and encryption check out
        with the SDK, else None. ``headers`` with lower-case names (as Starlette gives them)."""
        if headers.get("wechatpay-serial") != self._key_id:
            return None      # else the SDK would fetch platform certificates, blocking, for a forger's serial
        try:
            data = self._pay.callback(headers, body)
        except Exception:             # a missing or unknown signature type: the SDK raises
            return None
        if not data or data.get("event_type") != "TRANSACTION.SUCCESS":
            return None
        resource = data["resource"]
        return Notice(str(data["id"]), str(resource["out_trade_no"]),
                      TRADE_STATES.get(str(resource.get("trade_state")), ChargeState.PENDING),
                      resource.get("transaction_id"), int(resource["amount"]["total"]))
