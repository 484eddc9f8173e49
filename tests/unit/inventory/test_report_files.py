"""A day's and a shift's tank reconciliation as Excel and PDF: the Chinese text is there and the PDF's Chinese
glyphs are drawn (the page rendered to an image by poppler's pdftoppm, compared with the same page whose
Chinese characters are replaced by tofu boxes)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from business_services.inventory import report_files
from business_services.inventory.report_files import report_pdf, report_xlsx

CJK = re.compile(r"[\u4e00-\u9fff\uff08\uff09\uff0c]")


def _report(period: str, key: str) -> dict[str, Any]:
    arts = {"transactions_l": 9990.0, "nozzle_meters_l": 10000.0, "tank_meters_l": 10020.0, "dip_l": None}
    return {"station": "demo-01", "period": period, "period_key": key, "starts_at": "2026-12-02T16:00:00+00:00",
            "ends_at": "2026-12-03T16:00:00+00:00",
            "tanks": [{"tanks": [1], "grade_name": "92#汽油", "opening_l": 20000.0, "deliveries_l": 4980.0,
                       "sales_l": 9980.0, "book_l": 15000.0, "closing_l": 14930.0, "variance_l": -70.0,
                       "loss_pct": 0.701, "limit_l": 29.94, "status": "exceeded", "detail": {"arts": arts}},
                      {"tanks": [3], "grade_name": "0#柴油", "opening_l": None, "deliveries_l": 0.0,
                       "sales_l": 0.0, "book_l": None, "closing_l": None, "variance_l": None, "loss_pct": None,
                       "limit_l": 20.0, "status": "incomplete", "detail": {"arts": arts}}],
            "deliveries": [{"tank": 1, "started_at": "2026-12-03T02:00:00+00:00",
                            "ended_at": "2026-12-03T02:09:00+00:00", "received_l_20": 4980.0, "note_no": "XC-001",
                            "road_loss_l": 20.0, "road_limit_l": 10.0, "exceeded": True}]}


def _tofu(value: Any) -> Any:
    if isinstance(value, str):
        return CJK.sub("\u25a1", value)
    if isinstance(value, dict):
        return {k: _tofu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tofu(v) for v in value]
    return value


def _grey_pixels(pdf: bytes, tmp: Path, name: str) -> bytes:
    """The first page as 8-bit grey pixels (pdftoppm's PGM, parsed here)."""
    source = tmp / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-gray", "-f", "1", "-l", "1", str(source), str(tmp / name)],
                   check=True, capture_output=True)
    (image,) = tmp.glob(f"{name}*.pgm")
    data = image.read_bytes()
    fields = data.split(maxsplit=4)              # P5, width, height, maxval, pixels
    assert fields[0] == b"P5"
    width, height = int(fields[1]), int(fields[2])
    return fields[4][-width * height:]


@pytest.fixture(autouse=True)
def _poppler() -> None:
    assert shutil.which("pdftoppm"), "pdftoppm (Debian poppler-utils) is needed: scripts/browser.sh installs it"


@pytest.mark.parametrize(("period", "key"), [("day", "2026-12-03"), ("shift", "demo-01-20261203-S00002")])
def test_the_pdf_draws_chinese_glyphs(period: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = _report(period, key)
    real = _grey_pixels(report_pdf(report), tmp_path, "real")
    title, sheets = report_files.title, report_files.sheets
    monkeypatch.setattr(report_files, "title", lambda r: _tofu(title(r)))
    monkeypatch.setattr(report_files, "sheets", lambda r: _tofu([list(s) for s in sheets(r)]))
    boxes = _grey_pixels(report_pdf(report), tmp_path, "boxes")
    ink = sum(1 for p in real if p < 128)
    assert ink > 2000                                        # the page is not blank
    changed = sum(1 for a, b in zip(real, boxes, strict=True) if abs(a - b) > 64)
    # where every Chinese character is a box the page looks very different: the glyphs are drawn
    assert changed > ink * 0.3, (changed, ink)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "real.pdf"), "-"],
                          check=True, capture_output=True).stdout.decode()
    assert "油罐罐存比对" in text and "92#汽油" in text and "超限" in text and key in text


def test_the_excel_file_holds_the_same_figures_in_chinese() -> None:
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(_report("day", "2026-12-03"))))
    assert book.sheetnames == ["罐存比对", "ARTS四方核对", "卸油"]
    sheet = book["罐存比对"]
    assert sheet["A1"].value == "油罐罐存比对（日）demo-01 2026-12-03"
    assert [c.value for c in sheet[3]][:2] == ["1", "92#汽油"]
    assert sheet["H3"].value == "-70.00" and sheet["K3"].value == "超限" and sheet["K4"].value == "数据不全"
    assert [c.value for c in book["卸油"][3]][4:] == ["XC-001", "20.00", "10.00", "超限"]
