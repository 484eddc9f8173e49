"""A shift's handover report as files: Excel (XlsxWriter), PDF (reportlab, its built-in Chinese CID font, so
no font file is needed) and a printable HTML page. Each is drawn from the report dict of ``views.report``
and nothing else, so the three always show the same figures as the JSON.
"""

from __future__ import annotations

import html
import io
from typing import Any

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f}"


def sheets(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(sheet name, headers, rows) of the report: 汇总, 油枪, 收款方式, 现金清点, 未付订单. Money in fen."""
    cash = report.get("cash") or {}
    summary = [["班次号", report["shift_no"]], ["站点", report["station"]], ["班次", report["definition"] or ""],
               ["负责人", report["person_in_charge"]], ["开班时间", report["opened_at"]],
               ["交班时间", report["closed_at"] or ""], ["交班人", report["closed_by"] or ""],
               ["订单数", report["order_count"]], ["销售额（分）", report["sales_fen"]],
               ["销量（升）", report["volume_l"]], ["收款合计（分）", report["takings_fen"]],
               ["应有现金（分）", cash.get("expected_fen", "")], ["清点现金（分）", cash.get("counted_fen", "")],
               ["长短款（分）", cash.get("over_short_fen", "")], ["说明", cash.get("explanation") or ""],
               ["强制交班原因", report["override_reason"] or ""]]
    nozzles = [[n["pump"], n["fuelling_point"], n["nozzle"], n["grade"] if n["grade"] is not None else "", n["orders"],
                n["volume_l"], n["amount_fen"], n["start_l"] or "", n["end_l"] or "", n["difference_l"] or ""]
               for n in report["by_nozzle"]]
    takings = [[t["method_name"], t["payments"], t["captured_fen"], t["refunds"], t["refunded_fen"], t["net_fen"]]
               for t in report["takings"]]
    count = [[_yuan(c["denomination_fen"]), c["pieces"], c["denomination_fen"] * c["pieces"]]
             for c in cash.get("count", [])]
    unpaid = [[o["order_no"], o["shift_no"] or "", "本班" if o in report["unpaid"] else "前班结转", o["amount_fen"],
               o["outstanding_fen"]] for o in [*report["unpaid"], *report["carried"]]]
    return [("汇总", ["项目", "数值"], summary),
            ("油枪", ["油机", "加油点", "油枪", "油品", "笔数", "销量（升）", "金额（分）", "起始泵码", "结束泵码",
                      "泵码差异（升）"], nozzles),
            ("收款方式", ["收款方式", "笔数", "收款（分）", "退款笔数", "退款（分）", "净额（分）"], takings),
            ("现金清点", ["面额（元）", "张数", "金额（分）"], count),
            ("未付订单", ["订单号", "销售班次", "类别", "金额（分）", "未付（分）"], unpaid)]


def report_xlsx(report: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for name, headers, rows in sheets(report):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, headers, bold)
        for i, row in enumerate(rows, start=1):
            sheet.write_row(i, 0, row)
        sheet.set_column(0, len(headers) - 1, 16)
    book.close()
    return buffer.getvalue()


def report_pdf(report: dict[str, Any]) -> bytes:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    title = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=12, leading=18)
    style = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    story: list[Any] = [Paragraph(f"交接班报表 {html.escape(report['shift_no'])}", title), Spacer(1, 6)]
    for name, headers, rows in sheets(report):
        story += [Paragraph(name, heading),
                  Table([headers, *[[str(v) for v in row] for row in rows]], style=style, hAlign="LEFT"),
                  Spacer(1, 8)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"交接班报表 {report['shift_no']}").build(story)
    return buffer.getvalue()


def report_html(report: dict[str, Any]) -> str:
    parts = [f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>交接班报表 "
             f"{html.escape(report['shift_no'])}</title><style>body{{font-family:sans-serif}}table{{border-collapse:"
             "collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:2px 6px}"
             "@media print{button{display:none}}</style></head><body>",
             f"<h1>交接班报表 {html.escape(report['shift_no'])}</h1><button onclick=\"print()\">打印</button>"]
    for name, headers, rows in sheets(report):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        parts.append(f"<h2>{name}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts) + "</body></html>"
