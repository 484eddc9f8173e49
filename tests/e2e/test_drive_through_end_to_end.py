"""Issue 20, "Done when" 3: drive-through payment through every real part (docs/vision.md "Drive-through payment").

The station sale chain of ``tests/e2e/web/sales_chain.py`` (head office and station servers on their own
databases, the station's business plane, the edge node polling the dispenser simulator, the broker) plus the lane
camera simulator and the real vision service with the ONNX plate models of /work/shared/models, on the chain's loop.

At head office a member is registered with the plate labelled on a CCPD scene, given a stored-value card with
500 元 and opted in to drive-through by stored value; the station pulls its member list. The camera at fuelling
position 2 shows that car: the vision service publishes ``vehicle.recognized`` for position 2 with the plate; the
car fuels at position 2; the order is paid from the card without the cashier (terminal ``drive-through``); the
receipt API and the card's statement at head office show it. Another scene's car (its plate bound to nobody)
at position 1 fuels too: its order stays payable, left to the cashier.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from business_services.bootstrap import build_bus
from business_services.payments.registry import head_office_link
from business_services.station_members.sync import MemberListSync
from forecourt.roles import Role, policy
from protocol_adapters.mqtt.outbox import MqttSink
from simulators.camera import CameraConfig, CameraServer, CameraSetConfig
from simulators.camera.config import DEFAULT_SCENES_DIR
from simulators.clock import ManualClock
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import VehicleRecognized
from tests.e2e.web.sales_chain import STATION, SalesChain, running
from tests.e2e.web.station_members.test_member_sale_end_to_end import (
    RECHARGE_FEN,
    a_card_with_500_yuan,
    log_in,
    post,
    rows,
)
from vision.cameras import CameraBinding
from vision.models import DEFAULT_MODEL_DIR, ModelStore
from vision.service import EventQueue, VisionService, plate_reader
from vision.snapshots import SnapshotStore

pytestmark = pytest.mark.e2e

MEMBERS_CAR, STRANGERS_CAR = "ccpd_003.jpg", "ccpd_000.jpg"
LABELS = DEFAULT_SCENES_DIR.parent / "labels.csv"


def labelled_plate(scene: str) -> str:
    with LABELS.open(encoding="utf-8") as found:
        return next(r["plate"] for r in csv.DictReader(found) if r["file"] == f"scenes/{scene}")


def until(what: Callable[[], Any], description: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := what()):
        assert time.monotonic() < deadline, f"never happened: {description}"
        time.sleep(0.1)
    return found


class Lanes:
    """The lane cameras at fuelling positions 1 and 2 and the vision service reading their MJPEG streams,
    publishing to the chain's broker under its group for its station; all on the chain's loop."""

    def __init__(self, chain: SalesChain, snapshots: Path) -> None:
        self.chain, self.snapshots = chain, snapshots
        self.cameras = CameraServer(CameraSetConfig(scenes_dir=DEFAULT_SCENES_DIR, cameras=(
            CameraConfig(code="CAM-01", fuelling_point=1, fps=10.0),
            CameraConfig(code="CAM-02", fuelling_point=2, fps=10.0))), ManualClock())
        self.tasks: list[asyncio.Task[None]] = []
        self.published: list[VehicleRecognized] = []

    async def _start(self) -> None:
        await self.cameras.__aenter__()
        chain, base = self.chain, self.cameras.base_url
        queue = EventQueue(MqttSink(chain.broker, f"vision-{chain.group}"), chain.group, STATION)
        store = ModelStore(DEFAULT_MODEL_DIR)

        async def publish(event: CloudEvent) -> None:
            self.published.append(VehicleRecognized.from_event(event))
            await queue.put(event)

        service = VisionService(
            STATION, [CameraBinding(f"cam-0{p}", f"{base}/cameras/CAM-0{p}/stream.mjpg", fuelling_point=p)
                      for p in (1, 2)],
            lambda: plate_reader(store), publish, SnapshotStore(self.snapshots), now=lambda: datetime.now(UTC),
            frame_interval_s=0.05)
        self.tasks = [asyncio.create_task(service.run()), asyncio.create_task(queue.run())]

    async def _stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.cameras.__aexit__(None, None, None)

    async def _arrive(self, point: int, scene: str) -> None:
        self.cameras.camera(f"CAM-0{point}").car_arrived(scene)

    def __enter__(self) -> Lanes:
        self.chain.call(self._start())
        return self

    def __exit__(self, *_: object) -> None:
        self.chain.call(self._stop())

    def car_arrives(self, point: int, scene: str) -> None:
        self.chain.call(self._arrive(point, scene))

    def failed(self) -> list[str]:
        return [repr(t.exception()) for t in self.tasks if t.done() and not t.cancelled() and t.exception()]


def a_member_opted_in(chain: SalesChain, admin: dict[str, str], plate: str) -> tuple[str, str]:
    """Head office: the member with the car's plate, a 500 元 stored-value card bound to them, 无感支付 by it."""
    card_no = a_card_with_500_yuan(chain, admin)
    member_no = str(post(chain.head_office, "/api/v1/members", admin,
                         {"phone": "13912345678", "name": "王小明", "plate": plate, "source": "back_office",
                          "station": STATION})["member_no"])
    post(chain.head_office, f"/api/v1/cards/{card_no}/binding", admin, {"member_no": member_no})
    answer = httpx.put(f"{chain.head_office}/api/v1/members/{member_no}/drive-through", headers=admin,
                       json={"method": "stored_value", "card_no": card_no}, timeout=20)
    assert answer.status_code == 200, answer.text
    return member_no, card_no


