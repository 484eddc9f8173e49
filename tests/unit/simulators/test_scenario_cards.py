"""EV drivers' cards: drawn from the station's id-tag list plus a share of unknown cards, and the demo
scenario's chargers and cards agree with the demo station file's central system."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

from edge_nodes.devices.ocpp import OcppDevice
from edge_nodes.station import load_station
from simulators.scenario.loading import load_scenario
from simulators.scenario.traffic import TrafficGenerator
from simulators.scenario.traffic_config import EvTraffic

CONFIG = Path(__file__).resolve().parents[3] / "config"
CARDS = ["RFID0001", "RFID0002", "STOLEN01"]


def test_drivers_carry_listed_cards_and_a_share_of_unknown_ones() -> None:
    traffic = EvTraffic(sessions_per_hour=50, cards=CARDS, unknown_share=0.2)
    drivers = list(itertools.islice(TrafficGenerator(5, 0, [92]).ev_drivers(traffic), 3000))
    tags = Counter(d.id_tag if d.id_tag in CARDS else "unknown" for d in drivers)
    assert set(tags) == {*CARDS, "unknown"}
    assert abs(tags["unknown"] / len(drivers) - 0.2) < 0.03
    unknown = [d.id_tag for d in drivers if d.id_tag not in CARDS]
    assert len(set(unknown)) == len(unknown)     # every unknown driver has a card of its own


def test_cards_do_not_change_who_arrives() -> None:
    plain = list(itertools.islice(TrafficGenerator(5, 0, [92]).ev_drivers(EvTraffic(sessions_per_hour=9)), 50))
    carded = list(itertools.islice(TrafficGenerator(5, 0, [92]).ev_drivers(
        EvTraffic(sessions_per_hour=9, cards=CARDS, unknown_share=0.5)), 50))
    assert [(d.habits, d.ev) for d in plain] == [(d.habits, d.ev) for d in carded]
    assert all(d.id_tag.startswith("EV") for d in plain)      # no cards: no driver is known anywhere


def test_the_demo_scenario_and_the_demo_station_agree() -> None:
    [csms] = [d for d in load_station(CONFIG / "stations" / "demo.yaml").devices if isinstance(d, OcppDevice)]
    scenario = load_scenario(CONFIG / "scenarios" / "demo-station.yaml")
    chargers = {c.charge_point_id: len(c.connectors) for c in scenario.devices.chargers}
    assert chargers == {cp.id: cp.connectors for cp in csms.charge_points}
    listed = {tag.casefold(): status.value for tag, status in csms.id_tags.items()}
    cards = scenario.traffic.ev.cards
    assert all(card.casefold() in listed for card in cards)
    statuses = {listed[card.casefold()] for card in cards}
    assert "Accepted" in statuses and statuses - {"Accepted"}     # some drivers charge, some are refused
    assert scenario.traffic.ev.unknown_share > 0
    # the csms_url the scenario file names for running with the edge node is where the station listens
    text = (CONFIG / "scenarios" / "demo-station.yaml").read_text(encoding="utf-8")
    assert f"ws://{csms.listen_host}:{csms.listen_port}{csms.path}" in text
