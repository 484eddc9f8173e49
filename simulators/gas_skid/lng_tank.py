"""An LNG storage tank: saturated liquid under its own vapour, heat leak, vents and alarms.

State: liquid mass, liquid (bulk) temperature and vapour pressure. The liquid is homogeneous;
its saturation pressure ``Psat(T)`` is where the vapour heads:

* **Heat leak** ``Q = BOR x m_liq x h_fg / 86400`` (W, domain.md §2.5) warms the liquid,
  ``dT = Q dt / (m cp)``, so ``Psat`` rises by ``dPsat/dT x dT``. The factor grows up to
  ``vacuum_loss_heat_factor`` as the insulation vacuum degrades from 1 to 100 Pa.
* **Vapour follows Psat** by evaporation (time constant ``evaporation_tau_s``) or condensation
  (``condensation_tau_s``); the evaporated mass leaves the liquid and cools it by ``h_fg``.
* **Dispensing** removes liquid: the vapour space grows and the vapour expands (isothermal),
  so the pressure falls, then partly recovers as liquid flashes (cooling it a little for good).
* **Vents** (relief valve at ``relief_g_mpa`` with blowdown, manual vent valve) remove vapour.

Level is that of a vertical cylinder: liquid volume / cross-section.
"""

from __future__ import annotations

import math

from simulators.gas_skid import gas
from simulators.gas_skid.config import LngTankConfig
from simulators.gas_skid.sensors import SensorBoard

#: Vacuum (Pa) below which the insulation is as designed, and above which it is fully lost.
VACUUM_GOOD_PA = 1.0
VACUUM_LOST_PA = 100.0
#: Annulus pressure rise after a vacuum loss (Pa/s) and where it levels off (Pa).
VACUUM_LOSS_RATE_PA_S = 5.0
VACUUM_LOSS_FINAL_PA = 5000.0


