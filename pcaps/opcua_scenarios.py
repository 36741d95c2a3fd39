"""OPC UA binary captures: an asyncua server on 127.0.10.3 (port 4840, or 48400) and
asyncua clients bound to their role's address."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import opcua_plant as op
from asyncua import Client, Node, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from plant import ATTACKER, ENGINEERING_WS, HMI, OPCUA_SERVER, SCADA, Outcome, Scenario, hosts

NOTIFY_TIMEOUT_S = 10.0
BROWSE_LIMIT = 400


async def _do(out: Outcome, what: str, call: Awaitable[Any], show: Callable[[Any], str] = repr) -> Any:
    try:
        result = await call
    except Exception as exc:  # a refusal (library or server) is recorded, not fatal
        out.failed(what, f"{type(exc).__name__}: {exc}")
        out.step(f"{what} -> {type(exc).__name__}: {exc}")
        return None
    out.worked(what.split("(")[0])
    out.step(f"{what} -> {show(result)}")
    return result


async def _connect(c: Client) -> bool:
    await c.connect()
    return True


def _runner(body: Callable[[Outcome], Coroutine[Any, Any, None]]) -> Callable[[Outcome], None]:
    def run(out: Outcome) -> None:
        out.identity.update(op.identity())
        out.server_data["address_space"] = op.address_space()
        asyncio.run(body(out))

    return run


async def _get_endpoints(out: Outcome, who: str, source_ip: str, port: int = op.PORT) -> None:
    probe = op.new_client(source_ip, port)
    endpoints = await _do(out, f"{who} get_endpoints (own secure channel)", probe.connect_and_get_server_endpoints(), lambda r: f"{len(r)} endpoints")
    if endpoints:
        out.identity["endpoints_read_back"] = [
            {
                "endpoint_url": e.EndpointUrl,
                "security_policy": e.SecurityPolicyUri,
                "security_mode": e.SecurityMode.name.rstrip("_"),
                "application_name": e.Server.ApplicationName.Text,
                "application_uri": e.Server.ApplicationUri,
                "product_uri": e.Server.ProductUri,
                "user_token_types": [t.TokenType.name for t in e.UserIdentityTokens],
            }
            for e in endpoints
        ]


async def _browse_read(out: Outcome, who: str, c: Client) -> None:
    line = c.get_node(op.node_id("FilterLine1"))
    await _do(out, f"{who} browse(Objects)", c.nodes.objects.get_children(), lambda r: f"{len(r)} children")
    children = await _do(out, f"{who} browse(FilterLine1)", line.get_children(), lambda r: f"{len(r)} children")
    for child in children or []:
        await _do(out, f"{who} read({child.nodeid.to_string()} BrowseName)", child.read_browse_name(), lambda r: r.Name)
    for name, *_ in op.VARIABLES:
        node = c.get_node(op.node_id("FilterLine1", name))
        await _do(out, f"{who} read({op.node_id('FilterLine1', name)})", node.read_value())


async def _none_anonymous(out: Outcome, port: int = op.PORT) -> None:
    async with op.server(port):
        await _get_endpoints(out, "hmi", HMI, port)
        async with op.session(HMI, port) as c:
            out.step("hmi hello, open secure channel (None), create session, activate session (anonymous)")
            await _browse_read(out, "hmi", c)
        out.step("hmi close session, close secure channel")


async def _nonstandard_port(out: Outcome) -> None:
    await _none_anonymous(out, op.ALT_PORT)


async def _username(out: Outcome) -> None:
    out.secrets.update(opcua_password=op.PASSWORD, opcua_wrong_password=op.WRONG_PASSWORD)
    out.identity["user_name"] = op.USERNAME
    out.identity["password_on_wire"] = "plaintext in ActivateSession (security policy None, server has no certificate)"
    async with op.server():
        bad = op.new_client(ENGINEERING_WS)
        bad.set_user(op.USERNAME)
        bad.set_password(op.WRONG_PASSWORD)
        await _do(out, f"ews connect as {op.USERNAME} with a wrong password", bad.connect())
        await _do(out, "ews close the refused connection", bad.disconnect())
        async with op.session(ENGINEERING_WS, user=(op.USERNAME, op.PASSWORD)) as c:
            out.step(f"ews activate session as {op.USERNAME} (UserNameIdentityToken)")
            await _do(out, "ews read(Setpoint)", c.get_node(op.node_id("FilterLine1", "Setpoint")).read_value())
            await _do(out, "ews read(Mode)", c.get_node(op.node_id("FilterLine1", "Mode")).read_value())


async def _read_write_call(out: Outcome) -> None:
    async with op.server(), op.session(SCADA) as c:
        setpoint = c.get_node(op.node_id("FilterLine1", "Setpoint"))
        mode = c.get_node(op.node_id("FilterLine1", "Mode"))
        valve = c.get_node(op.node_id("FilterLine1", "Valve01", "Position"))
        values = [c.get_node(op.node_id("FilterLine1", n)) for n, *_ in op.VARIABLES]
        await _do(out, "scada read 6 values in one ReadRequest", c.read_values(values))
        await _do(out, "scada write(Setpoint = 55.5)", setpoint.write_value(ua.Variant(55.5, ua.VariantType.Double)))
        await _do(out, "scada write(Mode = 'MANUAL')", mode.write_value(ua.Variant("MANUAL", ua.VariantType.String)))
        await _do(out, "scada write(Valve01.Position = 60.0)", valve.write_value(ua.Variant(60.0, ua.VariantType.Float)))
        line = c.get_node(op.node_id("FilterLine1"))
        await _do(out, "scada call(ResetCounter, 7)", line.call_method(ua.NodeId.from_string(op.node_id("FilterLine1", "ResetCounter")), ua.Variant(7, ua.VariantType.Int32)))
        await _do(out, "scada read(Setpoint)", setpoint.read_value())
        await _do(out, "scada read(Mode)", mode.read_value())


class _Changes:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=100)

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.queue.put_nowait((node.nodeid.to_string(), val))


async def _wait_value(changes: _Changes, node: str, value: Any) -> None:
    while True:
        got = await asyncio.wait_for(changes.queue.get(), NOTIFY_TIMEOUT_S)
        if got == (node, value):
            return


async def _subscription(out: Outcome) -> None:
    flow_id = op.node_id("FilterLine1", "InletFlow")
    async with op.server() as srv, op.session(HMI) as c:
        changes = _Changes()
        sub = await _do(out, "hmi create_subscription(100 ms)", c.create_subscription(100, changes), lambda r: "ok")
        nodes = [c.get_node(op.node_id("FilterLine1", n)) for n in ("InletFlow", "OutletPressure", "PumpRunning")]
        await _do(out, "hmi create_monitored_items(InletFlow, OutletPressure, PumpRunning)", sub.subscribe_data_change(nodes), lambda r: f"{len(r)} handles")
        await _wait_value(changes, flow_id, 12.5)
        server_flow = srv.get_node(flow_id)
        for value in (12.75, 13.0, 13.25, 12.9):
            await server_flow.write_value(ua.Variant(value, ua.VariantType.Double))
            await _wait_value(changes, flow_id, value)
            out.step(f"server sets InletFlow = {value}; hmi receives it in a PublishResponse")
        await _do(out, "hmi delete_subscription", sub.delete(), lambda r: "ok")


async def _basic256sha256(out: Outcome) -> None:
    with op.temp_pki() as folder:
        pki = op.make_pki(Path(folder))
        policies = [ua.SecurityPolicyType.NoSecurity, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        async with op.server(policies=policies, pki=pki):
            await _get_endpoints(out, "ews", ENGINEERING_WS)
            c = op.new_client(ENGINEERING_WS)
            await c.set_security(
                SecurityPolicyBasic256Sha256,
                str(pki.client_cert),
                str(pki.client_key),
                server_certificate=str(pki.server_cert),
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
            connected = await _do(out, "ews connect (Basic256Sha256, SignAndEncrypt, anonymous)", _connect(c), lambda r: "ok")
            if connected:
                try:
                    await _browse_read(out, "ews", c)
                finally:
                    await c.disconnect()
    out.server_data["certificates"] = "self-signed RSA 2048 (asyncua.crypto.cert_gen), made in a temp dir per run and deleted"


async def _browse_tree(out: Outcome, node: Node, depth: int, seen: set[str]) -> None:
    if depth < 0 or len(seen) >= BROWSE_LIMIT:
        return
    children = await node.get_children()
    for child in children:
        key = child.nodeid.to_string()
        if key in seen or len(seen) >= BROWSE_LIMIT:
            continue
        seen.add(key)
        await _browse_tree(out, child, depth - 1, seen)


async def _anonymous_browse_write(out: Outcome) -> None:
    async with op.server(), op.session(ATTACKER) as c:
        out.step("attacker anonymous session on security policy None")
        seen: set[str] = set()
        await _do(out, "attacker recursive browse from Objects (depth 3, <= 400 nodes)", _browse_tree(out, c.nodes.objects, 3, seen), lambda r: f"{len(seen)} nodes")
        line_vars = [c.get_node(op.node_id("FilterLine1", n)) for n, *_ in op.VARIABLES]
        await _do(out, "attacker read all FilterLine1 values", c.read_values(line_vars))
        await _do(out, "attacker write(Setpoint = 999.0)", c.get_node(op.node_id("FilterLine1", "Setpoint")).write_value(ua.Variant(999.0, ua.VariantType.Double)))
        await _do(out, "attacker write(Mode = 'MAINT')", c.get_node(op.node_id("FilterLine1", "Mode")).write_value(ua.Variant("MAINT", ua.VariantType.String)))
        await _do(out, "attacker write(Valve01.Position = 0.0)", c.get_node(op.node_id("FilterLine1", "Valve01", "Position")).write_value(ua.Variant(0.0, ua.VariantType.Float)))
        await _do(out, "attacker write(PumpRunning = False) read-only", c.get_node(op.node_id("FilterLine1", "PumpRunning")).write_value(ua.Variant(False, ua.VariantType.Boolean)))


SCENARIOS = [
    Scenario("opcua_none_anonymous", "opcua", "An HMI gets endpoints on its own secure channel, then opens a None secure channel, creates and activates an anonymous session, browses, reads, closes the session and the channel.", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, HMI), [], _runner(_none_anonymous)),
    Scenario("opcua_username", "opcua", "An engineering workstation tries a user-name login with a wrong password (ActivateSession fails), then logs in as the test user on a None channel and reads two values.", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, ENGINEERING_WS), [], _runner(_username), ["The password travels in plaintext (no server certificate, policy None): the events must not carry it; the manifest's secrets list it for that check."]),
    Scenario("opcua_read_write_call", "opcua", "A SCADA server reads six values in one request, writes Setpoint, Mode and Valve01.Position, calls the ResetCounter method and reads back.", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, SCADA), [], _runner(_read_write_call)),
    Scenario("opcua_subscription", "opcua", "An HMI creates a 100 ms subscription with three monitored items; the server changes InletFlow four times and each change arrives in a PublishResponse; the HMI deletes the subscription.", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, HMI), [], _runner(_subscription), ["The number of Publish request/response pairs depends on timing; the four InletFlow values are fixed."]),
    Scenario("opcua_nonstandard_port", "opcua", "The opcua_none_anonymous exchange against a server listening on port 48400.", OPCUA_SERVER, op.ALT_PORT, hosts(OPCUA_SERVER, HMI), [], _runner(_nonstandard_port)),
    Scenario("opcua_basic256sha256", "opcua", "An engineering workstation gets endpoints (None channel), then opens a Basic256Sha256 SignAndEncrypt secure channel with self-signed certificates, activates an anonymous session, browses and reads (all encrypted), and closes.", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, ENGINEERING_WS), [], _runner(_basic256sha256), ["Certificates and keys are generated offline on each run, so the encrypted bytes differ between runs."]),
    Scenario("opcua_anonymous_browse_write", "opcua", "A new host opens an anonymous session on a None channel, browses the address space recursively from Objects, reads the process values and writes Setpoint, Mode and Valve01.Position (and tries the read-only PumpRunning).", OPCUA_SERVER, op.PORT, hosts(OPCUA_SERVER, ATTACKER), ["T0861", "T0888", "T0855", "T0836"], _runner(_anonymous_browse_write)),
]
