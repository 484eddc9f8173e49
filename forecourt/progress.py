"""Start-up progress for people: numbered steps with their time, in Chinese."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.step = 0
        self._out = stream or sys.stderr

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        self.step += 1
        started = time.monotonic()
        self._print(f"[{self.step}/{self.total}] {what} …", end="")
        try:
            yield
        except BaseException:
            self._print(" 失败")
            raise
        self._print(f" 完成 ({time.monotonic() - started:.1f} 秒)")

    def _print(self, text: str, end: str = "\n") -> None:
        print(text, end=end, file=self._out, flush=True)