class LngTank:
    def __init__(self, cfg: LngTankConfig) -> None:
        self.cfg = cfg
        self.area_m2 = math.pi * cfg.inner_diameter_m**2 / 4.0
        self.liquid_t_c = gas.lng_saturation_temperature(gas.absolute(cfg.initial_g_mpa))
        self.vapour_abs_mpa = gas.absolute(cfg.initial_g_mpa)
        self.liquid_kg = cfg.volume_m3 * cfg.initial_level_pct / 100.0 * gas.lng_liquid_density(self.liquid_t_c)
        self.vacuum_pa = cfg.initial_vacuum_pa
        self.vacuum_lost = False
        self.vent_valve_open = False
        self.relief_open = False
        self.vented_kg = 0.0
        self.relief_openings = 0
        self.high_pressure_alarm_g_mpa = cfg.high_pressure_alarm_g_mpa
        self.high_level_alarm_pct = cfg.high_level_alarm_pct
        self.low_level_alarm_pct = cfg.low_level_alarm_pct

    # --- derived values --------------------------------------------------------------------------

    @property
    def pressure_g(self) -> float:
        return gas.gauge(self.vapour_abs_mpa)

    @property
    def liquid_density(self) -> float:
        return gas.lng_liquid_density(self.liquid_t_c)

    @property
    def liquid_m3(self) -> float:
        return self.liquid_kg / self.liquid_density

    @property
    def vapour_m3(self) -> float:
        return max(self.cfg.volume_m3 - self.liquid_m3, 1e-3)

    @property
    def level_pct(self) -> float:
        return self.liquid_m3 / self.cfg.volume_m3 * 100.0

    @property
    def level_mm(self) -> float:
        return self.liquid_m3 / self.area_m2 * 1000.0

    @property
    def vapour_t_c(self) -> float:
        """Saturation temperature of the vapour pressure (warmer than the liquid while it rises)."""
        return gas.lng_saturation_temperature(self.vapour_abs_mpa)

    @property
    def heat_leak_factor(self) -> float:
        span = (self.vacuum_pa - VACUUM_GOOD_PA) / (VACUUM_LOST_PA - VACUUM_GOOD_PA)
        return 1.0 + (self.cfg.vacuum_loss_heat_factor - 1.0) * min(max(span, 0.0), 1.0)

    @property
    def heat_leak_w(self) -> float:
        bor = self.cfg.boil_off_pct_per_day / 100.0
        return bor * self.liquid_kg * gas.LNG_H_FG_J_KG / 86400.0 * self.heat_leak_factor

    def pressure_reading_g(self, sensors: SensorBoard) -> float:
        return sensors.read("lng_tank.pressure", self.pressure_g)

    def level_reading_pct(self, sensors: SensorBoard) -> float:
        return sensors.read("lng_tank.level", self.level_pct)

    def level_reading_mm(self, sensors: SensorBoard) -> float:
        """The same DP level transmitter, as liquid height."""
        return self.level_reading_pct(sensors) / 100.0 * self.cfg.volume_m3 / self.area_m2 * 1000.0

    def alarms(self, sensors: SensorBoard) -> dict[str, bool]:
        level = self.level_reading_pct(sensors)
        return {
            "high_pressure": self.pressure_reading_g(sensors) >= self.high_pressure_alarm_g_mpa,
            "high_level": level >= self.high_level_alarm_pct,
            "low_level": level <= self.low_level_alarm_pct,
            "vacuum_loss": self.vacuum_pa >= self.cfg.vacuum_alarm_pa,
        }

    def needs_fine_steps(self) -> bool:
        """True when a valve is open or the relief valve is about to lift (fast dynamics)."""
        near_relief = self.pressure_g > self.cfg.relief_g_mpa - 0.02
        return self.vent_valve_open or self.relief_open or near_relief

    # --- physics ---------------------------------------------------------------------------------

    def withdraw(self, dm_kg: float) -> None:
        """Pump ``dm_kg`` of liquid out: the vapour expands into the freed volume."""
        before = self.vapour_m3
        self.liquid_kg = max(self.liquid_kg - dm_kg, 0.0)
        self.vapour_abs_mpa *= before / self.vapour_m3

    def step(self, h: float) -> None:
        self._heat(h)
        self._follow_saturation(h)
        self._vent(h)
        if self.vacuum_lost:
            self.vacuum_pa = min(self.vacuum_pa + VACUUM_LOSS_RATE_PA_S * h, VACUUM_LOSS_FINAL_PA)

    def _heat(self, h: float) -> None:
        if self.liquid_kg > 0.0:
            self.liquid_t_c += self.heat_leak_w * h / (self.liquid_kg * gas.LNG_CP_J_KG_K)

    def _follow_saturation(self, h: float) -> None:
        """Evaporate or condense toward Psat(liquid); latent heat comes from or goes to the liquid."""
        gap_mpa = gas.lng_saturation_pressure_abs(self.liquid_t_c) - self.vapour_abs_mpa
        tau = self.cfg.evaporation_tau_s if gap_mpa > 0 else self.cfg.condensation_tau_s
        dp_mpa = gap_mpa * (1.0 - math.exp(-h / tau))
        dm = self._vapour_mass_per_mpa() * dp_mpa
        if self.liquid_kg <= dm:
            return
        self.vapour_abs_mpa += dp_mpa
        self.liquid_kg -= dm
        self.liquid_t_c -= dm * gas.LNG_H_FG_J_KG / (self.liquid_kg * gas.LNG_CP_J_KG_K)

    def _vent(self, h: float) -> None:
        p_g = self.pressure_g
        if not self.relief_open and p_g >= self.cfg.relief_g_mpa:
            self.relief_open = True
            self.relief_openings += 1
        elif self.relief_open and p_g <= self.cfg.relief_g_mpa - self.cfg.relief_blowdown_mpa:
            self.relief_open = False
        flow_kg_s = 0.0
        if self.relief_open:
            flow_kg_s += self.cfg.relief_capacity_kg_s * max(p_g, 0.0) / self.cfg.relief_g_mpa
        if self.vent_valve_open:
            flow_kg_s += self.cfg.vent_valve_kg_s_per_mpa * max(p_g, 0.0)
        if flow_kg_s <= 0.0:
            return
        per_mpa = self._vapour_mass_per_mpa()
        dm = min(flow_kg_s * h, max(p_g, 0.0) * per_mpa)  # never below atmospheric
        self.vapour_abs_mpa -= dm / per_mpa
        self.vented_kg += dm

    def _vapour_mass_per_mpa(self) -> float:
        """Vapour mass change (kg) per MPa of pressure change at constant volume and temperature."""
        return gas.vapour_density(1.0, self.liquid_t_c) * self.vapour_m3
