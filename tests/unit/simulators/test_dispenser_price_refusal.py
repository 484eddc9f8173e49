"""The dispenser simulator's price refusal: a nozzle configured (or switched) to refuse keeps its old price."""

from datetime import UTC, datetime

from simulators.dispenser.config import DispenserConfig, FuellingPointConfig, NozzleConfig
from simulators.dispenser.model import DispenserModel
from simulators.dispenser.states import CommandResult


def test_a_nozzle_configured_to_refuse_keeps_its_price() -> None:
    model = DispenserModel(DispenserConfig(fuelling_points=[FuellingPointConfig(nozzles=[
        NozzleConfig(price_fen=789, refuses_prices=True), NozzleConfig(price_fen=836)])]),
        start=datetime(2026, 12, 4, tzinfo=UTC))
    assert model.set_price(1, 1, 802) is CommandResult.REFUSED and model.set_price(1, 2, 851) is CommandResult.OK
    assert [n.price_fen for n in model.fp_view(1).nozzles] == [789, 851]
    model.refuse_prices(1, 1, refuse=False)
    assert model.set_price(1, 1, 802) is CommandResult.OK
    model.refuse_prices(1, 2)
    assert model.set_price(1, 2, 900) is CommandResult.REFUSED
    assert [n.price_fen for n in model.fp_view(1).nozzles] == [802, 851]
