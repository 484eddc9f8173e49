"""The keys of one simulated WeChat Pay merchant, made fresh at start (nothing secret is stored).

What a real merchant downloads from the WeChat Pay console, the simulator makes with ``cryptography``:
the merchant's API key pair (the merchant signs requests; WeChat verifies with the public half), the
platform key pair (WeChat signs answers and notifications; the merchant verifies with the platform public
key and its id, the SDK's ``public_key``/``public_key_id`` mode) and the 32-character APIv3 key
(AEAD_AES_256_GCM of notification resources).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass(frozen=True)
class WeChatPayKeys:
    mchid: str = "1900000109"
    appid: str = "wxd678efh567hg6787"
    merchant_serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    merchant: tuple[str, str] = field(default_factory=key_pair, repr=False)     # (private PEM, public PEM)
    platform: tuple[str, str] = field(default_factory=key_pair, repr=False)
    platform_key_id: str = field(default_factory=lambda: "PUB_KEY_ID_" + secrets.token_hex(12).upper())
    apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)   # 32 characters

    def merchant_config(self, gateway: str) -> dict[str, str]:
        """What the merchant configures (head office's WECHATPAY_* settings, docs/online-payments.md)."""
        return {"gateway": gateway, "mchid": self.mchid, "appid": self.appid, "merchant_serial": self.merchant_serial,
                "merchant_private_key": self.merchant[0], "platform_public_key": self.platform[1],
                "platform_key_id": self.platform_key_id, "apiv3_key": self.apiv3_key}
