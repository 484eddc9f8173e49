"""Settings from ``FORECOURT_*`` environment variables (and an optional env file), validated at start.

A wrong value stops the program with the variable's name and what was expected:
``FORECOURT_API_PORT: expected a smaller number, got '70000'``. A misspelt ``FORECOURT_`` name is
an error that suggests the closest setting; lines of an env file without the prefix are ignored
(the file may be shared with other programs). The environment wins over the env file.
``settings_table()`` lists every setting with its default and meaning (``forecourt settings``).
"""

from __future__ import annotations

import difflib
import io
import os
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from business_services import partner_urls
from business_services.drive_through.model import ATTACH_MINUTES, CONFIRM_MINUTES, MIN_CONFIDENCE
from business_services.partition import Partition
from business_services.payments.model import REFUND_APPROVAL_ABOVE_FEN
from telemetry.contracts.broker import BrokerAddress, url_without_password

ENV_PREFIX = "FORECOURT_"
Port = Annotated[int, Field(ge=1, le=65535)]


class SettingsError(ValueError):
    """A setting is wrong; the message names the variable and what was expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    role: Literal["head-office", "station"] = Field(
        "head-office", description="head-office (owns master data, applies station events) or station (the "
        "station server: its own database, a read-only copy of master data); forecourt/roles.py")
    database_url: str | None = Field(None, description="PostgreSQL URL; unset = embedded PostgreSQL in data_dir")
    mqtt_url: str | None = Field(None, description="mqtt://[user:pass@]host:port; unset = a broker started for you")
    mqtt_ca_file: Path | None = Field(None, description="CA bundle for mqtts:// brokers")
    mqtt_v5: bool = Field(True, description="speak MQTT v5 (needed for shared subscriptions)")
    data_dir: Path = Field(Path(".forecourt"), description="where the embedded PostgreSQL and broker keep data")
    group: str = Field("demo-co", pattern=r"^[A-Za-z0-9_.-]+$", description="Sparkplug group: operating company")
    primary_host_id: str | None = Field("forecourt", description="Sparkplug primary host: ingest says STATE, "
                                        "edge nodes wait for it before births; empty = do not wait")
    edge_outbox_max_mb: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        256, description="store-and-forward queue limit; over it the oldest telemetry is dropped (never events)")
    ingest_group: str = Field("+", description="Sparkplug group(s) ingest subscribes to; + = every company")
    ingest_worker_id: str = Field("1", pattern=r"^[A-Za-z0-9_-]+$",
                                  description="stable id of this ingest worker (its persistent MQTT session)")
    ingest_share_group: str | None = Field("ingest", description="MQTT v5 shared-subscription group for ingest")
    business_group: str = Field("+", pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$",
                                description="the group whose events the business consumer records; + = every company")
    business_stall_after_s: Annotated[float, Field(ge=1, le=86_400)] = Field(
        30.0, description="/healthz of `forecourt business` turns 503 when an event has waited this long")
    business_partition: str = Field("1/1", description="this `forecourt business` process's share, i/N: it handles "
                                    "the stations that hash to i of N processes, each with its own MQTT session")
    broker_drop_watch: bool = Field(True, description="ingest and business warn when the broker's $SYS "
                                    "dropped-message count rises (Mosquitto)")
    alarm_station_servers: str = Field("", pattern=r"^[a-z0-9,-]*$", description="head office: the station codes "
                                       "(comma-separated) whose station server runs their alarm engine; head office "
                                       "evaluates only their uplink (docs/alarms.md)")
    alarm_partition: str = Field("1/1", description="this `forecourt alarms` process's share of the stations, i/N "
                                 "(the row lock keeps overlapping workers correct)")
    alarm_worker_id: str = Field("1", pattern=r"^[A-Za-z0-9_-]+$",
                                 description="stable id of this alarm worker (its persistent MQTT session)")
    alarm_rules_file: Path | None = Field(None, description="alarm rules YAML loaded at start; unset = "
                                          "config/alarm-rules.yaml")
    alarms_metrics_port: Port = Field(9104, description="/metrics and /healthz of forecourt alarms (--metrics-port)")
    api_host: str = Field("127.0.0.1", description="the control API's listen address (forecourt api --host)")
    api_port: Port = Field(8000, description="the control API's port (forecourt api --port, demo --api-port)")
    metrics_host: str = Field("127.0.0.1", description="listen address of /metrics and /healthz of edge, ingest "
                              "and business (0.0.0.0: every interface, for a remote Prometheus)")
    edge_metrics_port: Port = Field(9101, description="/metrics and /healthz of forecourt edge (--metrics-port)")
    ingest_metrics_port: Port = Field(9102, description="/metrics and /healthz of forecourt ingest (--metrics-port)")
    business_metrics_port: Port = Field(9103, description="/metrics and /healthz of forecourt business "
                                        "(--metrics-port)")
    head_office_url: str | None = Field(None, description="station role: head office's API (online payments go "
                                        "through it); unset = only the tenders that are safe offline")
    head_office_api_key: str | None = Field(None, repr=False, description="station role: this station server's API "
                                            "key at head office (permission payment:online; docs/online-payments.md)")
    ic_reader_address: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$",
                                          description="station role: host:port of the IC card readers' link "
                                          "(docs/protocols/card-reader.md); unset = no IC cards at this station")
    ic_readers: str = Field("pos-1,disp-01/1,disp-01/2", description="station role: the readers on that link in "
                            "address order: a POS's name, or <pump>/<fuelling point> for a card dispenser's")
    ic_issuer_key: str | None = Field(None, pattern=r"^[0-9a-fA-F]{32}$", repr=False,
                                      description="the IC cards' issuer key (32 hex digits; the PSAM's): the "
                                      "station's to unlock grey cards, head office's to authorise loads")
    ic_grey_delay_s: Annotated[int, Field(ge=0, le=86_400)] = Field(
        600, description="seconds after a grey lock before another station may settle it from head office's list")
    jwt_secret: str | None = Field(None, min_length=32, repr=False,
                                   description="signs access tokens; every API process of one installation needs the "
                                   "same (32+ characters); unset = random per process (logins end with it)")
    token_ttl_s: Annotated[int, Field(ge=60, le=86_400)] = Field(900, description="access token lifetime, seconds")
    sms_endpoint: str = Field("https://dysmsapi.aliyuncs.com", description="Aliyun SMS (dysmsapi) endpoint; the "
                              "messaging simulator's URL in the demo and tests (docs/notifications.md)")
    sms_access_key_id: str = Field("", description="Aliyun AccessKey id for SendSms")
    sms_access_key_secret: str = Field("", repr=False, description="Aliyun AccessKey secret for SendSms")
    sms_sign_name: str = Field("加油站", description="the SMS signature (签名) approved by Aliyun")
    sms_template_code: str = Field("SMS_0000001", description="the approved alarm template (${station} ${level} "
                                   "${alarm} ${value})")
    wechat_endpoint: str = Field("https://api.weixin.qq.com", description="WeChat Official Account API endpoint")
    wechat_appid: str = Field("", description="WeChat Official Account appid (template messages)")
    wechat_secret: str = Field("", repr=False, description="WeChat Official Account appsecret")
    wechat_template_id: str = Field("", description="the alarm template message's template_id")
    sms_login_template_code: str = Field("SMS_0000002", description="the approved login-code template of the "
                                         "customer H5 (${code}; docs/h5.md)")
    sms_paid_template_code: str = Field("SMS_0000003", description="the approved template of the members' "
                                        "drive-through payment notice (${station} ${card} ${amount}; docs/h5.md)")
    sms_confirm_template_code: str = Field("SMS_0000004", description="the approved template asking a member to "
                                           "confirm a drive-through order (${station} ${amount} ${code}, the H5's "
                                           "address written in the template before c/${code}; docs/h5.md)")
    sms_dunning_template_code: str = Field("SMS_0000005", description="the approved template of fleet dunning notices "
                                           "(${enterprise} ${statement} ${amount} ${due} ${days}; docs/fleets.md)")
    wechat_member_template_id: str = Field("", description="the members' drive-through notice template_id "
                                           "(empty: the notices go by SMS)")
    h5_url: str = Field("http://127.0.0.1:8000/h5/", description="the customer H5 as members reach it (the link in "
                        "drive-through notices; docs/h5.md)")
    wechat_mini_appid: str = Field("", description="the members' WeChat mini program (小程序) appid: quick "
                                   "registration (docs/members.md); empty = POST /api/v1/members/wechat answers 503")
    wechat_mini_secret: str = Field("", repr=False, description="the mini program's appsecret")
    # read where they are used, at the time (business_services/…): declared here so that they are known, checked
    # at start and listed by `forecourt settings` (tests/unit/forecourt/test_settings_read.py keeps it so)
    bank_url: str | None = Field(None, pattern=r"^https?://", description="head office: the bank's 银企直连 API "
                                 "(docs/fleets.md \"The bank link\"); unset = no bank link")
    bank_client_id: str = Field("", description="head office: our client id at the bank's API")
    bank_secret: str = Field("", repr=False, description="head office: the HMAC key shared with the bank's API")
    bank_account: str = Field("", description="head office: the account whose transfers settle fleet statements")
    refund_approval_above_fen: Annotated[int, Field(ge=0)] = Field(
        REFUND_APPROVAL_ABOVE_FEN, description="refunds above this many fen wait for a manager's approval")
    receipt_printer: str | None = Field(None, description="station: where receipts print, host:port (ESC/POS on "
                                        "port 9100) or a file; unset = printing answers that none is set up")
    drive_through_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        ATTACH_MINUTES, description="station: how long a recognised plate stays attached to its fuelling position")
    drive_through_confirm_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        CONFIRM_MINUTES, description="station: how long a member has to confirm a drive-through payment (每次确认)")
    drive_through_confidence: Annotated[float, Field(ge=0, le=1)] = Field(
        MIN_CONFIDENCE, description="station: a plate read below this confidence attaches no member")
    partner_private_networks: str = Field("", description="CIDRs, comma-separated, of non-public networks "
                                          "partners' webhooks may reach (default none: public addresses only)")
    webhook_secret: str = Field("", repr=False,
                                description="HMAC-SHA256 key of X-Forecourt-Signature on alarm webhooks")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR; DEBUG also shows library frames (OCPP, Modbus)")
    vision_models: Path | None = Field(
        None, description="folder of the vision ONNX models (docs/vision.md); unset = ../shared/models beside the code")
    vision_download: bool = Field(
        False, description="fetch a missing vision model from its source URL (SHA-256 checked) into vision_models")
    vision_embedder: Literal["mobilefacenet", "sface"] = Field(
        "mobilefacenet", description="face embedder: mobilefacenet (development/tests only) or sface (production)")
    vision_sface_sha256: str = Field(
        "", pattern=r"^([0-9a-fA-F]{64})?$", description="the SHA-256 you trust for the SFace model file")
    faces_keep_photos: bool = Field(
        False, description="keep enrolment photos beside the face embeddings (PIPL: off unless required)")
    vision_metrics_port: Port = Field(9105, description="/metrics and /healthz of forecourt vision serve "
                                      "(--metrics-port)")
    vision_snapshot_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="days the vision service keeps the frames plates were read from (data_dir/vision/snapshots)")

    @field_validator("business_partition", "alarm_partition")
    @classmethod
    def _partition(cls, v: str) -> str:
        return str(Partition.parse(v))

    @field_validator("partner_private_networks")
    @classmethod
    def _networks(cls, v: str) -> str:
        try:
            partner_urls.allowed_networks(v)
        except partner_urls.AddressRefused:
            raise ValueError("CIDRs separated by commas, like 10.8.0.0/16,127.0.0.0/8") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("a URL like postgresql://user@host:5432/dbname")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("mqtt://", "mqtts://")):
            raise ValueError("a URL like mqtt://host:1883 or mqtts://host:8883")
        if v is not None:
            BrokerAddress.from_url(v)   # a port like 'abc' or 99999 fails here, at start
        return v

    @field_validator("mqtt_ca_file")
    @classmethod
    def _readable_file(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if not v.is_file():
            raise ValueError("an existing CA file (PEM)")
        try:
            ssl.create_default_context(cafile=str(v))
        except (ssl.SSLError, UnicodeDecodeError):
            raise ValueError("a CA file in PEM format (-----BEGIN CERTIFICATE-----)") from None
        return v


_EXPECTED = {
    "int_parsing": "an integer", "bool_parsing": "true or false", "literal_error": "one of the listed values",
    "greater_than_equal": "a larger number", "less_than_equal": "a smaller number",
    "string_pattern_mismatch": "letters, digits, '.', '_' or '-' only",
}


def _explain(err: dict[str, object]) -> str:
    loc = err.get("loc") or ("?",)
    name = ENV_PREFIX + str(loc[0]).upper()  # type: ignore[index]
    kind = str(err.get("type"))
    if kind == "extra_forbidden":
        return f"{name}: not a setting Forecourt knows (see `forecourt settings`)"
    expected = _EXPECTED.get(kind) or str(err.get("msg", "")).removeprefix("Value error, ")
    ctx = err.get("ctx")
    if isinstance(ctx, dict) and "expected" in ctx:
        expected = f"one of {ctx['expected']}"
    got = err.get("input")
    if isinstance(got, str) and "://" in got:
        got = url_without_password(got)
    return f"{name}: expected {expected}, got {got!r}"


def setting_names() -> list[str]:
    """Every setting's variable name, in the order of the model."""
    return [ENV_PREFIX + name.upper() for name in Settings.model_fields]


