"""What the audit chain keeps of a command: everything but card numbers, which it only counts."""

from control_api.routes.commands import _auditable


def test_card_numbers_are_counted_not_kept() -> None:
    data = {"device": "cp-01", "id_tags": {"CARD-0001": "Accepted", "CARD-0002": "Blocked"}}
    kept = _auditable(data)
    assert kept == {"device": "cp-01", "id_tags": "<2 masked>"}
    assert "CARD-0001" not in str(kept)


def test_other_arguments_are_kept_as_sent() -> None:
    data = {"device": "disp-01", "fuelling_point": 1, "nozzle": 2, "price_fen_per_l": 851}
    assert _auditable(data) == data
