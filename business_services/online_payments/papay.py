"""WeChat Pay's 委托代扣 (papay, shown to people as 免密支付) through the real SDK (``wechatpayv3``).

The SDK has no papay helpers: each call goes through its generic ``Core.request``, which signs the request and
checks the answer's signature as for every APIv3 call. Contracts: ``presign`` (the H5 signing page the member
confirms on), ``contract`` (query by our ``out_contract_code``), ``terminate``. Deductions (``create`` with the
contract id as the payer's credential): ``POST /v3/papay/pay/transactions/apply`` accepts (204), then the ordinary
transaction query says what became of it (``SUCCESS``, ``ACCEPT`` = still pending, ``PAYERROR`` with the reason);
query, close and refund are WeChat Pay's ordinary ones (``WeChatGateway``). A deduction's success is notified
like any payment (``/notify/wechatpay``); contract changes to ``contract_notify_url``
(``/notify/wechatpay-papay``, ``verify_contract``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from wechatpayv3.type import RequestType

from business_services.online_payments.model import Outcome
from business_services.online_payments.settings import WeChatSettings
from business_services.online_payments.wechat import TRADE_STATES, WeChatGateway
from business_services.payments.providers import ChargeState

#: a deduction accepted and not yet made is pending, as an unpaid order
DEDUCTION_STATES = {**TRADE_STATES, "ACCEPT": ChargeState.PENDING}
CONTRACT_REFUSED = {"CONTRACT_NOT_EXIST", "CONTRACT_ERROR"}


class PapayRefused(Exception):
    """WeChat Pay refused a contract call; the message is for people (Chinese, then the code)."""


@dataclass(frozen=True, slots=True)
class ContractNotice:
    """A verified PAPAY.SIGN / PAPAY.TERMINATE notification, or a queried contract."""

    notification_id: str
    out_contract_code: str
    state: str                         # SIGNED or TERMINATED
    contract_id: str | None
    openid: str | None
    mode: str | None = None            # how it ended: USER (in WeChat) or MCH_API


class PapayGateway(WeChatGateway):
    name = "wechatpay"

    def __init__(self, settings: WeChatSettings, plan_id: int, contract_notify_url: str) -> None:
        super().__init__(settings)
        self.plan_id, self.contract_notify_url, self.appid = plan_id, contract_notify_url, settings.appid

    async def _request(self, path: str, method: RequestType = RequestType.GET,
                       data: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        core = self._pay._core
        return await self._call(lambda: core.request(path, method=method, data=data))

    def _contract_path(self, out_contract_code: str) -> str:
        return f"/v3/papay/sign/contracts/plan-id/{self.plan_id}/out-contract-code/{quote(out_contract_code)}"

    # --- contracts --------------------------------------------------------------------------------------------

    async def presign(self, out_contract_code: str, display_account: str) -> str:
        """The signing page's URL (H5 纯签约); the same code again gives the same page while unsigned."""
        code, data = await self._request("/v3/papay/sign/contracts/pre-entrust-sign/h5", RequestType.POST, {
            "appid": self.appid, "plan_id": self.plan_id, "out_contract_code": out_contract_code,
            "contract_display_account": display_account, "notify_url": self.contract_notify_url})
        if code == 200 and data.get("redirect_url"):
            return str(data["redirect_url"])
        raise PapayRefused(f"微信支付拒绝签约：{data.get('message', code)} ({data.get('code')})")

    async def contract(self, out_contract_code: str) -> ContractNotice | None:
        """The contract as WeChat Pay has it; None while the member has not signed."""
        code, data = await self._request(f"{self._contract_path(out_contract_code)}?appid={self.appid}")
        if code == 404:
            return None
        if code != 200:
            raise PapayRefused(f"微信支付查询签约失败：{data.get('message', code)}")
        return _contract(data, "")

    async def terminate(self, out_contract_code: str, remark: str) -> None:
        code, data = await self._request(f"{self._contract_path(out_contract_code)}/terminate", RequestType.POST,
                                         {"appid": self.appid, "contract_termination_remark": remark[:100]})
        if code not in (200, 204, 404):
            raise PapayRefused(f"微信支付解约失败：{data.get('message', code)} ({data.get('code')})")

    def verify_contract(self, headers: dict[str, str], body: bytes) -> ContractNotice | None:
        if headers.get("wechatpay-serial") != self._key_id:
            return None
        try:
            data = self._pay.callback(headers, body)
        except Exception:             # a missing or unknown signature type: the SDK raises
            return None
        if not data or data.get("event_type") not in ("PAPAY.SIGN", "PAPAY.TERMINATE"):
            return None
        return _contract(data["resource"], str(data["id"]))

    # --- deductions ------------------------------------------------------------------------------------------

    async def create(self, payment_no: str, amount_fen: int, description: str, auth_code: str | None) -> Outcome:
        """A deduction by the contract ``auth_code`` (the member's contract id): accepted, then asked at once."""
        if not auth_code:
            return Outcome(ChargeState.FAILED, message=NO_CONTRACT)
        code, data = await self._request("/v3/papay/pay/transactions/apply", RequestType.POST, {
            "appid": self.appid, "description": description, "out_trade_no": payment_no, "contract_id": auth_code,
            "notify_url": self._pay._notify_url, "amount": {"total": amount_fen, "currency": "CNY"}})
        if code in (200, 204):
            return await self.query(payment_no)
        if data.get("code") in CONTRACT_REFUSED:
            return Outcome(ChargeState.FAILED, message=TERMINATED)
        return Outcome(ChargeState.FAILED,
                       message=f"微信支付拒绝扣款：{data.get('message', code)} ({data.get('code')})")

    def _transaction(self, data: dict[str, Any]) -> Outcome:
        state = DEDUCTION_STATES.get(str(data.get("trade_state")), ChargeState.PENDING)
        why = str(data.get("trade_state_desc", ""))
        if state == ChargeState.FAILED:
            why = f"免密支付扣款失败：{why}，请收银员收款 (the deduction failed: the cashier takes it)"
        return Outcome(state, data.get("transaction_id"), message=why)


NO_CONTRACT = "会员未签约免密支付，请收银员收款 (the member has no payment agreement: the cashier takes it)"
TERMINATED = "免密支付协议已解约，请收银员收款 (the payment agreement was ended: the cashier takes it)"


def _contract(data: dict[str, Any], notification_id: str) -> ContractNotice:
    return ContractNotice(notification_id, str(data["out_contract_code"]), str(data.get("contract_state", "")),
                          data.get("contract_id"), data.get("openid"), data.get("contract_termination_mode"))
