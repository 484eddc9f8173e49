"""A WeChat Pay APIv3 merchant gateway on a real port, for ``wechatpayv3`` and the tests.

It speaks the parts of ``https://api.mch.weixin.qq.com`` head office uses — Native and 付款码 orders, query
by ``out_trade_no``, close, refunds — with the real API's signatures: each request's ``Authorization``
(WECHATPAY2-SHA256-RSA2048) is checked against the merchant's public key (a bad one: 401 ``SIGN_ERROR``),
each answer is signed with the platform key (``Wechatpay-Timestamp/Nonce/Signature/Serial``), and a paid
order is announced to its ``notify_url`` as a signed notification with an AEAD_AES_256_GCM resource,
retried until the receiver answers 2xx. A second order with a used ``out_trade_no`` and other content is
refused (400 ``INVALID_REQUEST`` 商户订单号重复), the same order again answers as the first time.

Test control under ``/_sim`` (no signature): the customer pays (``POST /_sim/pay/{out_trade_no}``), faults
(``POST /_sim/faults``): the next answer comes only after ``delay_next_s`` (the work is done first, as when a
real answer is lost), each notification is sent twice, an order is paid only when the merchant queries or
closes it (the customer paid while the POS waited), refunds fail, a 付款码 payment waits for the
customer's password (202 ``USERPAYING``; ``/_sim/pay`` completes it). ``GET /_sim/notifications``: deliveries.

委托代扣 (papay: contracts signed by the user, deductions by contract, their failures) is ``papay.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import niquests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.wechatpay.keys import WeChatPayKeys
from simulators.wechatpay.papay import Papay

log = logging.getLogger(__name__)
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass
class Order:
    out_trade_no: str
    mode: str                      # NATIVE, MICROPAY (付款码) or AUTO (a deduction by contract, papay.py)
    description: str
    total: int                     # fen
    notify_url: str | None
    trade_state: str = "NOTPAY"    # NOTPAY USERPAYING ACCEPT SUCCESS CLOSED REFUND PAYERROR
    transaction_id: str | None = None
    success_time: str | None = None
    refunded: int = 0
    contract_id: str | None = None    # a deduction's contract
    failure: str | None = None        # why a PAYERROR failed (e.g. 用户余额不足)

    def paid(self) -> None:
        self.trade_state = "SUCCESS"
        self.transaction_id = "42000" + secrets.token_hex(12)
        self.success_time = datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Faults:
    delay_next_s: float = 0.0      # the next merchant call answers this late (after doing its work)
    notify_twice: bool = False     # each notification is delivered twice (same id)
    pay_on_query: bool = False     # a pending order is paid when the merchant queries or closes it
    refund_fails: bool = False     # refunds are refused (403 NOT_ENOUGH: 商户可用余额不足)
    needs_password: bool = False   # a 付款码 payment waits for the customer's password (202 USERPAYING)
    papay_balance_fen: int | None = None   # what the user's WeChat can pay by contract (None: enough)
    deduct_later: bool = False     # a deduction by contract waits in ACCEPT (until /_sim/pay or pay_on_query)


@dataclass
class Delivery:
    id: str
    out_trade_no: str
    attempts: list[int] = field(default_factory=list)    # the receiver's status per attempt (0: unreachable)


class WeChatPaySim:
    """The simulator's state and its ASGI app (``app``)."""

    def __init__(self, keys: WeChatPayKeys | None = None, retry_s: float = 0.2, max_attempts: int = 15) -> None:
        self.keys = keys or WeChatPayKeys()
        self.orders: dict[str, Order] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.faults = Faults()
        self.deliveries: list[Delivery] = []
        self.retry_s, self.max_attempts = retry_s, max_attempts
        self._merchant_key = cast(rsa.RSAPublicKey, serialization.load_pem_public_key(self.keys.merchant[1].encode()))
        self._platform_key = serialization.load_pem_private_key(self.keys.platform[0].encode(), None)
        self._tasks: set[asyncio.Task[None]] = set()
        self.papay = Papay(self)
        merchant = [*self.papay.merchant_routes(),
                    Route("/v3/pay/transactions/native", self._native, methods=["POST"]),
                    Route("/v3/pay/transactions/codepay", self._codepay, methods=["POST"]),
                    Route("/v3/pay/transactions/out-trade-no/{no}", self._query, methods=["GET"]),
                    Route("/v3/pay/transactions/out-trade-no/{no}/close", self._close, methods=["POST"]),
                    Route("/v3/refund/domestic/refunds", self._refund, methods=["POST"]),
                    Route("/v3/refund/domestic/refunds/{no}", self._query_refund, methods=["GET"])]
        control = [Route("/_sim/pay/{no}", self._sim_pay, methods=["POST"]),
                   Route("/_sim/faults", self._sim_faults, methods=["POST"]),
                   Route("/_sim/orders/{no}", self._sim_order, methods=["GET"]),
                   Route("/_sim/notifications", self._sim_notifications, methods=["GET"]),
                   *self.papay.user_routes()]
        self.app = Starlette(routes=[*(Route(r.path, self._signed(r.endpoint), methods=r.methods) for r in merchant),
                                     *control])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- signatures -----------------------------------------------------------------------------

    def _check_signature(self, request: Request, body: bytes) -> bool:
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        if scheme != SIGNATURE_TYPE:
            return False
        fields = dict(part.split("=", 1) for part in params.split(",") if "=" in part)
        fields = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
        stamp = fields.get("timestamp", "")
        if fields.get("mchid") != self.keys.mchid or not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
        message = f"{request.method}\n{target}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n" \
                  f"{body.decode()}\n"
        try:
            signature = base64.b64decode(fields.get("signature", ""))
            self._merchant_key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def signed_headers(self, body: str) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        key: rsa.RSAPrivateKey = self._platform_key  # type: ignore[assignment]
        signature = key.sign(f"{timestamp}\n{nonce}\n{body}\n".encode(), padding.PKCS1v15(), hashes.SHA256())
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": base64.b64encode(signature).decode(),
                "Wechatpay-Serial": self.keys.platform_key_id,
                "Wechatpay-Signature-Type": SIGNATURE_TYPE, "Request-ID": str(uuid.uuid4())}

    def _answer(self, status: int, data: dict[str, Any] | None = None) -> Response:
        body = "" if data is None else json.dumps(data, ensure_ascii=False)
        return Response(body, status, headers=self.signed_headers(body), media_type="application/json")

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._answer(status, {"code": code, "message": message})

    def _signed(self, endpoint: Any) -> Any:
        async def checked(request: Request) -> Response:
            body = await request.body()
            if not self._check_signature(request, body):
                log.warning("WeChat Pay simulator: bad request signature on %s", request.url.path)
                return self._error(401, "SIGN_ERROR", "签名错误")
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                return self._error(400, "PARAM_ERROR", "请求体不是合法的 JSON")
            if not isinstance(data, dict):
                return self._error(400, "PARAM_ERROR", "请求体应为 JSON 对象")
            answer: Response = await endpoint(request, data)
            delay, self.faults.delay_next_s = self.faults.delay_next_s, 0.0
            if delay:
                await asyncio.sleep(delay)       # the work is done; the answer comes too late
            return answer
        return checked

    # --- the merchant API -----------------------------------------------------------------------

    def _new_order(self, data: dict[str, Any], mode: str) -> Order | Response:
        if data.get("mchid") != self.keys.mchid or data.get("appid") != self.keys.appid:
            return self._error(400, "PARAM_ERROR", "商户号或 appid 不匹配")
        no, total = str(data.get("out_trade_no", "")), data.get("amount", {}).get("total")
        if not (6 <= len(no) <= 32) or not isinstance(total, int) or total <= 0:
            return self._error(400, "PARAM_ERROR", "参数错误：out_trade_no 或 amount.total")
        order = Order(no, mode, str(data.get("description", "")), total, data.get("notify_url"))
        known = self.orders.get(no)
        if known is not None:
            if (known.mode, known.total, known.description) != (order.mode, order.total, order.description):
                return self._error(400, "INVALID_REQUEST", "201 商户订单号重复")
            if known.trade_state == "SUCCESS":
                return self._error(403, "ORDERPAID", "该订单已支付")
            if known.trade_state == "CLOSED":
                return self._error(400, "ORDER_CLOSED", "订单已关闭")
            return known
        self.orders[no] = order
        return order

    async def _native(self, request: Request, data: dict[str, Any]) -> Response:
        order = self._new_order(data, "NATIVE")
        if isinstance(order, Response):
            return order
        return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={order.out_trade_no}"})

    async def _codepay(self, request: Request, data: dict[str, Any]) -> Response:
        auth_code = str(data.get("payer", {}).get("auth_code", ""))
        if not (len(auth_code) == 18 and auth_code.isdigit() and auth_code[:2] in {"10", "11", "12", "13", "14", "15"}):
            return self._error(400, "PARAM_ERROR", "付款码无效，请用户刷新付款码")
        order = self._new_order({**data, "notify_url": None}, "MICROPAY")
        if isinstance(order, Response):
            return order
        if order.trade_state == "NOTPAY" and self.faults.needs_password:
            order.trade_state = "USERPAYING"      # the customer confirms in WeChat (POST /_sim/pay)
        if order.trade_state == "USERPAYING":
            return self._error(202, "USERPAYING", "需要用户输入支付密码")
        if order.trade_state == "NOTPAY":
            order.paid()
        return self._answer(200, self._transaction(order))

    def _transaction(self, order: Order) -> dict[str, Any]:
        data: dict[str, Any] = {"appid": self.keys.appid, "mchid": self.keys.mchid, "out_trade_no": order.out_trade_no,
                                "trade_type": order.mode, "trade_state": order.trade_state,
                                "trade_state_desc": order.failure or {
                                    "SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭", "REFUND": "转入退款",
                                    "ACCEPT": "已接收，等待扣款"}.get(order.trade_state, order.trade_state),
                                "amount": {"total": order.total, "currency": "CNY"}}
        if order.transaction_id:
            data |= {"transaction_id": order.transaction_id, "success_time": order.success_time,
                     "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
                     "amount": {"total": order.total, "payer_total": order.total, "currency": "CNY",
                                "payer_currency": "CNY"}}
        return data

    def _pay_if_faulted(self, order: Order) -> None:
        if self.faults.pay_on_query and order.trade_state == "ACCEPT":
            self.papay.deduct(order)
        elif self.faults.pay_on_query and order.trade_state in ("NOTPAY", "USERPAYING"):
            self._customer_pays(order)

    async def _query(self, request: Request, data: dict[str, Any]) -> Response:
        order = self.orders.get(request.path_params["no"])
        if order is None or request.query_params.get("mchid") != self.keys.mchid:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        self._pay_if_faulted(order)
        return self._answer(200, self._transaction(order))

    async def _close(self, request: Request, data: dict[str, Any]) -> Response:
        order = self.orders.get(request.path_params["no"])
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        self._pay_if_faulted(order)
        if order.trade_state in ("SUCCESS", "REFUND"):
            return self._error(400, "ORDERPAID", "订单已支付，不能关闭")
        order.trade_state = "CLOSED"
        return self._answer(204)

    async def _refund(self, request: Request, data: dict[str, Any]) -> Response:
        order = self.orders.get(str(data.get("out_trade_no", "")))
        no, amount = str(data.get("out_refund_no", "")), data.get("amount", {})
        if order is None or order.trade_state not in ("SUCCESS", "REFUND"):
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        if no in self.refunds:
            return self._answer(200, self.refunds[no])
        if amount.get("total") != order.total or not isinstance(amount.get("refund"), int) or amount["refund"] <= 0:
            return self._error(400, "PARAM_ERROR", "退款金额或订单金额错误")
        if self.faults.refund_fails:
            return self._error(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")
        if order.refunded + amount["refund"] > order.total:
            return self._error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        order.refunded += amount["refund"]
        order.trade_state = "REFUND"
        refund = {"refund_id": "50000" + secrets.token_hex(12), "out_refund_no": no,
                  "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no, "channel": "ORIGINAL",
                  "status": "SUCCESS", "create_time": datetime.now(UTC).isoformat(timespec="seconds"),
                  "amount": {"refund": amount["refund"], "total": order.total, "currency": "CNY"}}
        self.refunds[no] = refund
        return self._answer(200, refund)

    async def _query_refund(self, request: Request, data: dict[str, Any]) -> Response:
        refund = self.refunds.get(request.path_params["no"])
        return self._answer(200, refund) if refund else self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")

    # --- notifications --------------------------------------------------------------------------

    def _customer_pays(self, order: Order) -> None:
        order.paid()
        if order.notify_url:
            delivery = Delivery(str(uuid.uuid4()), order.out_trade_no)
            self.deliveries.append(delivery)
            for _ in range(2 if self.faults.notify_twice else 1):     # twice: the same notification id
                task = asyncio.get_running_loop().create_task(self._notify(order, delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def notification(self, order: Order, notification_id: str) -> str:
        """The signed-body text of a TRANSACTION.SUCCESS notification (the resource encrypted with the APIv3 key)."""
        return self.notice(notification_id, "TRANSACTION.SUCCESS", "支付成功", "transaction", "transaction",
                           self._transaction(order))

    def notice(self, notification_id: str, event_type: str, summary: str, original_type: str, associated_data: str,
               resource: dict[str, Any]) -> str:
        """The body of a notification whose ``resource`` is encrypted with the APIv3 key (AEAD_AES_256_GCM)."""
        nonce = secrets.token_hex(6)                                  # 12 characters, as WeChat's
        plain = json.dumps(resource, ensure_ascii=False).encode()
        cipher = AESGCM(self.keys.apiv3_key.encode()).encrypt(nonce.encode(), plain, associated_data.encode())
        return json.dumps({"id": notification_id, "create_time": datetime.now(UTC).isoformat(timespec="seconds"),
                           "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary,
                           "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                                        "ciphertext": base64.b64encode(cipher).decode(),
                                        "associated_data": associated_data, "nonce": nonce}}, ensure_ascii=False)

    def send_notice(self, url: str, about: str, event_type: str, summary: str, original_type: str,
                    associated_data: str, resource: dict[str, Any]) -> None:
        """Deliver a notification (twice with ``notify_twice``, the same id), retried until the receiver takes it."""
        delivery = Delivery(str(uuid.uuid4()), about)
        self.deliveries.append(delivery)
        body = self.notice(delivery.id, event_type, summary, original_type, associated_data, resource)
        for _ in range(2 if self.faults.notify_twice else 1):
            task = asyncio.get_running_loop().create_task(self._deliver(url, body, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self, order: Order, delivery: Delivery) -> None:
        await self._deliver(str(order.notify_url), self.notification(order, delivery.id), delivery)

    async def _deliver(self, url: str, body: str, delivery: Delivery) -> None:
        async with niquests.AsyncSession() as http:
            for _ in range(self.max_attempts):
                try:
                    answer = await http.post(url, data=body.encode(), timeout=5,
                                             headers={**self.signed_headers(body), "Content-Type": "application/json"})
                    status = answer.status_code or 0
                except niquests.exceptions.RequestException:
                    status = 0
                delivery.attempts.append(status)
                if 200 <= status < 300:
                    return
                await asyncio.sleep(self.retry_s)

    # --- test control ---------------------------------------------------------------------------

    async def _sim_pay(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["no"])
        if order is None or order.trade_state not in ("NOTPAY", "USERPAYING", "ACCEPT"):
            return JSONResponse({"error": "no such unpaid order"}, 404)
        if order.trade_state == "ACCEPT":
            self.papay.deduct(order)        # a deduction by contract is made now (it may fail: PAYERROR)
        else:
            self._customer_pays(order)
        return JSONResponse(self._transaction(order))

    async def _sim_faults(self, request: Request) -> Response:
        self.faults = Faults(**await request.json())
        return JSONResponse(asdict(self.faults))

    async def _sim_order(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["no"])
        return JSONResponse(asdict(order)) if order else JSONResponse({"error": "no such order"}, 404)

    async def _sim_notifications(self, request: Request) -> Response:
        return JSONResponse([asdict(d) for d in self.deliveries])
