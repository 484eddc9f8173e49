"""SQL that writes the ledger: an entry, its postings and the balances they move, in the caller's transaction.

``post`` is one call (one round trip) of ``business.ledger_post`` (migrations/0002_running_balances.sql): the
entry row (nothing more when its idempotency key is already posted), then each account's balance moved and
its posting written with its place in the account's history (``seq``) and the balance after it, read from the
row the call has just locked; a hot account (``Account.stripes`` > 1) moves one of its stripes instead
(migrations/0003_hot_accounts.sql). Accounts are moved in one order for every writer (``lock_order``), so
concurrent entries never deadlock. An account that may not go negative makes the call fail
(``CheckViolation``): nothing of the entry is written and the caller's transaction rolls back.
"""

from __future__ import annotations

import re

import psycopg

from business_services.ledger.model import Entry, Posting

FLOOR = "ledger_accounts_check"    # the CHECK that keeps an account that may not go negative at 0 or more


def lock_order(posting: Posting) -> tuple[bool, str]:
    """Accounts that may not go negative first (a refused entry then never queues for a busy company account,
    and holds no lock on one), then by code."""
    return posting.account.may_go_negative, posting.account.code


async def post(conn: psycopg.AsyncConnection, entry: Entry) -> int | None:
    """The new entry's id; None when an entry with this idempotency key is already posted (nothing changes).
    Raises ``psycopg.errors.CheckViolation`` when an account that may not go negative would (nothing of the
    entry is written; the transaction must roll back)."""
    postings = sorted(entry.postings, key=lock_order)
    accounts = [p.account for p in postings]
    cur = await conn.execute(
        "SELECT business.ledger_post(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (entry.idempotency_key, entry.kind, entry.station, entry.reference, entry.memo, entry.occurred_at,
         [a.code for a in accounts], [a.name for a in accounts], [a.kind.value for a in accounts],
         [a.unit.value for a in accounts], [a.station for a in accounts], [a.may_go_negative for a in accounts],
         [a.stripes for a in accounts], [p.amount for p in postings],
         [p.account.balance_change(p.amount) for p in postings]))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


class Overdrawn(Exception):
    """An entry refused because ``account`` (one that may not go negative) would have; nothing of it written."""

    def __init__(self, account: str) -> None:
        super().__init__(f"{account} would go below zero")
        self.account = account


async def post_within_balance(conn: psycopg.AsyncConnection, entry: Entry) -> int | None:
    """``post`` in a savepoint: ``Overdrawn`` when an account with a floor would go below it (the caller's
    transaction goes on without the entry: a refusal for the customer, "余额不足"); any other check still
    raises (a bug, not a want of balance)."""
    try:
        async with conn.transaction():
            return await post(conn, entry)
    except psycopg.errors.CheckViolation as error:
        account = overdrawn_account(error)
        if account is None:
            raise
        raise Overdrawn(account) from error


def overdrawn_account(error: psycopg.errors.CheckViolation) -> str | None:
    """The code of the account that would have gone below zero, when that is why ``post`` failed; None for any
    other check (an unbalanced entry found at commit is a bug, not a customer's want of balance). A route
    answers the first with 409 "余额不足", naming the account (masked for the screen)."""
    if error.diag.constraint_name != FLOOR:
        return None
    found = re.match(r"Failing row contains \(([^,]+),", error.diag.message_detail or "")
    return found[1] if found else ""