def _unknown(name: str, where: str) -> str:
    close = difflib.get_close_matches(name, setting_names(), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "see `forecourt settings`"
    return f"{name}: not a setting Forecourt knows (in {where}); {hint}"


def read_env_file(path: Path) -> dict[str, str]:
    """The ``FORECOURT_*`` lines of an env file; other lines are ignored (the file may serve other programs)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"settings file {path}: cannot read it: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"settings file {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    values = dotenv_values(stream=io.StringIO(text))
    return {k: v or "" for k, v in values.items() if k.startswith(ENV_PREFIX)}


def settings_table() -> str:
    """One line per setting: variable, default, meaning; generated from the model so it cannot drift."""
    lines = []
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else str(field.default).lower() if isinstance(
            field.default, bool) else str(field.default)
        lines.append(f"  {ENV_PREFIX + name.upper():34} {default:11} {field.description or ''}")
    return "\n".join(lines)


def load_settings(env_file: Path | None = None) -> Settings:
    """Read and validate settings; raises ``SettingsError`` naming every wrong variable."""
    if env_file is not None and not env_file.is_file():
        raise SettingsError(f"settings file {env_file} does not exist")
    from_file = read_env_file(env_file) if env_file is not None else {}
    known = set(setting_names())
    unknown = [_unknown(k, "the environment") for k in sorted(os.environ)
               if k.startswith(ENV_PREFIX) and k not in known and not k.startswith(ENV_PREFIX + "TEST_")]
    unknown += [_unknown(k, str(env_file)) for k in sorted(from_file) if k not in known]
    if unknown:
        raise SettingsError("; ".join(unknown))
    # the environment wins: only the file's values the environment does not set are passed in
    values: dict[str, Any] = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in from_file.items()
                              if k not in os.environ}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError("; ".join(_explain(dict(e)) for e in exc.errors())) from exc
