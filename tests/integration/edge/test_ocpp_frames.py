"""What the central system answers to frames a charger should not send, over a raw websocket.

Garbage, unknown actions and payloads failing their schema each get a CALLERROR, and the same
connection answers the next Heartbeat. Unknown charge points and chargers without an OCPP
subprotocol are refused at the handshake; a charger that connects again replaces its old link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from protocol_adapters.ocpp import CentralSystem

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def central_system() -> AsyncIterator[CentralSystem]:
    async with CentralSystem(host="127.0.0.1", port=0, charge_points={"chg-01": 1}) as csms:
        yield csms


def url(csms: CentralSystem, cp: str = "chg-01") -> str:
    return f"ws://127.0.0.1:{csms.port}/ocpp/{cp}"


async def exchange(ws: ClientConnection, frame: str) -> list[Any]:
    await ws.send(frame)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(answer, list)
    return answer


@pytest.mark.parametrize(("subprotocol", "frame", "expected"), [
    ("ocpp1.6", "\x02\xff garbage, not OCPP-J \x03", ["-1", "FormationViolation"]),
    ("ocpp1.6", '[2, "m1", "NoSuchAction", {}]', ["m1", "NotSupported"]),
    ("ocpp1.6", '[2, "m2", "Reset", {"type": "Soft"}]', ["m2", "NotImplemented"]),   # a CSMS-to-charger action
    ("ocpp1.6", '[2, "m3", "StartTransaction", {"connectorId": 1}]', ["m3", "ProtocolError"]),
    ("ocpp1.6", '[2, "m4", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0, '
                '"timestamp": "not a time"}]', ["m4", "FormationViolation"]),
    ("ocpp2.0.1", "\x02\xff garbage, not OCPP-J \x03", ["-1", "RpcFrameworkError"]),
    ("ocpp2.0.1", '[7, "m5", "Heartbeat", {}]', ["m5", "MessageTypeNotSupported"]),
    ("ocpp2.0.1", '[2, "m6", "NoSuchAction", {}]', ["m6", "NotSupported"]),
    ("ocpp2.0.1", '[2, "m8", "Heartbeat", []]', ["m8", "TypeConstraintViolation"]),
    ("ocpp2.0.1", '[2, "m7", "TransactionEvent", {"eventType": "Started"}]', ["m7", "ProtocolError"]),
    ("ocpp2.0.1", '[2, "m9", "TransactionEvent", {"eventType": "Started", "timestamp": "nope", "seqNo": 0, '
                  '"triggerReason": "Authorized", "transactionInfo": {"transactionId": "t"}}]',
     ["m9", "FormatViolation"]),
])
async def test_bad_frames_get_a_callerror_and_the_link_survives(subprotocol: str, frame: str,
                                                                 expected: list[str]) -> None:
    async with central_system() as csms, connect(url(csms), subprotocols=[Subprotocol(subprotocol)]) as ws:
        answer = await exchange(ws, frame)
        assert answer[0] == 4 and answer[1:3] == expected
        heartbeat = await exchange(ws, '[2, "hb", "Heartbeat", {}]')
        assert heartbeat[:2] == [3, "hb"] and heartbeat[2]["currentTime"].endswith("Z")
        assert csms.connected("chg-01")


async def test_unknown_charge_points_and_missing_subprotocols_are_refused() -> None:
    async with central_system() as csms:
        with pytest.raises(InvalidStatus) as unknown:
            await connect(url(csms, "chg-99"), subprotocols=[Subprotocol("ocpp1.6")])
        assert unknown.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as wrong_path:
            await connect(f"ws://127.0.0.1:{csms.port}/other/chg-01", subprotocols=[Subprotocol("ocpp1.6")])
        assert wrong_path.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as no_ocpp:
            await connect(url(csms), subprotocols=[Subprotocol("ocpp2.1")])
        assert no_ocpp.value.response.status_code == 400
        assert not csms.connected("chg-01")


async def test_a_second_connection_replaces_the_first() -> None:
    async with central_system() as csms:
        first = await connect(url(csms), subprotocols=[Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")])
        assert first.subprotocol == "ocpp2.0.1"            # the newer version when both are offered
        async with connect(url(csms), subprotocols=[Subprotocol("ocpp1.6")]) as second:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.recv(), 5)
            assert (await exchange(second, '[2, "hb", "Heartbeat", {}]'))[:2] == [3, "hb"]
            assert csms.connected("chg-01") and csms.states.charge_points["chg-01"].version == "1.6"
        await asyncio.sleep(0.1)
        assert not csms.connected("chg-01")
        assert csms.states.readings()[0].value is False    # chg-01/online
