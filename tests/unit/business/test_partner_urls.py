"""The addresses a partner's URL may reach (business_services/partner_urls.py): public ones, and the private
networks named in the setting; a URL written with an internal address is refused without a DNS lookup."""

from __future__ import annotations

import ipaddress

import pytest

from business_services.partner_urls import AddressRefused, allowed_networks, check_literal, refusal

REFUSED = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",  # noqa: S104 - an address refused, not bound
           "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "fc00::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused_with_the_reason(address: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and "公网" in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "114.114.114.114", "2400:3200::1", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_named_private_network_is_let_in_and_nothing_else() -> None:
    allowed = allowed_networks("10.8.0.0/16, 127.0.0.0/8")
    assert refusal(ipaddress.ip_address("10.8.3.4"), allowed) is None
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("10.9.0.1"), allowed) is not None
    with pytest.raises(AddressRefused, match="CIDR"):
        allowed_networks("10.8.0.0/16, intranet")


def test_a_url_written_with_an_internal_address_or_localhost_is_refused_and_a_name_waits_for_delivery() -> None:
    for url in ("http://127.0.0.1:5432/", "https://[::1]/x", "http://localhost/x", "http://api.localhost/x",
                "http://[::ffff:192.168.0.1]/x", "http://e'j+vCG>Mgd:port/"):
        with pytest.raises(AddressRefused):
            check_literal(url, ())
    check_literal("https://fleet.example.com/hook", ())          # resolved at each delivery instead
    check_literal("http://127.0.0.1:9000/hook", allowed_networks("127.0.0.0/8"))
