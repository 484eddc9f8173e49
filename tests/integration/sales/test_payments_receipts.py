"""The order's receipt: a printable page with the order, and ESC/POS bytes (GB18030 Chinese) that reach a
network printer (simulators/receipt_printer); a reprint says 重印 COPY."""

from __future__ import annotations

import uuid

import pytest

from simulators.receipt_printer import ReceiptPrinter
from tests.integration.sales.payments_support import STATION, add_orders, cash, cashier, open_shift, station_api

pytestmark = pytest.mark.integration


async def test_receipt_page_and_print_with_a_marked_reprint(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 29000)
    async with ReceiptPrinter() as printer, station_api(url, printer=printer.target) as (app, http):
        auth = cashier(app)
        answer = await http.post(f"/api/v1/stations/{STATION}/payments",
                                 headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                                 json={"terminal": "pos-1", "order_nos": [order_no],
                                       "tenders": [cash(20000), {"method": "other", "amount_fen": 9000,
                                                                 "note": "滴滴代金券"}]})
        assert answer.status_code == 200, answer.text
        receipt = f"/api/v1/stations/{STATION}/orders/{order_no}/receipt"

        page = await http.get(receipt, headers=auth)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert order_no in page.text and "290.00" in page.text and "现金" in page.text and "58mm" in page.text

        first = await http.post(f"{receipt}/print", headers=auth)
        assert first.json()["copy_no"] == 1
        job = await printer.next_job()
        assert order_no.encode() in job and b"290.00" in job
        assert "现金".encode("gb18030") in job and "重印".encode("gb18030") not in job
        assert job.endswith(b"\x1dV\x00")                                # the paper is cut

        second = await http.post(f"{receipt}/print", headers=auth)
        assert second.json()["copy_no"] == 2
        reprint = await printer.next_job()
        assert "重印 COPY".encode("gb18030") in reprint and order_no.encode() in reprint

        missing = await http.get(f"/api/v1/stations/{STATION}/orders/{STATION}-20261204-O09999/receipt", headers=auth)
        assert missing.status_code == 404
    assert len(printer.jobs) == 2


async def test_a_receipt_to_a_printer_that_does_not_answer_is_not_counted(station_database_url: str) -> None:
    url = station_database_url
    [order_no] = await add_orders(url, 1000)
    async with ReceiptPrinter() as printer:
        target = printer.target                               # closed once this block ends: nobody listens
    async with station_api(url, printer=target) as (app, http):
        receipt = f"/api/v1/stations/{STATION}/orders/{order_no}/receipt/print"
        failed = await http.post(receipt, headers=cashier(app))
        assert failed.status_code == 503 and "打印机" in failed.json()["detail"]
    async with ReceiptPrinter() as printer, station_api(url, printer=printer.target) as (app, http):
        printed = await http.post(receipt, headers=cashier(app))
        assert printed.json()["copy_no"] == 1                 # the failed attempt did not count
