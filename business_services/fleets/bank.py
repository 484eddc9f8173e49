"""The bank link (银企直连) at head office (docs/fleets.md "Statements, receivables and the bank"): incoming
transfers reach us twice over — the bank's signed notification, and our poll of the account's transaction details
(a notification may be lost) — and each is recorded once by the bank's serial (``fleet_transfer_received_entry``),
then matched: the statement numbers in its memo (附言); else, from an enterprise's known account, the one open
statement owing exactly its amount; else it waits on the Receivables page for a person (``settle`` by hand).
A match posts ``fleet_settlement_entry`` and adds to the statement's ``paid_fen``. The API is simulators/bank's."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from business_services.audit.model import Actor, AuditEntry
from business_services.cards.model import CHINA
from business_services.fleets.settlement_model import (
    OpenStatement,
    SettlementError,
    bank_signature,
    fen_of,
    match,
    memo_statements,
    signature_valid,
    yuan,
)
from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_settlement_entry, fleet_transfer_received_entry
from business_services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
PAGE_SIZE = 100
POLL_DAYS = 3          # a poll reads today and the two days before (a notification lost over a weekend's night)


class BadNotification(ValueError):
    """A notification that is not the bank's (signature, client) or not a transfer we can read."""


class BadSignature(BadNotification):
    """A notification not signed by the bank (or stamped too far from now)."""


class BankUnavailable(RuntimeError):
    """The bank did not answer a query properly (5xx, timeout, a refusal); the next poll tries again."""


@dataclass(frozen=True, slots=True)
class BankLink:
    base_url: str
    client_id: str
    secret: str
    account_no: str
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> BankLink | None:
        """``FORECOURT_BANK_URL``, ``_CLIENT_ID``, ``_SECRET``, ``_ACCOUNT``; None when not configured."""
        url = os.environ.get("FORECOURT_BANK_URL")
        if not url:
            return None
        return cls(url, os.environ.get("FORECOURT_BANK_CLIENT_ID", ""), os.environ.get("FORECOURT_BANK_SECRET", ""),
                   os.environ.get("FORECOURT_BANK_ACCOUNT", ""))


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_no: str
    account_no: str
    payer_account: str
    payer_name: str
    amount_fen: int
    memo: str
    booked_at: datetime


def transfer_of(record: dict[str, Any]) -> Transfer:
    """A bank record (a notification's or a query's) as a transfer; BadNotification when it is not a credit."""
    try:
        if record["direction"] != "C" or record.get("currency", "CNY") != "CNY":
            raise BadNotification("只接收人民币入账 (only CNY credits)")
        return Transfer(str(record["serial_no"]), str(record["account_no"]), str(record["payer_account"]),
                        str(record.get("payer_name", "")), fen_of(str(record["amount"])), str(record.get("memo", "")),
                        datetime.fromisoformat(str(record["booked_at"])))
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, BadNotification):
            raise
        raise BadNotification(f"入账记录不完整或格式错误 (a malformed record): {error}") from error


def verified(link: BankLink, headers: Any, body: bytes, now: float) -> Transfer:
    """A notification's transfer, once its signature is the bank's (``headers``: a mapping of the request's)."""
    if headers.get("X-Client-Id") != link.client_id or not signature_valid(
            link.secret, headers.get("X-Timestamp", ""), headers.get("X-Nonce", ""), body,
            headers.get("X-Signature", ""), now):
        raise BadSignature("签名验证失败 (the signature is not the bank's)")
    try:
        message = json.loads(body)
        record = message["record"]
    except (ValueError, KeyError, TypeError) as error:
        raise BadNotification("通知格式错误 (not a transfer notification)") from error
    transfer = transfer_of(record)
    if transfer.account_no != link.account_no:
        raise BadNotification("不是本单位账户的入账 (not our account)")
    return transfer


# ---- recording and matching ---------------------------------------------------------------------------------

