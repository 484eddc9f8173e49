"""The station scenario: one YAML runs a whole simulated station, faster than real time.

- ``config``, ``traffic_config``, ``timing``: the scenario file's models; ``loading``: ``load_scenario``.
- ``traffic``: seeded arrival streams (time-of-day Poisson) of cars, gas vehicles and EVs.
- ``clock``: ``ScenarioClock``, simulated time in ticks so that a seed repeats a run.
- ``station``: every device simulator started from the file; ``lanes``: who is at which pump.
- ``customers``, ``ev``, ``tanks``: the people and tankers, acting on the simulators' models.
- ``faults`` (+ ``fault_table``, ``fault_target``, ``fault_link``, ``fault_equipment``): scheduled and
  commanded fault injection.
- ``control``: the line-based TCP control port; ``console``: the bilingual log and summaries.
- ``runner.Scenario``: all of it on one clock. How to use it: docs/simulators.md.
"""

from simulators.scenario.config import ScenarioConfig, ScenarioConfigError
from simulators.scenario.loading import load_scenario, parse_scenario, with_free_ports
from simulators.scenario.runner import Scenario
from simulators.scenario.tally import Tally

__all__ = [
    "Scenario", "ScenarioConfig", "ScenarioConfigError", "Tally", "load_scenario", "parse_scenario", "with_free_ports",
]
