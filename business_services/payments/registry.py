"""Which provider takes which method at this station server: the offline tenders always, plus the online
providers the process is given (``business_services/online_payments``: one ``HeadOfficeProvider`` per
online method). A method nobody provides is listed as not yet available (尚未开通)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.fleet_credit import FleetCreditProvider
from business_services.payments.offline import OFFLINE
from business_services.payments.points import PointsProvider
from business_services.payments.providers import PaymentProvider
from business_services.payments.stored_value import StoredValueProvider
from telemetry.contracts.events.payments import METHOD_NAMES, Method

NOT_CONFIGURED = "尚未开通 (not set up at this station)"


@dataclass(frozen=True, slots=True)
class MethodStatus:
    method: Method
    label: str
    available: bool
    reason: str | None
    safe_offline: bool


class Providers:
    def __init__(self, online: Iterable[PaymentProvider] | None = None) -> None:
        self._by_method: dict[Method, PaymentProvider] = {p.method: p for p in (*OFFLINE, *(online or ()))}

    def get(self, method: Method) -> PaymentProvider | None:
        return self._by_method.get(method)

    def unavailable(self, method: Method) -> str | None:
        """None when ``method`` can take a payment now, else why not (for the cashier)."""
        provider = self._by_method.get(method)
        return NOT_CONFIGURED if provider is None else provider.unavailable()

    def methods(self) -> list[MethodStatus]:
        listed = []
        for method in Method:
            provider, reason = self._by_method.get(method), self.unavailable(method)
            listed.append(MethodStatus(method, METHOD_NAMES[method], reason is None, reason,
                                       bool(provider and provider.safe_offline)))
        return listed


def member_providers(link: HeadOfficeLink | None, database_url: str) -> list[PaymentProvider]:
    """The member tenders of a station server: stored value (online through ``link``, offline within the card's
    limits from the station's member list), points (through head office only) and fleet credit (against the fleet
    authorisation the fuelling was made under: business_services/station_fleets)."""
    return [StoredValueProvider(link, database_url), PointsProvider(link), FleetCreditProvider(link, database_url)]


def head_office_link(providers: Providers) -> HeadOfficeLink | None:
    """The station server's link to head office, as its member tenders hold it (None: no head office set up)."""
    for method in (Method.STORED_VALUE, Method.FLEET_CREDIT):
        link = getattr(providers.get(method), "link", None)
        if isinstance(link, HeadOfficeLink):
            return link
    return None
