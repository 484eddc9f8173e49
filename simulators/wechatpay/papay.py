"""WeChat Pay's 委托代扣 (papay, "免密支付") in the simulator: contracts signed by a user, deductions by contract.

The merchant's side (signed like every APIv3 call, ``server.py`` checks it):

- ``POST /v3/papay/sign/contracts/pre-entrust-sign/h5`` {appid, plan_id, out_contract_code,
  contract_display_account, notify_url} → ``{redirect_url}``: the signing page the user opens in WeChat. The same
  ``out_contract_code`` again answers the same page while it is unsigned; a code already signed or ended is 400
  ``INVALID_REQUEST`` (协议号已使用). An unknown ``plan_id`` is 400 ``PARAM_ERROR``.
- ``GET /v3/papay/sign/contracts/plan-id/{plan_id}/out-contract-code/{code}?appid=``: the contract
  (``contract_state`` ``SIGNED`` or ``TERMINATED``, its ``contract_id``, the user's ``openid``); 404
  ``RESOURCE_NOT_EXISTS`` until the user has signed.
- ``POST …/out-contract-code/{code}/terminate`` {appid, contract_termination_remark} → 204; ending an ended contract
  answers 204 again (nothing changes).
- ``POST /v3/papay/pay/transactions/apply`` {appid, description, out_trade_no, contract_id, notify_url,
  amount{total, currency}} → 204: the deduction is accepted (``ACCEPT``) and made at once, or later with
  ``deduct_later``; its result is asked with the ordinary ``GET /v3/pay/transactions/out-trade-no/{no}`` (trade
  type ``AUTO``: ``SUCCESS``, ``ACCEPT``, or ``PAYERROR`` with the reason, e.g. 用户余额不足) and a success is
  notified to ``notify_url`` as any payment. Refused at once: an unknown contract (400 ``CONTRACT_NOT_EXIST``), an
  ended one (403 ``CONTRACT_ERROR`` 委托代扣协议已解约), the same ``out_trade_no`` with other content (400
  ``INVALID_REQUEST`` 商户订单号重复); the same deduction again answers 204 and changes nothing.

The user's side (no signature, as in WeChat itself): ``GET /papay/sign/{token}`` is the signing page, ``POST
/papay/sign/{token}`` its 确认签约 button. Signing and ending are notified to the contract's ``notify_url``
(``PAPAY.SIGN`` / ``PAPAY.TERMINATE``, a ``contract`` resource encrypted as every notification).

Test control: ``POST /_sim/papay/contracts/{contract_id}/terminate`` (the user ends it in WeChat), ``GET
/_sim/papay/contracts``; ``Faults.papay_balance_fen`` (what the user's WeChat can pay: a deduction above it fails
with 用户余额不足) and ``Faults.deduct_later`` (deductions wait in ``ACCEPT`` until ``/_sim/pay`` or a query with
``pay_on_query``).
"""

from __future__ import annotations

import html
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from simulators.wechatpay.server import WeChatPaySim

PLAN_ID = 12535          # the simulated merchant's one withholding plan (the console's 模板 id)
NOT_ENOUGH = "用户余额不足"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Contract:
    out_contract_code: str
    plan_id: int
    display_account: str
    notify_url: str | None
    token: str                                  # the signing page's
    state: str = "UNSIGNED"                     # UNSIGNED SIGNED TERMINATED
    contract_id: str | None = None
    openid: str | None = None
    signed_time: str | None = None
    terminated_time: str | None = None
    termination_mode: str | None = None         # USER (in WeChat) or MCH_API (the merchant asked)

    def resource(self, mchid: str, appid: str) -> dict[str, Any]:
        data: dict[str, Any] = {"mchid": mchid, "appid": appid, "plan_id": self.plan_id,
                                "out_contract_code": self.out_contract_code, "contract_id": self.contract_id,
                                "contract_display_account": self.display_account, "contract_state": self.state,
                                "openid": self.openid, "contract_signed_time": self.signed_time}
        if self.state == "TERMINATED":
            data |= {"contract_terminated_time": self.terminated_time,
                     "contract_termination_mode": self.termination_mode}
        return data


