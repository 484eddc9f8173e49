"""A report as files people file: Excel (XlsxWriter), PDF (reportlab with its built-in Chinese CID font
STSong-Light, so no font file is needed) and a printable HTML page. A report is a title and its sheets
(name, headers, rows); each context decides its sheets from its own view (e.g. ``shifts/report_files.py``),
and these writers draw them, so every file shows the same figures as the page and the JSON.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
Sheet = tuple[str, list[str], list[list[Any]]]      # (name, headers, rows)


def xlsx(title: str, sheets: Sequence[Sheet]) -> bytes:
    """One worksheet per sheet: the title in its first row, the headers in bold below it."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for name, headers, rows in sheets:
        sheet = book.add_worksheet(name)
        sheet.write(0, 0, title, bold)
        sheet.write_row(1, 0, headers, bold)
        for i, row in enumerate(rows, start=2):
            sheet.write_row(i, 0, row)
        sheet.set_column(0, len(headers) - 1, 16)
    book.close()
    return buffer.getvalue()


def pdf(title: str, sheets: Sequence[Sheet], *, subtitle: str = "", wide: bool = False) -> bytes:
    """A4 (landscape when ``wide``): the title, the subtitle, then each sheet as a headed table."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    heading = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22)
    sub = ParagraphStyle("heading", fontName=FONT, fontSize=12, leading=18)
    style = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    story: list[Any] = [Paragraph(html.escape(title), heading)]
    if subtitle:
        story.append(Paragraph(html.escape(subtitle), sub))
    story.append(Spacer(1, 6))
    for name, headers, rows in sheets:
        story += [Paragraph(html.escape(name), sub),
                  Table([headers, *[[str(v) for v in row] for row in rows]], style=style, hAlign="LEFT"),
                  Spacer(1, 8)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=landscape(A4) if wide else A4, title=title).build(story)
    return buffer.getvalue()


def printable_html(title: str, sheets: Sequence[Sheet]) -> str:
    """A page with a print button (hidden when printed), one table per sheet."""
    parts = [f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
             "td,th{border:1px solid #999;padding:2px 6px}@media print{button{display:none}}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><button onclick=\"print()\">打印</button>"]
    for name, headers, rows in sheets:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        parts.append(f"<h2>{html.escape(name)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts) + "</body></html>"
