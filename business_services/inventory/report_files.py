"""A day's or a shift's tank reconciliation as files: its sheets from ``views.report`` and nothing else, drawn as
Excel and PDF by ``business_services/report_files.py``, so they show the same figures as the page and the JSON.
"""

from __future__ import annotations

from typing import Any

from business_services import report_files

STATUS = {"ok": "正常", "exceeded": "超限", "incomplete": "数据不全"}
PERIOD = {"day": "日", "shift": "班次"}


def _l(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def title(report: dict[str, Any]) -> str:
    return f"油罐罐存比对（{PERIOD[report['period']]}）{report['station']} {report['period_key']}"


def sheets(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(sheet name, headers, rows): 罐存比对, ARTS 四方核对, 卸油. Litres at 20 °C."""
    tanks = [[", ".join(str(n) for n in t["tanks"]), t["grade_name"], _l(t["opening_l"]), _l(t["deliveries_l"]),
              _l(t["sales_l"]), _l(t["book_l"]), _l(t["closing_l"]), _l(t["variance_l"]),
              "" if t["loss_pct"] is None else f"{t['loss_pct']:.3f}", _l(t["limit_l"]), STATUS[t["status"]]]
             for t in report["tanks"]]
    arts = [[", ".join(str(n) for n in t["tanks"]), t["grade_name"], _l(t["detail"]["arts"]["transactions_l"]),
             _l(t["detail"]["arts"]["nozzle_meters_l"]), _l(t["detail"]["arts"]["tank_meters_l"]),
             _l(t["detail"]["arts"]["dip_l"])] for t in report["tanks"]]
    deliveries = [[d["tank"], d["started_at"], d["ended_at"], _l(d["received_l_20"]), d["note_no"] or "未匹配",
                   _l(d["road_loss_l"]), _l(d["road_limit_l"]), "超限" if d["exceeded"] else "正常"]
                  for d in report["deliveries"]]
    return [("罐存比对", ["油罐", "油品", "期初实测（升）", "进油（升）", "销售（升）", "账面库存（升）",
                      "期末实测（升）", "差异（升）", "站耗率（%）", "允许（升）", "结论"], tanks),
            ("ARTS四方核对", ["油罐", "油品", "交易记录（升）", "油枪泵码（升）", "液位仪（升）",
                          "人工量油（升）"], arts),
            ("卸油", ["油罐", "开始", "结束", "实收（升）", "卸车单", "路耗（升）", "允许（升）", "结论"], deliveries)]


def report_xlsx(report: dict[str, Any]) -> bytes:
    return report_files.xlsx(title(report), sheets(report))


def report_pdf(report: dict[str, Any]) -> bytes:
    return report_files.pdf(title(report), sheets(report), wide=True,
                            subtitle=f"{report['starts_at']} 至 {report['ends_at']}，体积均为 20 °C 标准体积")