class Papay:
    """The contracts of one merchant and the routes that act on them (deductions are ``server.Order`` rows)."""

    def __init__(self, sim: WeChatPaySim) -> None:
        self.sim = sim
        self.contracts: dict[str, Contract] = {}          # by out_contract_code

    def merchant_routes(self) -> list[Route]:
        base = "/v3/papay/sign/contracts/plan-id/{plan_id}/out-contract-code/{code}"
        return [Route("/v3/papay/sign/contracts/pre-entrust-sign/h5", self._presign, methods=["POST"]),
                Route(base, self._query, methods=["GET"]),
                Route(base + "/terminate", self._terminate, methods=["POST"]),
                Route("/v3/papay/pay/transactions/apply", self._apply, methods=["POST"])]

    def user_routes(self) -> list[Route]:
        return [Route("/papay/sign/{token}", self._page, methods=["GET"]),
                Route("/papay/sign/{token}", self._confirm, methods=["POST"]),
                Route("/_sim/papay/contracts", self._list, methods=["GET"]),
                Route("/_sim/papay/contracts/{contract_id}/terminate", self._user_ends, methods=["POST"])]

    def by_id(self, contract_id: str) -> Contract | None:
        return next((c for c in self.contracts.values() if c.contract_id == contract_id), None)

    # --- the merchant's calls -------------------------------------------------------------------

    async def _presign(self, request: Request, data: dict[str, Any]) -> Response:
        sim = self.sim
        code, plan = str(data.get("out_contract_code", "")), data.get("plan_id")
        if data.get("appid") != sim.keys.appid:
            return sim._error(400, "PARAM_ERROR", "appid 不匹配")
        if plan != PLAN_ID:
            return sim._error(400, "PARAM_ERROR", "模板 plan_id 不存在")
        if not (1 <= len(code) <= 32) or not str(data.get("contract_display_account", "")):
            return sim._error(400, "PARAM_ERROR", "参数错误：out_contract_code 或 contract_display_account")
        known = self.contracts.get(code)
        if known is not None and known.state != "UNSIGNED":
            return sim._error(400, "INVALID_REQUEST", "签约协议号已使用，请更换 out_contract_code")
        if known is None:
            known = Contract(code, plan, str(data["contract_display_account"])[:32], data.get("notify_url"),
                             secrets.token_urlsafe(16))
            self.contracts[code] = known
        return sim._answer(200, {"redirect_url": f"{str(request.base_url).rstrip('/')}/papay/sign/{known.token}"})

    def _found(self, request: Request) -> Contract | None:
        known = self.contracts.get(request.path_params["code"])
        if known is None or str(known.plan_id) != request.path_params["plan_id"] or known.state == "UNSIGNED":
            return None
        return known

    async def _query(self, request: Request, data: dict[str, Any]) -> Response:
        known = self._found(request)
        if known is None or request.query_params.get("appid") != self.sim.keys.appid:
            return self.sim._error(404, "RESOURCE_NOT_EXISTS", "签约关系不存在")
        return self.sim._answer(200, known.resource(self.sim.keys.mchid, self.sim.keys.appid))

    async def _terminate(self, request: Request, data: dict[str, Any]) -> Response:
        known = self._found(request)
        if known is None:
            return self.sim._error(404, "RESOURCE_NOT_EXISTS", "签约关系不存在")
        if known.state == "SIGNED":
            self._end(known, "MCH_API")
        return self.sim._answer(204)

    async def _apply(self, request: Request, data: dict[str, Any]) -> Response:
        sim = self.sim
        if data.get("appid") != sim.keys.appid:
            return sim._error(400, "PARAM_ERROR", "appid 不匹配")
        contract = self.by_id(str(data.get("contract_id", "")))
        if contract is None:
            return sim._error(400, "CONTRACT_NOT_EXIST", "委托代扣协议不存在")
        known = sim.orders.get(str(data.get("out_trade_no", "")))
        if known is not None and known.mode == "AUTO" and (known.total, known.description, known.contract_id) == (
                data.get("amount", {}).get("total"), str(data.get("description", "")), contract.contract_id):
            return sim._answer(204)                  # the same deduction again: accepted before, as it stands
        if contract.state != "SIGNED" and known is None:
            return sim._error(403, "CONTRACT_ERROR", "委托代扣协议已解约，请用户重新签约")
        order = sim._new_order({**data, "mchid": sim.keys.mchid}, "AUTO")
        if isinstance(order, Response):
            return order                             # 商户订单号重复: the number was used for something else
        order.trade_state, order.contract_id = "ACCEPT", contract.contract_id
        if not sim.faults.deduct_later:
            self.deduct(order)
        return sim._answer(204)

    def deduct(self, order: Any) -> None:
        """Take an accepted deduction from the user's WeChat: paid (and notified), or failed for want of money."""
        balance = self.sim.faults.papay_balance_fen
        contract = self.by_id(order.contract_id or "")
        if contract is None or contract.state != "SIGNED":
            order.trade_state, order.failure = "PAYERROR", "委托代扣协议已解约"
        elif balance is not None and order.total > balance:
            order.trade_state, order.failure = "PAYERROR", NOT_ENOUGH
        else:
            if balance is not None:
                self.sim.faults.papay_balance_fen = balance - order.total
            self.sim._customer_pays(order)

    # --- the user's side ------------------------------------------------------------------------

    def _by_token(self, token: str) -> Contract | None:
        return next((c for c in self.contracts.values() if c.token == token), None)

    async def _page(self, request: Request) -> Response:
        known = self._by_token(request.path_params["token"])
        if known is None:
            return HTMLResponse("<p>签约链接无效或已过期</p>", 404)
        done = "" if known.state == "UNSIGNED" else f"<p id='state'>{known.state}</p>"
        return HTMLResponse(
            f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>开通免密支付</title>"
            f"<h1>开通免密支付</h1><p>商户 {html.escape(self.sim.keys.mchid)} 申请按协议从你的微信支付扣款</p>"
            f"<p>账户：{html.escape(known.display_account)}</p>{done}"
            f"<form method='post'><button id='confirm' type='submit'>确认签约</button></form></html>")

    async def _confirm(self, request: Request) -> Response:
        known = self._by_token(request.path_params["token"])
        if known is None:
            return HTMLResponse("<p>签约链接无效或已过期</p>", 404)
        if known.state == "UNSIGNED":
            known.state, known.signed_time = "SIGNED", _now()
            known.contract_id = "Wx" + "".join(secrets.choice("0123456789") for _ in range(26))
            known.openid = "oUpF8u" + secrets.token_urlsafe(18)[:22]
            self._notify(known, "PAPAY.SIGN", "签约成功")
        return JSONResponse({"contract_state": known.state, "contract_id": known.contract_id})

    def _end(self, known: Contract, mode: str) -> None:
        known.state, known.terminated_time, known.termination_mode = "TERMINATED", _now(), mode
        self._notify(known, "PAPAY.TERMINATE", "解约成功")

    def _notify(self, known: Contract, event_type: str, summary: str) -> None:
        if known.notify_url:
            self.sim.send_notice(known.notify_url, known.out_contract_code, event_type, summary, "contract", "papay",
                                 known.resource(self.sim.keys.mchid, self.sim.keys.appid))

    async def _list(self, request: Request) -> Response:
        return JSONResponse([asdict(c) for c in self.contracts.values()])

    async def _user_ends(self, request: Request) -> Response:
        known = self.by_id(request.path_params["contract_id"])
        if known is None or known.state != "SIGNED":
            return JSONResponse({"error": "no such signed contract"}, 404)
        self._end(known, "USER")
        return JSONResponse(asdict(known))
