"""The in-memory 1:N index: unit embeddings in one matrix, searched by cosine similarity (rebuilt from the
gallery table, since this database has no pgvector). Each change swaps one immutable snapshot, so a search
running in a worker thread never sees the people of one version with the matrix of another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.readings import FaceMatch


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 (float32); a zero vector stays zero."""
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@dataclass(frozen=True, slots=True)
class _Snapshot:
    rows: tuple[str, ...]
    people: tuple[str, ...]
    matrix: np.ndarray


class FaceIndex:
    def __init__(self, dimension: int = 128) -> None:
        self.dimension = dimension
        self._now = _Snapshot((), (), np.zeros((0, dimension), np.float32))

    def __len__(self) -> int:
        return len(self._now.people)

    def load(self, entries: list[tuple[str, str, np.ndarray]]) -> None:
        """Replace everything with (row id, person, embedding) triples."""
        matrix = np.stack([unit(e[2]) for e in entries]) if entries else np.zeros((0, self.dimension), np.float32)
        self._now = _Snapshot(tuple(e[0] for e in entries), tuple(e[1] for e in entries), matrix)

    def add(self, row: str, person: str, embedding: np.ndarray) -> None:
        now = self._now
        self._now = _Snapshot((*now.rows, row), (*now.people, person), np.vstack([now.matrix, unit(embedding)[None]]))

    def remove_person(self, person: str) -> None:
        now = self._now
        keep = [i for i, k in enumerate(now.people) if k != person]
        self._now = _Snapshot(tuple(now.rows[i] for i in keep), tuple(now.people[i] for i in keep), now.matrix[keep])

    def best(self, embedding: np.ndarray) -> FaceMatch | None:
        now = self._now
        if not now.people:
            return None
        sims = now.matrix @ unit(embedding)
        i = int(np.argmax(sims))
        return FaceMatch(person=now.people[i], similarity=float(sims[i]))
