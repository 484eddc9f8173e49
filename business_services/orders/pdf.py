"""The order list as a PDF: A4 landscape, Chinese through reportlab's built-in CID font (no font file)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, TableStyle

from business_services.exports.model import cell
from business_services.orders.views import COLUMNS

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
PDF_COLUMNS = [c for c in COLUMNS if c.key not in ("note", "price_yuan")]   # what fits across a landscape page


def _text(value: Any) -> str:
    value = cell(value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def order_list_pdf(station: str, rows: Sequence[Mapping[str, Any]], now: datetime | None = None) -> bytes:
    """``rows`` as ``views.rows`` yields them; a header row repeated on every page."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=20, rightMargin=20, topMargin=24,
                            bottomMargin=24, title=f"订单列表 {station}")
    title = ParagraphStyle("title", fontName=FONT, fontSize=14, leading=18)
    made = (now or datetime.now(UTC))
    heading = Paragraph(f"订单列表 站点 {station}　共 {len(rows)} 条　导出于 {_text(made)}", title)
    data = [[c.header for c in PDF_COLUMNS], *[[_text(r[c.key]) for c in PDF_COLUMNS] for r in rows]]
    widths = [c.width * 5.2 for c in PDF_COLUMNS]
    table = LongTable(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 7.5), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
    doc.build([heading, table])
    return out.getvalue()
