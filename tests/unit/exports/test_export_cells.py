"""How values become spreadsheet cells (business_services/exports/model.py: cell)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from business_services.exports.kinds import KINDS
from business_services.exports.model import cell


def test_times_are_shown_in_china_time_without_a_zone() -> None:
    shown = cell(datetime(2026, 1, 1, 16, 30, tzinfo=UTC))
    assert shown == datetime(2026, 1, 2, 0, 30, tzinfo=UTC).replace(tzinfo=None) and shown.tzinfo is None


def test_json_becomes_readable_text_and_numbers_stay_numbers() -> None:
    assert cell({"说明": "调价", "a": [1, 2]}) == '{"a": [1, 2], "说明": "调价"}'
    assert cell(Decimal("7.58")) == 7.58 and cell(12) == 12 and cell(None) is None and cell("92#") == "92#"


def test_every_kind_has_chinese_headers_and_unique_keys() -> None:
    for kind in KINDS.values():
        keys = [c.key for c in kind.columns]
        assert len(keys) == len(set(keys)), kind.name
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c.header) for c in kind.columns), kind.name
