"""Identity claims read from protocol evidence in one event.

Each claim is ``(who, attribute, value, confidence)``; ``who`` is ``"server"`` (the flow's server,
for facts only a server reports: Modbus FC 43 objects, S7 SZL records), ``"src"`` (the sender
describing itself: OPC UA application descriptions) or ``"dst"`` (the receiver: an OPC UA session
activated at the server with an anonymous token).

| source | attributes (identity keys are the protocol's own field names) | confidence |
|---|---|---|
| Modbus FC 43/14 response ``modbus.device_id.*`` | vendor, product_code, revision, vendor_url, product_name, model_name, user_application_name | 0.9 |
| S7 SZL response ``s7comm.identity.*`` | order_number, module_name, module_type_name, serial_number, system_name, plant_id, copyright, firmware_version, hardware_version, protection_level, cpu_mode | 0.95 |
| OPC UA application description (GetEndpoints/CreateSession; client's own in CreateSession request) | application_name, application_uri, product_uri | 0.85 |
| OPC UA certificate subject, where the sensor extracts it | certificate_subject | 0.85 |
| OPC UA endpoints offered | opcua_endpoint_url, opcua_security_mode, opcua_security_policy, opcua_user_token | 0.9 |
| OPC UA ActivateSession request | opcua_session_token (at the server) | 0.7 |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from icssa.events import get

Claim = tuple[str, str, Any, float]
#: the datasets whose events can carry identity (``claims`` is empty for the others)
CLAIM_DATASETS = frozenset({"modbus", "s7comm", "opcua"})

_MODBUS_DEVICE_ID = {
    "vendor_name": "vendor",
    "product_code": "product_code",
    "revision": "revision",
    "vendor_url": "vendor_url",
    "product_name": "product_name",
    "model_name": "model_name",
    "user_application_name": "user_application_name",
}
_S7_IDENTITY = {
    "order_number": "order_number",
    "module_name": "module_name",
    "module_type_name": "module_type_name",
    "serial_number": "serial_number",
    "system_name": "system_name",
    "plant_id": "plant_id",
    "copyright": "copyright",
    "firmware_version": "firmware_version",
    "hardware_version": "hardware_version",
    "protection_level": "protection_level",
    "mode": "cpu_mode",
}
_OPCUA_APP = ("application_name", "application_uri", "product_uri")
_OPCUA_CERT_FIELDS = (
    "certificate_subject",
    "server_certificate_subject",
    "client_certificate_subject",
    "sender_certificate_subject",
)
# services whose application descriptions describe *other* servers (discovery results)
_OPCUA_FOREIGN = frozenset({"find_servers", "find_servers_on_network"})
#: keys of the protocol objects that the claims below read (``identity.x`` as a dotted key too)
_S7_DOTTED = frozenset(f"identity.{field}" for field in _S7_IDENTITY)
_S7_KEYS = _S7_DOTTED | {"identity"}
_OPCUA_FIELDS = (*_OPCUA_APP, *_OPCUA_CERT_FIELDS, "endpoints", "identity_token_type")
_OPCUA_KEYS = frozenset(_OPCUA_FIELDS)
_SECURITY_MODES = {0: "Invalid", 1: "None", 2: "Sign", 3: "SignAndEncrypt"}
_TOKEN_TYPES = {0: "anonymous", 1: "username", 2: "x509", 3: "issued"}


def clean(value: Any) -> Any:
    """Strings stripped of NULs and blanks (None when empty); ints and floats as they are."""
    if isinstance(value, str):  # the usual case, answered first
        text = value.replace("\x00", "").strip()
        return text or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    return None


def security_mode(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return _SECURITY_MODES.get(value, f"unknown_{value}")
    text = clean(value)
    return text if isinstance(text, str) else None


def token_type(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("token_type", value.get("type"))
    if isinstance(value, int) and not isinstance(value, bool):
        return _TOKEN_TYPES.get(value, f"unknown_{value}")
    text = clean(value)
    return text.lower() if isinstance(text, str) else None


def _modbus(event: Mapping[str, Any]) -> list[Claim]:
    out: list[Claim] = []
    for field, attr in _MODBUS_DEVICE_ID.items():
        value = clean(get(event, f"modbus.device_id.{field}"))
        if value is not None:
            out.append(("server", attr, value, 0.9))
    return out


def _s7(event: Mapping[str, Any], plain: bool) -> list[Claim]:
    sub = event.get("s7comm")
    out: list[Claim] = []
    if plain and sub.__class__ is dict and sub.keys().isdisjoint(_S7_DOTTED):
        # s7comm.identity.<field> is s7comm["identity"][field]: read that object once
        ident = sub.get("identity")
        if not isinstance(ident, Mapping):
            return out
        for field, attr in _S7_IDENTITY.items():
            raw = ident.get(field)
            if raw is not None:
                value = clean(raw)
                if value is not None:
                    out.append(("server", attr, value, 0.95))
        return out
    for field, attr in _S7_IDENTITY.items():
        raw = get(event, f"s7comm.identity.{field}")
        if raw is not None:
            value = clean(raw)
            if value is not None:
                out.append(("server", attr, value, 0.95))
    return out


def _endpoint_claims(endpoint: Mapping[str, Any], out: list[Claim]) -> None:
    for attr in _OPCUA_APP:
        value = clean(endpoint.get(attr))
        if value is not None:
            out.append(("src", attr, value, 0.85))
    url = clean(endpoint.get("endpoint_url"))
    if isinstance(url, str):
        out.append(("src", "opcua_endpoint_url", url, 0.9))
    mode = security_mode(endpoint.get("security_mode"))
    if mode is not None:
        out.append(("src", "opcua_security_mode", mode, 0.9))
    policy = clean(endpoint.get("security_policy"))
    if isinstance(policy, str):
        out.append(("src", "opcua_security_policy", policy, 0.9))
    tokens = endpoint.get("user_token_types")
    if isinstance(tokens, list | tuple):
        for tok in tokens:
            name = token_type(tok)
            if name is not None:
                out.append(("src", "opcua_user_token", name, 0.9))


def _opcua(event: Mapping[str, Any], action: str, is_response: bool, plain: bool) -> list[Claim]:
    out: list[Claim] = []
    if action in _OPCUA_FOREIGN:
        return out
    sub = event.get("opcua")
    fields: Mapping[str, Any]
    if plain and sub.__class__ is dict:
        fields = sub  # opcua.<field> is sub[field]: no field name has a dot
    else:
        fields = {field: get(event, f"opcua.{field}") for field in _OPCUA_FIELDS}
    for attr in _OPCUA_APP:
        value = fields.get(attr)
        if value is not None:
            value = clean(value)
            if value is not None:
                out.append(("src", attr, value, 0.85))
    for field in _OPCUA_CERT_FIELDS:
        value = fields.get(field)
        if value is not None:
            value = clean(value)
            if value is not None:
                out.append(("src", "certificate_subject", value, 0.85))
    if is_response:
        endpoints = fields.get("endpoints")
        if isinstance(endpoints, list):
            for endpoint in endpoints[:64]:
                if isinstance(endpoint, Mapping):
                    _endpoint_claims(endpoint, out)
    elif action == "activate_session":
        name = token_type(fields.get("identity_token_type"))
        if name is not None:
            out.append(("dst", "opcua_session_token", name, 0.7))
    return out


def _lacks(event: Mapping[str, Any], dataset: str, keys: frozenset[str]) -> bool:
    """True when `event` (without dotted top-level keys) has none of `keys` in its `dataset`
    object: then every claim field reads as None and there is nothing to claim."""
    sub = event.get(dataset)
    if sub.__class__ is dict:
        return sub.keys().isdisjoint(keys)
    return not isinstance(sub, Mapping)


def claim_keys(dataset: str, action: str, is_response: bool) -> frozenset[str] | bool | None:
    """Which events of this kind can carry claims, for events without dotted top-level keys:
    None, never (``claims`` is empty); True, any; a set of keys, those whose `dataset` object is
    not a dict or has one of the keys (``claims`` is empty for the others)."""
    if dataset == "modbus":
        return True if action == "read_device_identification" and is_response else None
    if dataset == "s7comm":
        return _S7_KEYS if is_response else None
    if dataset == "opcua":
        return None if action in _OPCUA_FOREIGN else _OPCUA_KEYS
    return None


def claims(
    event: Mapping[str, Any], dataset: str, action: str, is_response: bool, *, plain: bool = False
) -> list[Claim]:
    """Identity claims in `event` (empty for events that carry none). ``plain`` says the event
    has no dotted top-level keys, which lets events without identity fields leave early."""
    if dataset == "modbus":
        if action == "read_device_identification" and is_response:
            return _modbus(event)
        return []
    if dataset == "s7comm":
        if not is_response or (plain and _lacks(event, "s7comm", _S7_KEYS)):
            return []
        return _s7(event, plain)
    if dataset == "opcua":
        if plain and _lacks(event, "opcua", _OPCUA_KEYS):
            return []
        return _opcua(event, action, is_response, plain)
    return []
