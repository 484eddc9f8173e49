"""IC cards wired from settings: the station server's desk (its readers, PSAM and head office's grey list and
loads) and head office's PSAM (docs/ic-cards.md)."""

from __future__ import annotations

from datetime import timedelta

from business_services.bootstrap import build_bus
from business_services.ic_cards.desk import Desk, Reader
from business_services.ic_cards.model import Psam
from business_services.ic_cards.provider import IcCardProvider
from business_services.ic_cards.reader import ReaderLink
from business_services.ic_cards.station_link import HeadOfficeIc
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.registry import Providers
from forecourt.roles import Role, policy
from forecourt.settings import Settings


def psam(settings: Settings) -> Psam | None:
    return Psam(bytes.fromhex(settings.ic_issuer_key)) if settings.ic_issuer_key else None


def readers(link: ReaderLink, names: str) -> dict[str, Reader]:
    """``pos-1,disp-01/1`` → reader 1 a POS's, reader 2 fuelling point 1 of disp-01."""
    found = {}
    for address, name in enumerate((n.strip() for n in names.split(",") if n.strip()), start=1):
        pump, _, fp = name.partition("/")
        found[name] = Reader(name, link.slot(address), pump, int(fp) if fp.isdigit() else 0)
    return found


def pos_provider(settings: Settings, database_url: str) -> IcCardProvider | None:
    """``ic_card`` at the station API's POS: its own link to the readers; the station of each payment comes with
    the request (the API process has no station of its own; it never polls: the business process's desk does)."""
    desk = station_desk(settings, database_url, "")
    return None if desk is None else IcCardProvider(desk)


def station_desk(settings: Settings, database_url: str, station: str) -> Desk | None:
    """The station's desk, or None when it has no readers or no issuer key."""
    key = psam(settings)
    if not settings.ic_reader_address or key is None:
        return None
    host, _, port = settings.ic_reader_address.rpartition(":")
    head_office = None
    if settings.head_office_url and settings.head_office_api_key:
        head_office = HeadOfficeIc(HeadOfficeLink(settings.head_office_url, settings.head_office_api_key), key)
    desk = Desk(station, database_url, readers(ReaderLink(host, int(port)), settings.ic_readers), key,
                build_bus(policy(Role.STATION).contexts), grey_list=head_office.grey_list if head_office else None,
                loads=head_office, delay=timedelta(seconds=settings.ic_grey_delay_s))
    desk.providers = Providers([IcCardProvider(desk)])
    return desk
