"""VCF to 20 °C (GB/T 1885 approach) against the values domain.md §2.2 lists."""

from __future__ import annotations

import pytest

from telemetry.contracts.vcf import litres_at_20, rho15_from_rho20, vcf15, vcf20


@pytest.mark.parametrize(("rho15", "temperatures", "expected"), [
    (737.0, (5, 20, 25, 35), (1.01228, 0.99382, 0.98762, 0.97516)),   # 92# gasoline
    (840.0, (5, 20, 25, 35), (1.00842, 0.99578, 0.99154, 0.98304)),   # 0# diesel
])
def test_vcf15_matches_table_54b(rho15: float, temperatures: tuple[int, ...], expected: tuple[float, ...]) -> None:
    assert [round(vcf15(t, rho15), 5) for t in temperatures] == list(expected)


@pytest.mark.parametrize(("rho15", "expected"), [
    (737.0, (1.01858, 1.00622, 0.99376, 0.98122)),
    (840.0, (1.01269, 1.00424, 0.99575, 0.98721)),
])
def test_vcf20_is_vcf15_over_its_value_at_20(rho15: float, expected: tuple[float, ...]) -> None:
    assert [round(vcf15(t, rho15) / vcf15(20, rho15), 5) for t in (5, 15, 25, 35)] == list(expected)


def test_rho20_is_converted_to_rho15_first() -> None:
    assert rho15_from_rho20(737.0) == pytest.approx(741.54, abs=0.01)
    assert vcf20(35.0, 737.0) == pytest.approx(0.98140, abs=5e-6)     # not 0.98122 (ρ15 = 737 unconverted)


def test_at_20_degrees_nothing_changes_and_warm_product_shrinks() -> None:
    assert vcf20(20.0, 835.0) == pytest.approx(1.0, abs=1e-12)
    assert litres_at_20(10_000.0, 30.0, 737.0) < 10_000.0 < litres_at_20(10_000.0, 10.0, 737.0)


@pytest.mark.parametrize(("temperature", "rho20"), [(20.0, 500.0), (20.0, 1200.0), (-50.0, 737.0), (90.0, 737.0)])
def test_out_of_range_inputs_are_refused(temperature: float, rho20: float) -> None:
    with pytest.raises(ValueError, match="应在"):
        vcf20(temperature, rho20)
