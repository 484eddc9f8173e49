"""Issue 12: every route of the control API answers bad requests with a 4xx and a clear message, never a 5xx.

The routes are walked from the app itself, so a new route is covered the day it is added: bad station
and device codes in the path (NUL, '+', '#', '/', 10 kB …), bad query values, wrong JSON and wrong
types in bodies, and bodies over the limit with and without Content-Length (read back over a raw
socket, so the test sees what a client sees when the server refuses before reading the body).
"""

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute

from control_api.app import ROUTERS
from control_api.limits import MAX_BODY_BYTES
from forecourt.local import free_port
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import client, refused, running_api, ws_token

pytestmark = pytest.mark.integration

GOOD = {"station": "st-01", "device": "disp-01", "user_id": "1", "key_id": "1",   # and ids of records (a UUID; a
        "job_id": "00000000-0000-4000-8000-000000000000",                          # bad one is any 4xx)
        "request_id": "00000000-0000-4000-8000-000000000000",
        "fuelling_point": "1", "number": "1", "code": "early", "day": "2026-12-04", "shift": "early",
        "payment_no": "st-01-20261204-P00001", "order_no": "st-01-20261204-O00001"}
GOOD["shift_no"] = "st-01-20261204-S00001"      # shifts (control_api/routes/shifts.py)
GOOD["payment_no"] = "st-01-20261204-P00001"                                       # online payments
GOOD |= {"change_no": "PC-20261204-00001", "version": "1", "rule_id": "1"}          # prices
GOOD["alarm_id"] = "00000000-0000-4000-8000-000000000000"                            # alarms
GOOD |= {"route_id": "1", "contact_id": "1"}                                        # notifications
GOOD["tank"] = "1"                                                                  # leak tests
GOOD["work_order_id"] = "1"                                                         # work orders
GOOD |= {"member_no": "M00000001", "tag_id": "1", "level": "gold", "vehicle_id": "1",   # members, vehicles
         "plate_no": "%E4%BA%ACA12345"}                     # 京A12345, as a raw request line carries it
GOOD |= {"card_no": "1000113200000001", "counter": "1", "load_no": "st-01-L0001"}     # IC cards
GOOD |= {"card": "6200000000000001", "offer_id": "1"}                                 # cards
GOOD["enterprise"] = "E000001"                                                      # fleets
GOOD |= {"member_no": "M00000001", "sku": "none-1"}                                 # points
GOOD["auth_no"] = "st-01-20261204-A00001"                                           # fleet authorisations
GOOD["recognition_id"] = "00000000-0000-4000-8000-000000000000"                      # drive-through
CODES = {"station": "站点编码", "device": "设备编码"}    # parameters the code rule answers; others: any 4xx
# (path segment as sent, percent-encoded where a URL needs it; whether the code rule answers it with 422)
BAD_CODES = [("%00", True), ("st%0001", True), ("+", True), ("%23", True), ("st-%2B", True), ("%20", True),
             ("ST-01", True), ("-st", True), ("%2E%2E", True), ("st.01", True), ("%E7%AB%99%E7%82%B9", True),
             ("x" * 10_000, True), ("a" * 33, True), ("a%2Fb", False)]  # '/' splits the path: no route matches, 404
BAD_BODIES: list[tuple[str, bytes]] = [
    ("broken JSON", b'{"type": "command.set_price", "data": {'),
    ("not an object", b"[]"), ("null", b"null"), ("a string", b'"command.set_price"'), ("a number", b"1e999"),
    ("invalid UTF-8", b"\xff\xfe\x00{"), ("NaN", b'{"type": NaN, "data": {}}'),
    ("deeply nested", b"[" * 30_000 + b"]" * 30_000),
    ("wrong types", json.dumps({"type": 1, "data": []}).encode()),
    ("missing data", json.dumps({"type": "command.set_price"}).encode()),
    ("unknown command", json.dumps({"type": "open.sesame", "data": {}}).encode()),
    ("10 kB command name", json.dumps({"type": "x" * 10_000, "data": {}}).encode()),
    ("wrong argument type", json.dumps({"type": "command.set_price", "data": {
        "device": "disp-01", "fuelling_point": "one", "nozzle": 1, "price_fen_per_l": 800}}).encode()),
    *[(f"device {device!r}", json.dumps({"type": "command.stop_fuelling", "data": {
        "device": device, "fuelling_point": 1}}).encode()) for device in ("\x00", "+", "#", "a/b", "x" * 10_000)],
    ("10 kB strings", json.dumps({"type": "command.replace_id_tags", "data": {
        "device": "x" * 10_000, "id_tags": {"t" * 10_000: "v" * 10_000}}}).encode()),
]
BAD_QUERIES = ["limit=abc", "limit=-1", "limit=0", "limit=100000000000000000000000", "limit=%00", "limit=1e3",
               f"limit={'9' * 10_000}"]


def _routes() -> Iterator[tuple[str, str]]:
    """(method, path template) of every route the app serves, WebSockets as method 'WS'."""
    for route in (route for router in ROUTERS for route in router.routes):
        if isinstance(route, APIWebSocketRoute):
            yield "WS", route.path
        elif isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, route.path


def _fill(template: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], GOOD[m[1]]), template)


