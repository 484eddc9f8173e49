"""An Alipay open-platform gateway (``/gateway.do``) on a real port, for ``python-alipay-sdk`` and the tests.

It answers ``alipay.trade.precreate`` (a QR code), ``alipay.trade.pay`` (the customer's bar code, 付款码),
``alipay.trade.query``, ``alipay.trade.close``, ``alipay.trade.cancel`` and ``alipay.trade.refund`` the way
the real gateway does: the request's RSA2 signature (over the sorted parameters but ``sign``) is checked
with the app's public key (a bad one: ``isv.invalid-signature``, unsigned), each answer is
``{"<method>_response": {…}, "sign": …}`` signed with Alipay's key over the response object's exact
text, and a paid QR order is announced to its ``notify_url`` as a signed form POST, retried until the
receiver answers ``success``. Amounts are yuan strings (``"50.00"``), as Alipay's.

Test control under ``/_sim`` as the WeChat Pay simulator's: ``POST /_sim/pay/{out_trade_no}``, ``POST
/_sim/faults`` (``delay_next_s``, ``notify_twice``, ``pay_on_query``, ``refund_fails``), ``GET
/_sim/notifications``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import niquests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.wechatpay.keys import key_pair
from simulators.wechatpay.server import Delivery, Faults

OK = {"code": "10000", "msg": "Success"}
BEIJING = ZoneInfo("Asia/Shanghai")    # Alipay's times are Beijing time without a zone


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fen(value: str) -> int:
    return int(Decimal(value) * 100)


@dataclass(frozen=True)
class AlipayKeys:
    app_id: str = "2021000000000001"
    app: tuple[str, str] = field(default_factory=key_pair, repr=False)      # the app's (private, public) PEM
    alipay: tuple[str, str] = field(default_factory=key_pair, repr=False)   # Alipay's

    def merchant_config(self, base_url: str) -> dict[str, str]:
        """What the merchant configures (head office's ALIPAY_* settings, docs/online-payments.md)."""
        return {"gateway": f"{base_url}/gateway.do", "app_id": self.app_id, "app_private_key": self.app[0],
                "alipay_public_key": self.alipay[1]}


@dataclass
class Trade:
    out_trade_no: str
    total: int                       # fen
    subject: str
    notify_url: str | None
    status: str = "WAIT_BUYER_PAY"   # WAIT_BUYER_PAY TRADE_SUCCESS TRADE_CLOSED
    trade_no: str | None = None
    refunded: int = 0

    def paid(self) -> None:
        self.status, self.trade_no = "TRADE_SUCCESS", datetime.now(BEIJING).strftime("%Y%m%d") + "2200" + \
            str(secrets.randbelow(10**14)).zfill(14)


class AlipaySim:
    def __init__(self, keys: AlipayKeys | None = None, retry_s: float = 0.2, max_attempts: int = 15) -> None:
        self.keys = keys or AlipayKeys()
        self.trades: dict[str, Trade] = {}
        self.refunds: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults = Faults()
        self.deliveries: list[Delivery] = []
        self.retry_s, self.max_attempts = retry_s, max_attempts
        self._app_key = cast(rsa.RSAPublicKey, serialization.load_pem_public_key(self.keys.app[1].encode()))
        self._alipay_key = cast(rsa.RSAPrivateKey, serialization.load_pem_private_key(self.keys.alipay[0].encode(),
                                                                                      None))
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = Starlette(routes=[Route("/gateway.do", self._gateway, methods=["GET", "POST"]),
                                     Route("/_sim/pay/{no}", self._sim_pay, methods=["POST"]),
                                     Route("/_sim/faults", self._sim_faults, methods=["POST"]),
                                     Route("/_sim/notifications", self._sim_notifications, methods=["GET"])])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- signatures -----------------------------------------------------------------------------

    def sign(self, text: str) -> str:
        return base64.b64encode(self._alipay_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    @staticmethod
    def signing_text(params: dict[str, str], *leave_out: str) -> str:
        return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", *leave_out))

    def _signed_by_app(self, params: dict[str, str]) -> bool:
        try:
            self._app_key.verify(base64.b64decode(params.get("sign", "")), self.signing_text(params).encode(),
                                 padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return params.get("app_id") == self.keys.app_id and params.get("sign_type") == "RSA2"

    def _answer(self, method: str, data: dict[str, Any], signed: bool = True) -> Response:
        inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        key = method.replace(".", "_") + "_response"
        text = f'{{"{key}":{inner}' + (f',"sign":"{self.sign(inner)}"}}' if signed else "}")
        return Response(text, media_type="application/json;charset=utf-8")

    # --- the gateway ----------------------------------------------------------------------------

    async def _gateway(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params |= {k: str(v) for k, v in (await request.form()).items()}
        method = params.get("method", "")
        if not self._signed_by_app(params):
            return self._answer(method, {"code": "40002", "msg": "Invalid Arguments",
                                         "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}, signed=False)
        try:
            biz = json.loads(params.get("biz_content", "{}"))
        except ValueError:
            biz = None
        if not isinstance(biz, dict):
            return self._answer(method, {"code": "40002", "msg": "Invalid Arguments",
                                         "sub_code": "isv.invalid-parameter", "sub_msg": "biz_content 无效"})
        handler = {"alipay.trade.precreate": self._precreate, "alipay.trade.pay": self._pay,
                   "alipay.trade.query": self._query, "alipay.trade.close": self._close,
                   "alipay.trade.cancel": self._cancel, "alipay.trade.refund": self._refund}.get(method)
        data = handler(biz, params) if handler else {"code": "40004", "msg": "Business Failed",
                                                    "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"}
        delay, self.faults.delay_next_s = self.faults.delay_next_s, 0.0
        if delay:
            await asyncio.sleep(delay)           # the work is done; the answer comes too late
        return self._answer(method, data)

    @staticmethod
    def _failed(sub_code: str, sub_msg: str) -> dict[str, Any]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _new_trade(self, biz: dict[str, Any], notify_url: str | None) -> Trade | dict[str, Any]:
        no = str(biz.get("out_trade_no", ""))
        try:
            total = fen(str(biz["total_amount"]))
        except (KeyError, ArithmeticError, ValueError):
            return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter",
                    "sub_msg": "total_amount 无效"}
        trade = Trade(no, total, str(biz.get("subject", "")), notify_url)
        known = self.trades.get(no)
        if known is None:
            self.trades[no] = trade
            return trade
        if (known.total, known.subject) != (trade.total, trade.subject):
            return self._failed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
        if known.status == "TRADE_SUCCESS":
            return self._failed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        if known.status == "TRADE_CLOSED":
            return self._failed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
        return known

    def _precreate(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self._new_trade(biz, params.get("notify_url"))
        if isinstance(trade, dict):
            return trade
        return {**OK, "out_trade_no": trade.out_trade_no, "qr_code": f"https://qr.alipay.com/{trade.out_trade_no}"}

    def _pay(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        code = str(biz.get("auth_code", ""))
        if not (code.isdigit() and 16 <= len(code) <= 24 and code[:2] in {"25", "26", "27", "28", "29", "30"}):
            return self._failed("ACQ.PAYMENT_AUTH_CODE_INVALID", "获取顾客账户信息失败，请顾客刷新付款码后重新收款")
        trade = self._new_trade(biz, None)
        if isinstance(trade, dict):
            return trade
        trade.paid()
        return {**OK, **self._trade(trade)}

    def _trade(self, trade: Trade) -> dict[str, Any]:
        data = {"out_trade_no": trade.out_trade_no, "trade_status": trade.status, "total_amount": yuan(trade.total)}
        if trade.trade_no:
            data |= {"trade_no": trade.trade_no, "buyer_logon_id": "csq***@example.com",
                     "receipt_amount": yuan(trade.total)}
        return data

    def _find(self, biz: dict[str, Any]) -> Trade | None:
        return self.trades.get(str(biz.get("out_trade_no", "")))

    def _query(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self._find(biz)
        if trade is None:
            return self._failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        self._pay_if_faulted(trade)
        return {**OK, **self._trade(trade)}

    def _pay_if_faulted(self, trade: Trade) -> None:
        if self.faults.pay_on_query and trade.status == "WAIT_BUYER_PAY":
            self._customer_pays(trade)

    def _close(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self._find(biz)
        if trade is None:
            return self._failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        self._pay_if_faulted(trade)
        if trade.status != "WAIT_BUYER_PAY":
            return self._failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return {**OK, "out_trade_no": trade.out_trade_no}

    def _cancel(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        """Cancel (撤销): closes an unpaid trade, refunds a paid one in full."""
        trade = self._find(biz)
        if trade is None:
            return self._failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        action = "close" if trade.status == "WAIT_BUYER_PAY" else "refund"
        if action == "refund":
            trade.refunded = trade.total
        trade.status = "TRADE_CLOSED"
        return {**OK, "out_trade_no": trade.out_trade_no, "retry_flag": "N", "action": action}

    def _refund(self, biz: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        trade = self._find(biz)
        if trade is None or trade.status != "TRADE_SUCCESS":
            return self._failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        request_no = str(biz.get("out_request_no") or trade.out_trade_no)
        if (trade.out_trade_no, request_no) in self.refunds:
            return self.refunds[(trade.out_trade_no, request_no)]
        if self.faults.refund_fails:
            return self._failed("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
        amount = fen(str(biz.get("refund_amount", "0")))
        if amount <= 0 or trade.refunded + amount > trade.total:
            return self._failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        trade.refunded += amount
        answer = {**OK, "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, "fund_change": "Y",
                  "refund_fee": yuan(trade.refunded)}
        self.refunds[(trade.out_trade_no, request_no)] = answer
        return answer

    # --- notifications --------------------------------------------------------------------------

    def _customer_pays(self, trade: Trade) -> None:
        trade.paid()
        if trade.notify_url:
            delivery = Delivery(uuid.uuid4().hex, trade.out_trade_no)
            self.deliveries.append(delivery)
            for _ in range(2 if self.faults.notify_twice else 1):
                task = asyncio.get_running_loop().create_task(self._notify(trade, delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def notification(self, trade: Trade, notify_id: str) -> dict[str, str]:
        """The signed form fields of a trade_status_sync notification."""
        fields = {"notify_time": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                  "notify_type": "trade_status_sync",
                  "notify_id": notify_id, "app_id": self.keys.app_id, "charset": "utf-8", "version": "1.0",
                  "trade_no": trade.trade_no or "", "out_trade_no": trade.out_trade_no,
                  "trade_status": trade.status, "total_amount": yuan(trade.total),
                  "receipt_amount": yuan(trade.total), "subject": trade.subject}
        return {**fields, "sign_type": "RSA2", "sign": self.sign(self.signing_text(fields))}

    async def _notify(self, trade: Trade, delivery: Delivery) -> None:
        form = self.notification(trade, delivery.id)
        async with niquests.AsyncSession() as http:
            for _ in range(self.max_attempts):
                try:
                    answer = await http.post(str(trade.notify_url), data=form, timeout=5)
                    status = answer.status_code or 0
                    ok = answer.text == "success"
                except niquests.exceptions.RequestException:
                    status, ok = 0, False
                delivery.attempts.append(status)
                if ok:
                    return
                await asyncio.sleep(self.retry_s)

    # --- test control ---------------------------------------------------------------------------

    async def _sim_pay(self, request: Request) -> Response:
        trade = self.trades.get(request.path_params["no"])
        if trade is None or trade.status != "WAIT_BUYER_PAY":
            return JSONResponse({"error": "no such unpaid trade"}, 404)
        self._customer_pays(trade)
        return JSONResponse(self._trade(trade))

    async def _sim_faults(self, request: Request) -> Response:
        self.faults = Faults(**await request.json())
        return JSONResponse(asdict(self.faults))

    async def _sim_notifications(self, request: Request) -> Response:
        return JSONResponse([asdict(d) for d in self.deliveries])