async def receive(uow: UnitOfWork, t: Transfer, via: str) -> bool:
    """Record a transfer once (True the first time) and match it; a repeat changes nothing."""
    cur = await uow.conn.execute(
        "INSERT INTO business.bank_transfers (transfer_no, account_no, payer_account, payer_name, amount_fen, memo, "
        "booked_at, received_via) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (t.transfer_no, t.account_no, t.payer_account, t.payer_name, t.amount_fen, t.memo, t.booked_at, via))
    if cur.rowcount == 0:
        return False
    await ledger.post(uow.conn, fleet_transfer_received_entry(t.transfer_no, t.amount_fen, t.booked_at))
    await uow.audit(AuditEntry("bank.transfer.receive", f"bank_transfer:{t.transfer_no}", None, None,
                               {"amount_fen": t.amount_fen, "via": via, "memo": t.memo}))
    await auto_match(uow, t.transfer_no)
    return True


async def _open(conn: psycopg.AsyncConnection[Any], where: str, arg: Any) -> list[OpenStatement]:
    cur = await conn.execute(
        f"SELECT statement_no, enterprise, total_fen - paid_fen FROM business.fleet_statements WHERE {where} "  # noqa: S608
        "AND paid_fen < total_fen ORDER BY statement_no FOR UPDATE", (arg,))
    return [OpenStatement(*row) for row in await cur.fetchall()]


async def auto_match(uow: UnitOfWork, transfer_no: str) -> int:
    """Match what is left of a transfer by its memo or its payer (``settlement_model.match``); fen matched."""
    row = await (await uow.conn.execute(
        "SELECT payer_account, memo, amount_fen - matched_fen FROM business.bank_transfers WHERE transfer_no = %s "
        "FOR UPDATE", (transfer_no,))).fetchone()
    if row is None or row[2] <= 0:
        return 0
    payer_account, memo, left = row
    named_nos = memo_statements(memo)
    named = {s.statement_no: s for s in await _open(uow.conn, "statement_no = ANY(%s)", named_nos)}
    payer = await (await uow.conn.execute("SELECT enterprise FROM business.fleet_payer_accounts WHERE account_no = %s",
                                          (payer_account,))).fetchone()
    of_payer = [] if named or payer is None else await _open(uow.conn, "enterprise = %s", payer[0])
    matched = 0
    for m in match(payer[0] if payer else None, left, [named[n] for n in named_nos if n in named], of_payer):
        matched += await _settle(uow, transfer_no, m.statement_no, m.enterprise, m.amount_fen, m.how,
                                 uow.actor.name)
    return matched


async def match_waiting(uow: UnitOfWork, number: str) -> int:
    """A new statement pays itself from transfers that named it before it was issued (an enterprise paying early);
    fen matched."""
    cur = await uow.conn.execute("SELECT transfer_no FROM business.bank_transfers WHERE matched_fen < amount_fen "
                                 "AND upper(memo) LIKE '%%' || %s || '%%' ORDER BY seq", (number,))
    return sum([await auto_match(uow, transfer_no) for (transfer_no,) in await cur.fetchall()])


async def settle(uow: UnitOfWork, transfer_no: str, number: str, amount_fen: int, by: str) -> int:
    """A person's match (the manual-match queue): ``amount_fen`` of the transfer to the statement."""
    t = await (await uow.conn.execute("SELECT amount_fen - matched_fen FROM business.bank_transfers "
                                      "WHERE transfer_no = %s FOR UPDATE", (transfer_no,))).fetchone()
    s = await (await uow.conn.execute("SELECT enterprise, total_fen - paid_fen FROM business.fleet_statements "
                                      "WHERE statement_no = %s FOR UPDATE", (number,))).fetchone()
    if t is None or s is None:
        raise LookupError(transfer_no if t is None else number)
    if amount_fen > t[0]:
        raise SettlementError(f"核销金额超过该笔到账未核销的余额 {yuan(t[0])} 元 (more than the transfer has left)")
    if amount_fen > s[1]:
        raise SettlementError(f"核销金额超过对账单未付金额 {yuan(s[1])} 元 (more than the statement still owes)")
    return await _settle(uow, transfer_no, number, s[0], amount_fen, "manual", by)


async def _settle(uow: UnitOfWork, transfer_no: str, number: str, enterprise: str, amount_fen: int, how: str,
                  by: str) -> int:
    settlement_no = f"{transfer_no}:{number}"
    cur = await uow.conn.execute(
        "INSERT INTO business.fleet_settlements (settlement_no, transfer_no, statement_no, enterprise, amount_fen, "
        "how, settled_by) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING settled_at",
        (settlement_no, transfer_no, number, enterprise, amount_fen, how, by))
    row = await cur.fetchone()
    if row is None:
        raise SettlementError("这笔到账已核销到该对账单 (this transfer is matched to this statement already)")
    await uow.conn.execute("UPDATE business.fleet_statements SET paid_fen = paid_fen + %s WHERE statement_no = %s",
                           (amount_fen, number))
    await uow.conn.execute("UPDATE business.bank_transfers SET matched_fen = matched_fen + %s WHERE transfer_no = %s",
                           (amount_fen, transfer_no))
    await ledger.post(uow.conn, fleet_settlement_entry(settlement_no, enterprise, amount_fen, row[0]))
    await uow.conn.execute(   # the payer's account pays this enterprise's statements from now on
        "INSERT INTO business.fleet_payer_accounts (account_no, enterprise, learned_from) SELECT payer_account, %s, %s "
        "FROM business.bank_transfers WHERE transfer_no = %s AND payer_account ~ '^[0-9]{8,32}$' "
        "ON CONFLICT DO NOTHING", (enterprise, transfer_no, transfer_no))
    await uow.audit(AuditEntry("fleet.settle", f"fleet_statement:{number}", None, None,
                               {"transfer_no": transfer_no, "amount_fen": amount_fen, "how": how}))
    return amount_fen


async def transfers(conn: psycopg.AsyncConnection[Any], *, unmatched: bool, limit: int) -> list[dict[str, Any]]:
    """Transfers received, newest first (``unmatched``: those with money left to match: the manual queue)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT transfer_no, payer_account, payer_name, amount_fen, matched_fen, memo, booked_at, "
                          "received_via, received_at FROM business.bank_transfers WHERE NOT %s OR matched_fen < "
                          "amount_fen ORDER BY seq DESC LIMIT %s", (unmatched, limit))
        return list(await cur.fetchall())


async def add_payer_account(uow: UnitOfWork, account_no: str, enterprise: str) -> bool:
    """Register an enterprise's paying account (audited); False when it is already this enterprise's.
    SettlementError when it is another's."""
    cur = await uow.conn.execute("INSERT INTO business.fleet_payer_accounts (account_no, enterprise, learned_from) "
                                 "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (account_no, enterprise, uow.actor.name))
    if cur.rowcount == 0:
        row = await (await uow.conn.execute("SELECT enterprise FROM business.fleet_payer_accounts WHERE "
                                            "account_no = %s", (account_no,))).fetchone()
        if row is None or row[0] != enterprise:
            raise SettlementError("该账户已登记为其他企业的付款账户，请核对 (the account is another enterprise's)")
        return False
    await uow.audit(AuditEntry("fleet.payer_account.add", f"fleet_enterprise:{enterprise}", None, None,
                               {"account_no": "****" + account_no[-4:]}))
    return True


# ---- polling the bank ---------------------------------------------------------------------------------------

def _signed(link: BankLink, payload: bytes) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    return {"X-Client-Id": link.client_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
            "X-Signature": bank_signature(link.secret, timestamp, nonce, payload)}


async def transactions(link: BankLink, client: httpx.AsyncClient, first: date, last: date) -> list[dict[str, Any]]:
    """Every credit record of the account booked ``first``..``last`` (all pages); BankUnavailable on a failure."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        query = f"from={first:%Y%m%d}&to={last:%Y%m%d}&page={page}&page_size={PAGE_SIZE}"
        url = f"{link.base_url}/cbe/v1/accounts/{link.account_no}/transactions?{query}"
        try:
            answer = await client.get(url, headers=_signed(link, query.encode()), timeout=link.timeout_s)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise BankUnavailable(f"银行查询失败 (the bank did not answer): {error!r}") from error
        if answer.status_code != 200 or body.get("code") != "0000":
            raise BankUnavailable(f"银行查询失败 {answer.status_code} {body.get('code')} {body.get('msg')}")
        records += body["data"]["records"]
        if page * PAGE_SIZE >= body["data"]["total"]:
            return records
        page += 1


async def poll(conn: psycopg.AsyncConnection[Any], link: BankLink, client: httpx.AsyncClient, today: date) -> int:
    """Record the transfers of the last ``POLL_DAYS`` days that no notification brought; how many were new."""
    new = 0
    for record in await transactions(link, client, today - timedelta(days=POLL_DAYS - 1), today):
        try:
            transfer = transfer_of(record)
        except BadNotification as error:
            log.warning("bank record %s skipped: %s", record.get("serial_no"), error)
            continue
        async with UnitOfWork(conn, Actor.system("bank-poll")) as uow:
            new += await receive(uow, transfer, "poll")
    return new


async def poll_job(conn: psycopg.AsyncConnection[Any]) -> int:
    """The scheduled poll (business_services/jobs): the configured bank's last days; 0 when there is none set up,
    and 0 (logged) when the bank fails — the next run asks again."""
    link = BankLink.from_env()
    if link is None:
        return 0
    async with httpx.AsyncClient() as client:
        try:
            return await poll(conn, link, client, datetime.now(CHINA).date())
        except BankUnavailable as error:
            log.warning("bank poll failed: %s", error)
            return 0
