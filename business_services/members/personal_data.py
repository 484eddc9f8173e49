"""One member's personal data as an Excel workbook (PIPL access request): a sheet per section, headers in
Chinese, times in China time (``exports.model.cell``). Pure: data in, bytes out."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from business_services.exports.model import cell

SHEETS = {"profile": "基本资料", "vehicles": "车辆", "tags": "标签", "growth": "成长值明细",
          "level_changes": "等级变更", "orders": "订单"}
HEADERS = {"member_no": "会员号", "phone": "手机号", "name": "姓名", "gender": "性别", "birthday": "生日",
           "source": "注册渠道", "station": "站点", "id_number_masked": "身份证号（脱敏）", "real_name": "实名状态",
           "wechat_openid": "微信 openid", "wechat_unionid": "微信 unionid",
           "level_name": "等级", "growth": "成长值", "lifecycle": "生命周期", "status": "状态",
           "registered_at": "注册时间", "erased_at": "删除时间", "plate": "车牌", "model": "车型", "colour": "颜色",
           "created_at": "时间", "at": "时间", "key": "来源", "reference": "单号", "amount_fen": "金额(分)",
           "from_level": "原等级", "to_level": "新等级", "reason": "原因", "order_no": "订单号",
           "grade": "油品", "volume_l": "升数", "paid_fen": "已付(分)"}


def workbook(data: dict[str, list[dict[str, Any]]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "default_date_format": "yyyy-mm-dd hh:mm:ss"})
    bold = book.add_format({"bold": True})
    for section, title in SHEETS.items():
        rows = data.get(section, [])
        sheet = book.add_worksheet(title)
        keys = list(rows[0]) if rows else []
        for col, key in enumerate(keys):
            sheet.write(0, col, HEADERS.get(key, key), bold)
            sheet.set_column(col, col, 18)
        for r, row in enumerate(rows, start=1):
            for col, key in enumerate(keys):
                sheet.write(r, col, cell(row[key]))
    book.close()
    return out.getvalue()
