"""车队管理 → 对账单 and 应收账款与催收 in a real Chromium against head office: the finance user (fleet:settle, no
pii:read) finds November's statement, opens it (its sales listed, card numbers masked), disputes one sale, resolves
the dispute and confirms the statement; then matches a transfer no rule could match to it by hand on 应收账款, and
the statement is paid in full — the audit chain and the ledger hold each step once. The dunning notice whose SMS
failed for want of a phone shows why, and 重新发送 queues it again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver

from business_services.audit.model import Actor
from business_services.cards.model import CHINA
from business_services.fleets import bank, dunning_sms, statements
from business_services.unit_of_work import UnitOfWork
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import log_in
from tests.integration.fleets.settle_support import sale
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.e2e

ROWS = ".list-page .el-table__body tr.el-table__row"


async def _seed(url: str) -> tuple[str, str, int]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        code = await make_enterprise(conn, name="顺达物流", statement_day=1)
        card = await make_card(conn, code, serial=1)
        for day, fen in ((3, 30_000), (12, 45_000), (25, 25_000)):
            await sale(conn, code, card, fen, datetime(2026, 11, day, 9, tzinfo=CHINA))
        await statements.issue_due(conn, datetime(2026, 12, 2, tzinfo=CHINA))
        async with UnitOfWork(conn, Actor.system("test-bank")) as uow:   # a transfer with nothing to match it by
            await bank.receive(uow, bank.Transfer("202612030000000001", "6222000000000000001", "6228480000000009",
                                                  "顺达物流有限公司", 100_000, "油款", datetime.now(UTC)), "poll")
        await conn.execute("INSERT INTO business.fleet_dunning_notices (statement_no, enterprise, level, overdue_days, "
                           "outstanding_fen, text, sms_status, sms_attempts, sms_error) VALUES (%s, %s, 1, 1, 100000, "
                           "'逾期 1 天', 'failed', 1, %s)", (f"FS{code[1:]}-20261201", code, dunning_sms.NO_PHONE))
    return code, f"FS{code[1:]}-20261201", 100_000


def test_finance_disputes_resolves_confirms_and_matches_a_statement(browser: webdriver.Chrome, real_site: RealSite,
                                                                    screenshots: Path) -> None:
    code, number, total = asyncio.run(_seed(real_site.database_url))
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "finance")
    page.click(".modules .el-menu-item", "车队管理")
    page.click(".side .el-menu-item", "对账单")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/statements"), "on the statements page")
    page.until(lambda: any(number in r.text for r in page.all(ROWS)), "the statement is listed")
    row = next(r for r in page.all(ROWS) if number in r.text)
    assert "1,000.00" in row.text and "待确认" in row.text and "未付" in row.text

    page.click(f"{ROWS} .show", "详情")
    page.until(lambda: len(page.all(".sales-lines .el-table__body tr")) == 3, "its three sales")
    # the drawer slides in: a cell still outside it has no text yet, so wait for every card cell to be drawn
    page.until(lambda: all("9100" in line for line in page.texts(".sales-lines .el-table__body tr")), "the cards shown")
    lines = page.texts(".sales-lines .el-table__body tr")
    assert all("9100********" in line for line in lines), lines          # masked: no pii:read
    page.click(".sales-lines .dispute-line", "提出异议")
    page.one(".el-dialog input[name=text]").send_keys("加油量与车辆记录不符")
    page.click(".el-dialog .save")
    page.until(lambda: page.all(".disputes .el-table__body tr"), "the dispute is listed")
    page.click(".disputes .resolve", "处理异议")
    page.one(".el-dialog input[name=text]").send_keys("核对油机记录无误")
    page.click(".el-dialog .save")
    page.until(lambda: any("核对油机记录无误" in r for r in page.texts(".disputes .el-table__body tr")), "resolved")
    page.click(".toolbar .confirm", "确认对账单")
    page.until(lambda: any(number in r.text and "已确认" in r.text for r in page.all(ROWS)), "confirmed")

    page.click(".el-drawer__close-btn")
    page.until(lambda: not any(d.is_displayed() for d in page.all(".el-drawer")), "the drawer closed")
    page.click(".side .el-menu-item", "应收账款与催收")
    page.until(lambda: browser.current_url.endswith("/admin/fleets/receivables"), "on the receivables page")
    page.until(lambda: any(code in r for r in page.texts(".ageing .el-table__body tr")), "the enterprise owes")
    notices = ".notices .el-table__body tr"
    page.until(lambda: any("发送失败" in r and "未登记联系人手机号" in r for r in page.texts(notices)),
               "the notice's SMS failed, and why")
    page.click(".notices .resend", "重新发送")
    page.until(lambda: any("待发送" in r for r in page.texts(notices)), "queued again")
    page.until(lambda: page.all(".unmatched .el-table__body tr .match"), "the transfer waits for a person")
    page.click(".unmatched .match", "手工核销")
    page.one(".el-dialog input[name=statement_no]").send_keys(number)
    page.click(".el-dialog .save")
    page.until(lambda: not page.all(".unmatched .el-table__body tr .match"), "nothing left to match")

    with psycopg.connect(real_site.database_url) as conn:
        paid = conn.execute("SELECT paid_fen, state FROM business.fleet_statements WHERE statement_no = %s",
                            (number,)).fetchone()
        actions = conn.execute("SELECT array_agg(action ORDER BY seq) FROM business.audit_log WHERE target = %s",
                               (f"fleet_statement:{number}",)).fetchone()
        owed = conn.execute("SELECT balance FROM business.ledger_balances WHERE code = %s",
                            (f"receivable:fleet:{code}",)).fetchone()
    assert paid == (total, "confirmed")
    assert actions is not None and actions[0] == ["fleet.statement.issue", "fleet.statement.dispute",
                                                  "fleet.statement.resolve", "fleet.statement.confirm",
                                                  "fleet.dunning.resend", "fleet.settle"]
    assert owed == (0,)
