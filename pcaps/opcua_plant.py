"""The OPC UA side of the plant: an asyncua server with a small address space, clients
bound to their role's address, and self-signed certificates made offline."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua, uamethod
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from binding import bind_asyncua_client
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from plant import OPCUA_SERVER

PORT = 4840
ALT_PORT = 48400
PATH = "/icssa/wtp"
NAMESPACE = "urn:icssa:wtp:filter-line-1"

APPLICATION_NAME = "ICSSA WTP OPC UA Server"
APPLICATION_URI = "urn:icssa:wtp:opcua-server"
PRODUCT_URI = "urn:icssa:wtp:opcua-gateway"
MANUFACTURER = "ICSSA Test Plant"
PRODUCT_NAME = "WTP OPC UA Gateway"
SOFTWARE_VERSION = "2.1.0"
BUILD_NUMBER = "7"
BUILD_DATE = dt.datetime(2025, 1, 15, 8, 0, 0, tzinfo=dt.UTC)

CLIENT_NAME = "ICSSA Plant Client"
CLIENT_URI = "urn:icssa:wtp:client"
CLIENT_PRODUCT_URI = "urn:icssa:wtp:client-product"

USERNAME = "operator"
PASSWORD = "Op3rator!2025"
WRONG_PASSWORD = "guess-123456"

for _name in ("asyncua", "asyncua.server", "asyncua.client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# Address space: (browse name, initial value, variant type, writable) under FilterLine1.
VARIABLES = [
    ("InletFlow", 12.5, ua.VariantType.Double, False),
    ("OutletPressure", 3.2, ua.VariantType.Double, False),
    ("PumpRunning", True, ua.VariantType.Boolean, False),
    ("BatchCount", 42, ua.VariantType.Int32, False),
    ("Setpoint", 50.0, ua.VariantType.Double, True),
    ("Mode", "AUTO", ua.VariantType.String, True),
]
VALVE_VARIABLES = [("Position", 35.0, ua.VariantType.Float, True)]


def node_id(*path: str) -> str:
    return f"ns=2;s={'.'.join(path)}"


def identity() -> dict[str, Any]:
    return {
        "source": "server configuration (asyncua Server)",
        "application_name": APPLICATION_NAME,
        "application_uri": APPLICATION_URI,
        "product_uri": PRODUCT_URI,
        "manufacturer_name": MANUFACTURER,
        "product_name": PRODUCT_NAME,
        "software_version": SOFTWARE_VERSION,
        "build_number": BUILD_NUMBER,
        "namespace": NAMESPACE,
        "client": {"application_name": CLIENT_NAME, "application_uri": CLIENT_URI, "product_uri": CLIENT_PRODUCT_URI},
    }


def address_space() -> dict[str, Any]:
    return {
        "nodes": {node_id("FilterLine1", name): value for name, value, *_ in VARIABLES}
        | {node_id("FilterLine1", "Valve01", name): value for name, value, *_ in VALVE_VARIABLES},
        "methods": [node_id("FilterLine1", "ResetCounter")],
        "writable": [node_id("FilterLine1", name) for name, _, _, writable in VARIABLES if writable]
        + [node_id("FilterLine1", "Valve01", name) for name, _, _, writable in VALVE_VARIABLES if writable],
    }


class FixedUserManager(UserManager):
    """Anonymous sessions are users; a user name session needs the one test account."""

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None) -> User | None:
        if username is None:
            return User(role=UserRole.User)
        if username == USERNAME and password == PASSWORD:
            return User(role=UserRole.User, name=USERNAME)
        return None


@dataclass(frozen=True)
class Pki:
    """Self-signed server and client certificates (DER) and keys (PEM) in a temp dir."""

    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(folder: Path) -> Pki:
    paths = {}
    for role, name, uri, usage in (
        ("server", APPLICATION_NAME, APPLICATION_URI, ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", CLIENT_NAME, CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = generate_private_key()
        cert = generate_self_signed_app_certificate(
            key,
            name,
            {"organizationName": MANUFACTURER, "countryName": "CN"},
            [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost")],
            extended=[usage],
            days=3650,
        )
        paths[f"{role}_cert"] = folder / f"{role}.der"
        paths[f"{role}_key"] = folder / f"{role}.pem"
        paths[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.DER))
        paths[f"{role}_key"].write_bytes(dump_private_key_as_pem(key))
    return Pki(**paths)


@uamethod
def _reset_counter(_parent: ua.NodeId, start: int) -> int:
    return int(start)


@asynccontextmanager
async def server(
    port: int = PORT, policies: list[ua.SecurityPolicyType] | None = None, pki: Pki | None = None
) -> AsyncIterator[Server]:
    srv = Server(user_manager=FixedUserManager())
    await srv.init()
    srv.set_endpoint(f"opc.tcp://{OPCUA_SERVER}:{port}{PATH}")
    srv.set_server_name(APPLICATION_NAME)
    await srv.set_application_uri(APPLICATION_URI)
    srv.product_uri = PRODUCT_URI
    await srv.set_build_info(PRODUCT_URI, MANUFACTURER, PRODUCT_NAME, SOFTWARE_VERSION, BUILD_NUMBER, BUILD_DATE)
    srv.set_security_policy(policies or [ua.SecurityPolicyType.NoSecurity])
    srv.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
    if pki is not None:
        await srv.load_certificate(str(pki.server_cert))
        await srv.load_private_key(str(pki.server_key))
    idx = await srv.register_namespace(NAMESPACE)
    line = await srv.nodes.objects.add_object(node_id("FilterLine1"), f"{idx}:FilterLine1")
    for name, value, vtype, writable in VARIABLES:
        var = await line.add_variable(node_id("FilterLine1", name), f"{idx}:{name}", ua.Variant(value, vtype))
        if writable:
            await var.set_writable()
    valve = await line.add_object(node_id("FilterLine1", "Valve01"), f"{idx}:Valve01")
    for name, value, vtype, writable in VALVE_VARIABLES:
        var = await valve.add_variable(node_id("FilterLine1", "Valve01", name), f"{idx}:{name}", ua.Variant(value, vtype))
        if writable:
            await var.set_writable()
    await line.add_method(
        node_id("FilterLine1", "ResetCounter"), f"{idx}:ResetCounter", _reset_counter, [ua.VariantType.Int32], [ua.VariantType.Int32]
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def endpoint_url(port: int = PORT) -> str:
    return f"opc.tcp://{OPCUA_SERVER}:{port}{PATH}"


def new_client(source_ip: str, port: int = PORT) -> Client:
    conn = Client(endpoint_url(port), timeout=5)
    conn.name = CLIENT_NAME
    conn.description = CLIENT_NAME
    conn.application_uri = CLIENT_URI
    conn.product_uri = CLIENT_PRODUCT_URI
    return bind_asyncua_client(conn, source_ip)


@asynccontextmanager
async def session(source_ip: str, port: int = PORT, user: tuple[str, str] | None = None) -> AsyncIterator[Client]:
    conn = new_client(source_ip, port)
    if user is not None:
        conn.set_user(user[0])
        conn.set_password(user[1])
    await conn.connect()
    try:
        yield conn
    finally:
        await conn.disconnect()


def temp_pki() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="icssa-opcua-pki-")
