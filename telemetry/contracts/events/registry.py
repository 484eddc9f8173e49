"""Every business event type and its payload model: ``EVENT_PAYLOADS[type]`` (legacy spellings included)."""

from __future__ import annotations

from telemetry.contracts.commands import Acknowledgement
from telemetry.contracts.events.alarms import ALARM_EVENTS, AcknowledgeAlarm
from telemetry.contracts.events.audit import AuditRecorded
from telemetry.contracts.events.charging import ChargingCompleted, ChargingRefused
from telemetry.contracts.events.delivery import DeliveryCompleted
from telemetry.contracts.events.drive_through import DriveThroughAwaiting
from telemetry.contracts.events.envelope import EventPayload
from telemetry.contracts.events.fuelling import FuellingCompleted, FuellingGap
from telemetry.contracts.events.gas import GasFillCompleted
from telemetry.contracts.events.ic_cards import IcGreyRecorded, IcGreySettled, IcPurseRead
from telemetry.contracts.events.inventory import InventoryReconciled
from telemetry.contracts.events.orders import OrderChanged, OrderCreated
from telemetry.contracts.events.payments import PaymentCaptured, PaymentRefunded
from telemetry.contracts.events.shifts import ShiftClosed, ShiftOpened
from telemetry.contracts.events.vision import FaceRecognized, FaceSpoofDetected, VehicleRecognized
from telemetry.contracts.master_data import MasterData, MasterDataApplied
from telemetry.contracts.prices import PriceApplied, PriceSet

MODELS: tuple[type[EventPayload], ...] = (FuellingCompleted, FuellingGap, GasFillCompleted, ChargingCompleted,
                                          ChargingRefused, DeliveryCompleted, Acknowledgement, MasterData,
                                          MasterDataApplied, PaymentCaptured, PaymentRefunded, AuditRecorded,
                                          ShiftOpened, ShiftClosed, OrderCreated, OrderChanged,
                                          PriceSet, PriceApplied, *ALARM_EVENTS.values(),
                                          AcknowledgeAlarm,
                                          InventoryReconciled, IcGreyRecorded, IcGreySettled, IcPurseRead,
                                          VehicleRecognized, FaceRecognized, FaceSpoofDetected,
                                          DriveThroughAwaiting)

EVENT_PAYLOADS: dict[str, type[EventPayload]] = {
    event_type: model for model in MODELS for event_type in (model.TYPE, *model.LEGACY_TYPES)}
