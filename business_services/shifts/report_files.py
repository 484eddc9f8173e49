"""A shift's handover report as files: its sheets from the report dict of ``views.report`` and nothing else,
drawn as Excel, PDF and a printable HTML page by ``business_services/report_files.py``, so the three always
show the same figures as the JSON.
"""

from __future__ import annotations

from typing import Any

from business_services import report_files


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


def title(report: dict[str, Any]) -> str:
    return f"交接班报表 {report['shift_no']}"


def report_xlsx(report: dict[str, Any]) -> bytes:
    return report_files.xlsx(title(report), sheets(report))


def report_pdf(report: dict[str, Any]) -> bytes:
    return report_files.pdf(title(report), sheets(report))


def report_html(report: dict[str, Any]) -> str:
    return report_files.printable_html(title(report), sheets(report))
