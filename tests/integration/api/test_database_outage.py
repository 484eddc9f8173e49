"""Issue 12: while PostgreSQL is away the API answers 503 with Retry-After at once (not a 500 after the
pool's 30 s), and it is healthy again shortly after PostgreSQL comes back (not after the pool's backoff).

The test owns an embedded PostgreSQL in a temp dir and really stops and restarts it on the same port.
"""

import asyncio
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
import websockets

from forecourt.local import EmbeddedPostgres
from forecourt.migrations import migrate
from tests.integration.api.support import client, refused, running_api, ws_token

pytestmark = [pytest.mark.integration, pytest.mark.serial]

OUTAGE_S = 20       # long enough for the pool's default backoff (1, 2, 4, 8, 16 s …) to overshoot the restart
READS = ["/api/v1/stations/st-01/devices/disp-01/latest", "/api/v1/stations/st-01/fuelling-transactions",
         "/healthz"]


async def _healthy_within(http: httpx.AsyncClient, polls: int) -> bool:
    for _ in range(polls):
        if (await http.get("/healthz")).status_code == 200:
            return True
        await asyncio.sleep(0.5)
    return False


async def test_reads_answer_503_during_an_outage_and_recover_after_it() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="forecourt-test-api-pg-"))
    pg = EmbeddedPostgres(data_dir)
    try:
        url = pg.start()
        migrate(url)
        port = pg.port
        # the client's timeout is far below the pool's default 30 s wait, which the old code sat out
        async with running_api(url) as api, client(api, timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get(READS[0])).status_code == 404     # no data yet, but the database answers

            counted_before = await refused(http, "database-unavailable")
            await asyncio.to_thread(pg.stop)
            for path in READS * 2:                                   # the first and the following ones
                answer = await http.get(path)
                assert answer.status_code == 503, (path, answer.status_code, answer.text)
                if path != "/healthz":
                    assert answer.headers["retry-after"].isdigit()
                    assert "数据库暂时不可用" in answer.json()["detail"] and "retry" in answer.json()["detail"]
            assert await refused(http, "database-unavailable") == counted_before + 4    # /healthz is not refused
            ws_url = f"ws://127.0.0.1:{api}/api/v1/stations/st-01/devices/disp-01/stream?access_token={ws_token()}"
            async with websockets.connect(ws_url) as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013   # try again later

            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(pg.start, port)
            # polled every 0.5 s: healthy again within a few polls, long before the old pool's next attempt
            assert await _healthy_within(http, polls=16), "the API did not see the database come back"
            assert (await http.get(READS[0])).status_code == 404
            assert (await http.get(READS[1])).status_code == 200
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
