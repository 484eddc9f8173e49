from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from telemetry.contracts.events.fuelling import FuellingCompleted

GOOD = {"station": "st-01", "pump": "disp-01", "fuelling_point": 1, "nozzle": 2, "grade": 95, "transaction": 7,
        "volume_l": 41.38, "amount_fen": 30000, "price_fen_per_l": 725, "totalizer_before_l": 1000.00,
        "totalizer_after_l": 1041.38, "started_at": datetime(2026, 3, 1, 8, tzinfo=UTC),
        "ended_at": datetime(2026, 3, 1, 8, 2, tzinfo=UTC)}


def test_litres_are_exact_decimals() -> None:
    t = FuellingCompleted.model_validate(GOOD)
    assert t.volume_l == Decimal("41.38") and t.totalizer_after_l - t.totalizer_before_l == t.volume_l


@pytest.mark.parametrize(("change", "message"), [
    ({"totalizer_after_l": 1041.39}, "totalizer"),
    ({"ended_at": datetime(2026, 3, 1, 7, tzinfo=UTC)}, "end before it starts"),
    ({"amount_fen": -1}, "greater than or equal"),
    ({"volume_l": 1.234}, "decimal places"),
])
def test_inconsistent_transactions_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FuellingCompleted.model_validate(GOOD | change)
