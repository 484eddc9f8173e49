"""Face payment at the terminal, look → liveness → pay, with both servers real: the time from the station route's
request (``POST /api/v1/stations/{station}/face-payments``, one 640×480 JPEG frame as the POS sends it) to its
answer, paid from the member's stored-value card at head office; the issue's budget is < 2 s.

    PYTHONPATH=. .venv/bin/python -m benchmarks face_payment

Head office (its gallery: 10,000 faces, the member's own among them; its cards) and the station server (its own
database) each run under uvicorn in a thread of this process, at the production defaults (the models' threads as
``ModelStore`` sets them, the station's ``HeadOfficeLink`` as ``forecourt api`` builds it). The baseline, measured
in the same run with the same frame, is head office's bare ``POST /api/v1/faces/identify`` from the same client:
the ratio reads "a face payment costs N identifications". Uses ``FORECOURT_DATABASE_URL`` when set, else an
embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack

import cv2
import httpx
import numpy as np
import psycopg

from benchmarks.bench_ingest import _database
from benchmarks.figures import Figure
from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.roles import Role
from tests.e2e.web.conftest import _served
from tests.integration.face_payments.support import SAME_PERSON, office_app, photo, prepare
from tests.integration.sales.payments_support import STATION, add_orders, open_shift
from tests.support.auth import bearer

ROUNDS = 40
GALLERY = 10_000
BUDGET_MS = 2000.0
AMOUNT_FEN = 500            # 40 × 5 yuan from the member's 500 yuan


def terminal_frame(width: int = 640, height: int = 480) -> bytes:
    """The member's photo letterboxed into the POS camera's 640×480 frame, JPEG at 85 (what FaceDialog sends)."""
    picture = cv2.imdecode(np.frombuffer(photo(SAME_PERSON), np.uint8), cv2.IMREAD_COLOR)
    scale = min(width / picture.shape[1], height / picture.shape[0])
    fitted = cv2.resize(picture, (round(picture.shape[1] * scale), round(picture.shape[0] * scale)))
    canvas = np.full((height, width, 3), 96, np.uint8)
    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    canvas[top:top + fitted.shape[0], left:left + fitted.shape[1]] = fitted
    return bytes(cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])[1])


async def _fill_gallery(database_url: str, dimension: int = 128) -> None:
    """GALLERY - 1 other people's (random) unit embeddings beside the member's own."""
    rng = np.random.default_rng(20)
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        embedder = (await (await conn.execute("SELECT embedder FROM business.face_enrolments LIMIT 1")).fetchone()
                    or ("mobilefacenet",))[0]
        async with conn.cursor().copy(
                "COPY business.face_enrolments (person, embedding, embedder, consent_by, consent_at, consent_method, "
                "consent_text_version, idempotency_key, enrolled_by) FROM STDIN") as copy:
            for n in range(GALLERY - 1):
                vector = rng.normal(size=dimension)
                vector /= np.linalg.norm(vector)
                await copy.write_row((f"M9{n:08d}", [float(v) for v in vector], embedder, "bench", "2026-12-05T00:00Z",
                                      "counter", "bench", f"bench-{n}", "bench"))


def _percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


async def run() -> list[Figure]:
    async with AsyncExitStack() as stack:
        office_db, station_db = await _database(stack), await _database(stack)
        office = office_app(office_db)
        office_url = stack.enter_context(_served(office, "on"))
        member = await prepare(office_url, office, office_db, station_db)
        await _fill_gallery(office_db)
        station = create_app(station_db, tokens=TokenIssuer("bench-face-payment-secret-of-32-bytes-or-more"),
                             role=Role.STATION, payment_providers=member.providers(station_db))
        station_url = stack.enter_context(_served(station, "on"))
        await open_shift(station_db)
        orders = await add_orders(station_db, *([AMOUNT_FEN] * (ROUNDS + 1)))
        frame = terminal_frame()
        cashier = bearer(station, "payment:read", "payment:take", stations=frozenset({STATION}), username="cashier")
        identify_headers = {"X-API-Key": member.station_key}
        paid_ms, identify_ms, answers = [], [], []
        async with httpx.AsyncClient(timeout=30) as http:
            async def face_payment(order_no: str) -> dict[str, object]:
                answer = await http.post(f"{station_url}/api/v1/stations/{STATION}/face-payments",
                                         data={"order_nos": [order_no], "terminal": "pos-1"},
                                         files={"image": ("frame.jpg", frame, "image/jpeg")},
                                         headers=cashier | {"Idempotency-Key": str(uuid.uuid4())})
                answer.raise_for_status()
                return dict(answer.json())

            async def identify() -> None:
                answer = await http.post(f"{office_url}/api/v1/faces/identify", headers=identify_headers,
                                         files={"image": ("frame.jpg", frame, "image/jpeg")})
                answer.raise_for_status()

            await face_payment(orders[-1])                       # warm-up: both processes' models and pools
            await identify()
            for order_no in orders[:ROUNDS]:
                started = time.perf_counter()
                answers.append(await face_payment(order_no))
                paid_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await identify()
                identify_ms.append((time.perf_counter() - started) * 1000)
    paid = sum(1 for a in answers if a["paid"])
    p50, p99 = _percentiles(paid_ms)
    identify_p50, identify_p99 = _percentiles(identify_ms)
    stages = {k: round(float(np.median([float(a["timings_ms"][k]) for a in answers])), 1)  # type: ignore[index]
              for k in ("identify", "pay", "total")}
    note = (f"{paid}/{ROUNDS} paid; gallery {GALLERY}; budget < {BUDGET_MS:.0f} ms: "
            f"{'met' if p99 < BUDGET_MS else 'MISSED'}; the station's own medians (ms): {stages}")
    return [Figure("face_payment_p50", p50, "ms", identify_p50, "bare_identify_p50", note),
            Figure("face_payment_p99", p99, "ms", identify_p50, "bare_identify_p50"),
            Figure("bare_identify_p50", identify_p50, "ms"),
            Figure("bare_identify_p99", identify_p99, "ms")]


if __name__ == "__main__":
    for figure in asyncio.run(run()):
        print(figure.as_dict("face_payment"))
