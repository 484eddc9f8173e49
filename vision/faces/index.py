"""The in-memory 1:N index: unit embeddings in one matrix, searched by cosine similarity (rebuilt from the
gallery table when the database has no pgvector)."""

from __future__ import annotations

import numpy as np

from vision.readings import FaceMatch


class FaceIndex:
    def __init__(self, dimension: int = 128) -> None:
        self.dimension = dimension
        self._keys: list[str] = []
        self._rows: list[str] = []
        self._matrix = np.zeros((0, dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._keys)

    def load(self, entries: list[tuple[str, str, np.ndarray]]) -> None:
        """Replace everything with (row id, person, embedding) triples."""
        self._rows = [e[0] for e in entries]
        self._keys = [e[1] for e in entries]
        self._matrix = (
            np.stack([unit(e[2]) for e in entries]) if entries else np.zeros((0, self.dimension), np.float32)
        )

    def add(self, row: str, person: str, embedding: np.ndarray) -> None:
        self._rows.append(row)
        self._keys.append(person)
        self._matrix = np.vstack([self._matrix, unit(embedding)[None]])

    def remove_person(self, person: str) -> None:
        keep = [i for i, k in enumerate(self._keys) if k != person]
        self._rows = [self._rows[i] for i in keep]
        self._keys = [self._keys[i] for i in keep]
        self._matrix = self._matrix[keep]

    def best(self, embedding: np.ndarray) -> FaceMatch | None:
        if not self._keys:
            return None
        sims = self._matrix @ unit(embedding)
        i = int(np.argmax(sims))
        return FaceMatch(person=self._keys[i], similarity=float(sims[i]))


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 (float32); a zero vector stays zero."""
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v
