"""Run export jobs: stream a kind's rows into an .xlsx (XlsxWriter, constant memory), recording progress.

Jobs run as asyncio tasks in the API process that accepted them (``ExportRunner``), each on its own
database connection; the spreadsheet is written batch by batch in a worker thread, so the event loop keeps
answering requests. The finished file is stored in ``business.export_jobs.file``, so any API process can
serve it. A job whose process ends mid-way shows as failed ("interrupted") once it has not moved for
``repository.STALE_S``; the user starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
import xlsxwriter
from pydantic import BaseModel
from xlsxwriter.worksheet import Worksheet

from business_services.exports import repository
from business_services.exports.model import ExportKind, Scope, cell

log = logging.getLogger(__name__)
BATCH = 2000            # rows written (and progress recorded) at a time
MAX_ROWS = 1_048_575    # an Excel sheet's rows, less the header


def _write(sheet: Worksheet, kind: ExportKind, batch: Sequence[Mapping[str, Any]], first_row: int) -> None:
    for offset, record in enumerate(batch):
        for col, column in enumerate(kind.columns):
            sheet.write(first_row + offset, col, cell(record.get(column.key)))


async def write_export(database_url: str, job_id: uuid.UUID, kind: ExportKind, filters: BaseModel,
                       scope: Scope, pii: bool) -> None:
    """Write job ``job_id``'s file; record progress every ``BATCH`` rows, then the file or the failure."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as status, \
            await psycopg.AsyncConnection.connect(database_url) as reader:
        try:
            with tempfile.TemporaryDirectory(prefix="forecourt-export-") as tmp:
                path = Path(tmp) / "export.xlsx"
                book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": tmp,
                                                       "default_date_format": "yyyy-mm-dd hh:mm:ss"})
                sheet = book.add_worksheet(kind.title)
                header = book.add_format({"bold": True})
                for col, column in enumerate(kind.columns):
                    sheet.set_column(col, col, column.width)
                    sheet.write(0, col, column.header, header)
                done = 0
                async with reader.transaction():
                    await reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    total = await kind.count(reader, filters, scope)
                    if total > MAX_ROWS:
                        raise ValueError(f"结果有 {total} 行，超过 Excel 上限，请缩小筛选范围 (the {total} rows exceed "
                                         f"what one sheet holds; narrow the filters)")
                    await repository.progress(status, job_id, 0, total)
                    batch: list[Mapping[str, Any]] = []
                    async for record in kind.rows(reader, filters, scope, pii):
                        batch.append(record)
                        if len(batch) == BATCH:
                            await asyncio.to_thread(_write, sheet, kind, batch, done + 1)
                            done += len(batch)
                            batch = []
                            await repository.progress(status, job_id, done, total)
                    await asyncio.to_thread(_write, sheet, kind, batch, done + 1)
                    done += len(batch)
                await asyncio.to_thread(book.close)
                await repository.finish(status, job_id, done, path.read_bytes())
        except asyncio.CancelledError:
            await repository.fail(status, job_id, "导出被中止，请重新导出 (the export was stopped; start it again)")
            raise
        except Exception as exc:
            log.exception("export %s failed", job_id)
            message = str(exc) if isinstance(exc, ValueError) else \
                "导出失败，请稍后重试或联系管理员 (the export failed; try again later or tell an administrator)"
            await repository.fail(status, job_id, message)


class ExportRunner:
    """The export tasks of one API process; ``close`` stops them (their jobs are marked stopped)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, job_id: uuid.UUID, kind: ExportKind, filters: BaseModel, scope: Scope, pii: bool) -> None:
        task = asyncio.create_task(write_export(self.database_url, job_id, kind, filters, scope, pii),
                                   name=f"export-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
