"""The gallery as the API process searches it: the face pipeline and its in-memory index, rebuilt from the table
whenever an enrolment or a deletion changed it (in this process or another). Inference runs off the event loop."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg

from business_services.faces import views
from vision.faces.models import Detection
from vision.faces.pipeline import FacePipeline, decoded
from vision.readings import FaceResult


class Gallery:
    def __init__(self, pipeline: FacePipeline, embedder: str, keep_photos: bool = False) -> None:
        self.pipeline = pipeline
        self.embedder = embedder
        self.keep_photos = keep_photos
        self._state: tuple[int, int] | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, conn: psycopg.AsyncConnection) -> None:
        now = await views.state(conn)
        if now == self._state:
            return
        async with self._lock:
            if now != self._state:
                self.pipeline.index.load(await views.embeddings(conn, self.embedder))
                self._state = now

    async def embedding(self, image: bytes) -> tuple[Detection, np.ndarray]:
        """The one live face of an enrolment photo (FaceError: unreadable, no face, several faces, not live)."""
        return await asyncio.to_thread(lambda: self.pipeline.enrolment(decoded(image)))

    async def identify(self, conn: psycopg.AsyncConnection, image: bytes) -> FaceResult:
        await self.refresh(conn)
        return await asyncio.to_thread(self.pipeline.identify, image)