async def pull_member_list(chain: SalesChain) -> int:
    """The station server's member list pull, now rather than at its next 30 s round."""
    link = head_office_link(chain.providers)
    assert link is not None
    sync = MemberListSync(chain.station_db, link, build_bus(policy(Role.STATION).contexts), lambda _: _own())
    return await sync.pull_all()


async def _own() -> list[str]:
    return [STATION]


def test_a_members_car_seen_at_position_2_is_paid_from_stored_value_and_a_stranger_left_to_the_cashier(
        database_url: str, station_database_url: str, broker: BrokerAddress, group: str, tmp_path: Path) -> None:
    plate, strangers_plate = labelled_plate(MEMBERS_CAR), labelled_plate(STRANGERS_CAR)
    with running(database_url, station_database_url, broker, group, tmp_path / "data") as chain, \
            Lanes(chain, tmp_path / "snapshots") as lanes:
        admin = log_in(chain.head_office, "admin", chain.logins["admin"].password)
        member_no, card_no = a_member_opted_in(chain, admin, plate)
        assert chain.call(pull_member_list(chain)) > 0
        assert rows(chain.station_db, "SELECT item->>'drive_through', item->>'drive_through_card_no' FROM "
                                      "business.station_member_list WHERE kind = 'member' AND key = %s",
                    member_no) == [("stored_value", card_no)]
        cashier = log_in(chain.station_server, "cashier", chain.logins["cashier"].password)
        post(chain.station_server, f"/api/v1/stations/{STATION}/shifts", cashier, {})    # the cashier's shift

        lanes.car_arrives(2, MEMBERS_CAR)
        lanes.car_arrives(1, STRANGERS_CAR)
        [(point, seen_plate, member)] = until(lambda: rows(
            chain.station_db, "SELECT fuelling_point, plate, member_no FROM business.drive_through_attachments"),
            "the member's car recognised at position 2 and attached")
        assert (point, seen_plate, member) == (2, plate, member_no)

        seen = until(lambda: sorted(lanes.published, key=lambda e: e.fuelling_point) if len(lanes.published) == 2
                     else None, "both cars read by the vision service")
        assert [(e.fuelling_point, e.plate) for e in seen] == [(1, strangers_plate), (2, plate)]
        until(lambda: rows(chain.station_db, "SELECT count(*) FROM business.handled_events WHERE event_id = ANY(%s)",
                           [e.event_id() for e in seen]) == [(2,)], "both recognitions handled by the station")

        members_fuel = chain.fuel(2, 1, 400)
        strangers_fuel = chain.fuel(1, 1, 300)
        [(order_no, amount_fen)] = until(lambda: rows(
            chain.station_db, "SELECT order_no, paid_fen FROM business.orders WHERE status = 'paid'"),
            "the member's order paid without the cashier")
        assert amount_fen == members_fuel.amount_fen
        [(method, terminal, paid_card)] = rows(chain.station_db, """SELECT p.method, p.terminal, c.card_no
            FROM business.payments p JOIN business.station_card_payments c USING (payment_no)
            JOIN business.payment_allocations a USING (payment_no) WHERE a.order_no = %s""", order_no)
        assert (method, terminal, paid_card) == ("stored_value", "drive-through", card_no)
        [(strangers_order, status, nobody)] = until(lambda: rows(
            chain.station_db, "SELECT order_no, status, member_no FROM business.orders WHERE amount_fen = %s",
            strangers_fuel.amount_fen), "the stranger's order made")
        assert (status, nobody) == ("payable", None)
        assert rows(chain.station_db, "SELECT count(*) FROM business.payment_allocations WHERE order_no = %s",
                    strangers_order) == [(0,)]

        receipt = httpx.get(f"{chain.station_server}/api/v1/stations/{STATION}/orders/{order_no}/receipt",
                            headers=cashier, timeout=20)
        assert receipt.status_code == 200, receipt.text
        masked_card = f"{card_no[:4]} **** **** {card_no[-4:]}"
        for line in ("<th>储值卡</th><td>" + f"{amount_fen / 100:.2f} 元", f"<th>会员</th><td>{member_no}",
                     f"<th>储值卡</th><td>{masked_card}",          # the member's lines: sold to them, from this card
                     f"<th>卡余额</th><td>{(RECHARGE_FEN - amount_fen) / 100:.2f} 元"):
            assert line in receipt.text, (line, receipt.text)
        assert card_no not in receipt.text                       # masked

        orders = until(lambda: [o for o in httpx.get(f"{chain.head_office}/api/v1/members/{member_no}",
                                                     headers=admin, timeout=20).json()["orders"]
                                if o["order_no"] == order_no and o["status"] == "paid"],
                       "the paid order in the member's 360° at head office")
        assert len(orders) == 1
        [(payment_no,)] = rows(chain.station_db, "SELECT payment_no FROM business.payment_allocations "
                                                 "WHERE order_no = %s", order_no)
        until(lambda: rows(chain.head_office_db, "SELECT kind, member_no FROM business.drive_through_pushes "
                                                 "WHERE reference = %s", payment_no) == [("paid", member_no)],
              "head office queued the member's notice 已从储值卡支付 (docs/h5.md)")

        statement = until(lambda: [e for e in httpx.get(
            f"{chain.head_office}/api/v1/cards/{card_no}/statement", headers=admin, timeout=20).json()["items"]
            if e["amount"] == amount_fen], "the card's statement at head office shows the payment")
        assert len(statement) == 1
        [(balance,)] = rows(chain.head_office_db, "SELECT balance FROM business.ledger_balances WHERE code LIKE %s",
                            "card:%")
        assert balance == RECHARGE_FEN - amount_fen
        assert len(lanes.published) == 2 and not lanes.failed() and chain.failed_services() == []