async def _ws_status(port: int, path: str) -> int:
    """The HTTP status of a refused WebSocket handshake, or 101 when it was accepted."""
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}{path}?access_token={ws_token()}", open_timeout=10):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_bad_codes_are_refused_on_every_route(database_url: str, broker: BrokerAddress) -> None:
    routes = list(_routes())
    assert {"WS", "POST", "GET"} <= {m for m, _ in routes}
    async with running_api(database_url, broker) as port, client(port) as http:
        counted_before, refused_here = await refused(http, "bad-code"), 0
        for method, template in routes:
            for name in set(re.findall(r"\{(\w+)\}", template)) & {"station", "device"}:
                for segment, by_rule in BAD_CODES:
                    path = _fill(template, **{name: segment})
                    if method == "WS":
                        status = await _ws_status(port, path)
                        assert 400 <= status < 500, (path[:80], status)   # refused at the handshake
                        continue
                    answer = await http.request(method, path, json={"type": "command.stop_fuelling", "data": {
                        "device": "disp-01", "fuelling_point": 1}} if method == "POST" else None)
                    assert answer.status_code < 500, (method, path[:80], answer.status_code, answer.text[:200])
                    if by_rule and name in CODES:
                        assert answer.status_code == 422, (method, path[:80], answer.status_code)
                        assert f"{CODES[name]}不合规" in answer.json()["detail"], answer.text[:200]
                        refused_here += 1
        assert await refused(http, "bad-code") >= counted_before + refused_here > counted_before


async def test_bad_bodies_and_queries_get_a_4xx_with_a_message(database_url: str, broker: BrokerAddress) -> None:
    async with running_api(database_url, broker) as port, client(port) as http:
        for method, template in _routes():
            if method == "WS":
                continue
            path = _fill(template)
            for name, body in BAD_BODIES:
                answer = await http.request(method, path, content=body, headers={"content-type": "application/json"})
                if method == "GET":       # a body a GET does not read is ignored
                    assert answer.status_code < 500, (name, method, path, answer.status_code)
                    continue
                assert 400 <= answer.status_code < 500, (name, method, path, answer.status_code, answer.text[:200])
                assert answer.json()["detail"], name
                assert len(answer.content) < 4 * 1024, (name, "the answer does not echo big input back")
            for query in BAD_QUERIES:
                answer = await http.request(method, f"{path}?{query}")
                assert answer.status_code < 500, (query, method, path, answer.status_code)
                if "limit" in template or "fuelling-transactions" in template:
                    assert answer.status_code == 422 and "请求格式错误" in answer.json()["detail"], (query, answer.text)


async def _raw_exchange(port: int, head: str, body_chunks: list[bytes]) -> tuple[int, bytes]:
    """Send a request head and some body bytes, then read the answer without finishing the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode())
        for chunk in body_chunks:
            writer.write(chunk)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        content = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 10)
        return int(status_line.split()[1]), content
    finally:
        writer.close()


def _chunked(data: bytes, size: int = 8192) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size)]


async def test_bodies_over_the_limit_are_refused_before_they_are_read(database_url: str,
                                                                      broker: BrokerAddress) -> None:
    padding = json.dumps({"type": "command.set_price", "data": {"pad": "x" * (MAX_BODY_BYTES + 40_000)}})
    async with running_api(database_url, broker) as port, client(port) as http:
        counted_before, refused_here = await refused(http, "body-too-large"), 0
        for method, template in _routes():
            if method == "WS":
                continue
            path = _fill(template)
            refused_here += 1
            # 17.5 MB announced, not one byte sent: the answer comes before the body
            status, content = await _raw_exchange(
                port, f"{method} {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                      f"Content-Length: 18350080\r\n\r\n", [])
            assert status == 413, (method, path, status, content[:200])
            assert "请求体过大" in json.loads(content)["detail"]
        # chunked, no Content-Length: refused once the count passes the limit, the rest never sent
        path = _fill("/api/v1/stations/{station}/commands")
        status, content = await _raw_exchange(
            port, f"POST {path} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                  f"Transfer-Encoding: chunked\r\n\r\n", _chunked(padding.encode()))
        assert status == 413, (status, content[:200])
        assert f"{MAX_BODY_BYTES} bytes" in json.loads(content)["detail"]
        assert await refused(http, "body-too-large") == counted_before + refused_here + 1   # each counted once
        # just under the limit is read and judged on its content
        under = {"type": "open.sesame", "data": {"pad": "x" * (MAX_BODY_BYTES - 1000)}}
        answer = await http.post(path, json=under)
        assert answer.status_code == 422 and "未知命令" in answer.text[:200]


async def test_a_command_while_the_broker_is_away_is_503(database_url: str) -> None:
    nobody = BrokerAddress(host="127.0.0.1", port=free_port())          # nothing listens there
    async with running_api(database_url, nobody) as port, client(port) as http:
        counted_before = await refused(http, "broker-unavailable")
        answer = await http.post("/api/v1/stations/st-01/commands", json={
            "type": "command.stop_fuelling", "data": {"device": "disp-01", "fuelling_point": 1}})
        assert await refused(http, "broker-unavailable") == counted_before + 1
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit() and "MQTT 代理不可用" in answer.json()["detail"]
