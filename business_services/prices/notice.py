"""The price-change notice (调价公告) of one station: what the station posts for customers, as HTML and as an A4
PDF (Chinese through reportlab's built-in STSong-Light CID font, as ``orders/pdf.py``: no font file)."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from business_services.prices.model import STATION_ZONE, unit_of
from business_services.stations import views as stations
from business_services.stations.model import GRADES

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_UNITS = {"L": "元/升", "kg": "元/千克", "kWh": "元/千瓦时"}


@dataclass(frozen=True, slots=True)
class NoticeLine:
    grade: str          # its name, e.g. 92#汽油
    nozzle: str         # "" for the grade's price; "disp-01 1号枪位 2号枪" for a nozzle's own
    old: str            # "7.89" or "—"
    new: str
    unit: str           # 元/升


@dataclass(frozen=True, slots=True)
class Notice:
    station: str
    station_name: str
    change_no: str
    effective: str      # in the station's time, e.g. 2026年12月05日 00:00
    reason: str
    lines: list[NoticeLine]
    issued: str


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else f"{fen / 100:.2f}"


async def notice_data(conn: psycopg.AsyncConnection, change: dict[str, Any], station: str) -> Notice:
    """``change`` as ``views.change_detail`` gives it."""
    detail = await stations.station_detail(conn, station)
    at = change["effective_at"] or change["sent_at"] or change["requested_at"]
    lines = []
    for ln in change["lines"]:
        if ln["station"] != station:
            continue
        grade = GRADES[ln["grade"]].name if ln["grade"] in GRADES else ln["grade"]
        where = "" if ln["device"] is None else f"{ln['device']} {ln['fuelling_point']}号枪位 {ln['nozzle']}号枪"
        lines.append(NoticeLine(grade, where, _yuan(ln["old_price_fen"]), _yuan(ln["new_price_fen"]),
                                _UNITS[unit_of(ln["grade"])]))
    return Notice(station, station if detail is None else str(detail["name"]), change["change_no"],
                  f"{at.astimezone(STATION_ZONE):%Y年%m月%d日 %H:%M}", change["reason"], lines,
                  f"{datetime.now(UTC).astimezone(STATION_ZONE):%Y年%m月%d日}")


def _body_text(n: Notice) -> str:
    return f"尊敬的顾客：本站自 {n.effective} 起执行新的油品价格，具体如下。调价原因：{n.reason}。感谢您的理解与支持！"


def notice_html(n: Notice) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(ln.grade)}</td><td>{e(ln.nozzle) or '全部油枪'}</td><td>{e(ln.old)}</td>"
                   f"<td><strong>{e(ln.new)}</strong></td><td>{e(ln.unit)}</td></tr>" for ln in n.lines)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>调价公告 {e(n.station_name)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:720px;margin:2em auto}}
h1{{text-align:center}}table{{width:100%;border-collapse:collapse}}td,th{{border:1px solid #999;padding:6px;
text-align:center}}.sign{{text-align:right;margin-top:2em}}</style></head>
<body><h1>调价公告</h1><p>{e(_body_text(n))}</p>
<table><thead><tr><th>油品</th><th>油枪</th><th>原价</th><th>新价</th><th>单位</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="sign">{e(n.station_name)}（{e(n.station)}）<br>{e(n.issued)}<br>调价单号 {e(n.change_no)}</p>
</body></html>"""


def notice_pdf(n: Notice) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=48, rightMargin=48, topMargin=56, bottomMargin=48,
                            title=f"调价公告 {n.station_name}")
    title = ParagraphStyle("title", fontName=FONT, fontSize=22, leading=28, alignment=1)
    body = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=20, wordWrap="CJK")
    sign = ParagraphStyle("sign", fontName=FONT, fontSize=12, leading=20, alignment=2)
    table = Table([["油品", "油枪", "原价", "新价", "单位"]] +
                  [[ln.grade, ln.nozzle or "全部油枪", ln.old, ln.new, ln.unit] for ln in n.lines],
                  colWidths=[90, 170, 70, 70, 80], repeatRows=1)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 12),
                               ("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
    doc.build([Paragraph("调价公告", title), Spacer(1, 18), Paragraph(html.escape(_body_text(n)), body),
               Spacer(1, 12), table, Spacer(1, 24),
               Paragraph(f"{html.escape(n.station_name)}（{html.escape(n.station)}）<br/>{html.escape(n.issued)}<br/>"
                         f"调价单号 {html.escape(n.change_no)}", sign)])
    return out.getvalue()
