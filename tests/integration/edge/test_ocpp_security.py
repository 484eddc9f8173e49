"""OCPP security profiles 1 and 2 with the real charger simulator against the edge's central system.

Profile 1: HTTP Basic credentials over ws:// (user = charge point id, password = its key); profile 2:
the same over wss:// with a server certificate made here by a test CA. A wrong key, no credentials
or an unknown charge point id are refused at the handshake with HTTP 401, counted, and logged
without the password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from protocol_adapters.ocpp.security import hash_key
from protocol_adapters.ocpp.server import CentralSystem
from simulators.charger import ChargerConfig, ChargerSimulator
from simulators.clock import SimClock

pytestmark = pytest.mark.integration

KEY_01 = "chg01-Secret-Key-0001"
KEY_02 = "chg02-Secret-Key-0002"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Forecourt test CA")).issuer_name(_name("Forecourt test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("csms.demo-01")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def _device(tmp_path: Path, profile: int, **tls: Any) -> OcppDevice:
    key_file = tmp_path / "chg-02.key"
    key_file.write_text(KEY_02 + "\n", encoding="utf-8")
    return OcppDevice.model_validate({
        "protocol": "ocpp", "code": "chargers", "listen_host": "127.0.0.1", "listen_port": 0,
        "security_profile": profile, **tls,
        "charge_points": [{"id": "chg-01", "password_hash": hash_key(KEY_01)},
                          {"id": "chg-02", "password_file": str(key_file)}]})


@asynccontextmanager
async def running(device: OcppDevice) -> AsyncIterator[CentralSystem]:
    source = device.source()
    assert isinstance(source, OcppSource)
    async with source.csms as csms:
        yield csms


def _charger(csms: CentralSystem, cp: str, scheme: str = "ws", **security: Any) -> ChargerSimulator:
    config = ChargerConfig(charge_point_id=cp, reconnect_min_s=5, reconnect_max_s=10, **security)
    return ChargerSimulator(config, SimClock(60), url=f"{scheme}://127.0.0.1:{csms.port}/ocpp/{cp}")


async def _until(predicate: Any, within_s: float = 10.0) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_profile_1_lets_in_chargers_with_their_keys(tmp_path: Path) -> None:
    async with running(_device(tmp_path, 1)) as csms:
        key_file = tmp_path / "mine.key"
        key_file.write_text(KEY_02, encoding="utf-8")
        async with (_charger(csms, "chg-01", security_profile=1, authorization_key=KEY_01) as one,
                    _charger(csms, "chg-02", security_profile=1, authorization_key_file=key_file) as two):
            await asyncio.wait_for(asyncio.gather(one.wait_online(), two.wait_online()), 10)
            assert csms.connected("chg-01") and csms.connected("chg-02")
            assert await one.plug_in(1) and csms.core.stats.refused_handshakes == 0


@pytest.mark.parametrize(("cp", "security", "reason"), [
    ("chg-01", {"security_profile": 1, "authorization_key": KEY_02}, "wrong password"),   # another charger's key
    ("chg-02", {"security_profile": 1, "authorization_key": KEY_01}, "wrong password"),
    ("chg-01", {}, "no basic credentials"),                                                # profile 0 charger
    ("chg-99", {"security_profile": 1, "authorization_key": KEY_01}, "unknown charge point"),
])
async def test_profile_1_refuses_wrong_missing_and_unknown_at_the_handshake(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, cp: str, security: dict[str, Any], reason: str) -> None:
    caplog.set_level(logging.INFO)
    async with running(_device(tmp_path, 1)) as csms, _charger(csms, cp, **security) as charger:
        await _until(lambda: charger.stats.refused >= 2)     # refused, and refused again on the retry
        assert not charger.online and not csms.connected(cp)
        assert csms.core.stats.refused_handshakes >= 2
    refusals = [r.getMessage() for r in caplog.records if "at the handshake" in r.getMessage()]
    assert refusals and all(reason in text for text in refusals)
    assert not any(KEY_01 in r.getMessage() or KEY_02 in r.getMessage() for r in caplog.records)


async def test_profile_2_tls_with_a_generated_certificate(tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path)
    device = _device(tmp_path, 2, tls_cert_file=str(cert), tls_key_file=str(key))
    async with running(device) as csms:
        async with _charger(csms, "chg-01", "wss", security_profile=2, authorization_key=KEY_01,
                            ca_file=ca) as charger:
            await asyncio.wait_for(charger.wait_online(), 10)
            assert csms.connected("chg-01")
        async with _charger(csms, "chg-02", "wss", security_profile=2, authorization_key=KEY_01,
                            ca_file=ca) as wrong:
            await _until(lambda: wrong.stats.refused >= 1)
            assert not wrong.online
        async with _charger(csms, "chg-01", "wss", security_profile=2, authorization_key=KEY_01) as untrusting:
            await asyncio.sleep(1.0)   # the system trust store does not know the test CA: no TLS session
            assert untrusting.stats.connects == 0 and untrusting.stats.refused == 0
