"""Members and vehicles are head office's: their handlers are on head office's bus only, and growth from a paid
order runs after head office's copy of the order is kept (it reads the order's amount from it)."""

from __future__ import annotations

import logging

import pytest

from business_services.bootstrap import build_bus
from business_services.members import handlers as members
from business_services.members.model import RegisterMember
from business_services.station_orders import handlers as station_orders
from business_services.vehicles.model import BlockPlate
from forecourt.logs import configure_logging
from forecourt.roles import Role, policy
from telemetry.contracts.events.orders import OrderChanged
from telemetry.contracts.events.payments import PaymentRefunded


def test_head_office_alone_keeps_members_and_orders_come_first() -> None:
    head_office, station = build_bus(policy(Role.HEAD_OFFICE).contexts), build_bus(policy(Role.STATION).contexts)
    assert {RegisterMember, BlockPlate} <= head_office.commands.keys()
    assert not {RegisterMember, BlockPlate} & station.commands.keys()
    handlers = head_office.events[OrderChanged.TYPE]
    assert handlers.index(station_orders.keep_changed) < handlers.index(members.order_paid)
    assert members.refunded in head_office.events[PaymentRefunded.TYPE]
    assert members.order_paid not in station.events.get(OrderChanged.TYPE, [])


def test_a_lookups_url_is_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """A station server asks head office ``…/members/lookup?phone=…`` with httpx, which logs each URL at INFO."""
    logger = logging.getLogger("httpx")
    level = logger.level
    try:
        configure_logging("INFO")
        with caplog.at_level(logging.INFO):
            logger.info('HTTP Request: GET https://ho/api/v1/members/lookup?phone=13812345678 "HTTP/1.1 200 OK"')
            logger.warning("HTTP Request failed")
        assert "13812345678" not in caplog.text and "HTTP Request failed" in caplog.text
    finally:
        logger.setLevel(level)
