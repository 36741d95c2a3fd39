"""Our OPC UA events against the Zeek ICSNPP opcua-binary baselines (btest logs without headers;
the column of each value is named where it is read). The events come from the whole pipeline
(``icssa.pipeline.replay_events``), the same path as ``icssa replay``.

Zeek prints a Guid as its wire bytes in order; OPC 10000-6 5.2.2.7 (and tshark) read Data1..Data3
little-endian, which is what we report: the tests convert. Zeek logs the user's password; we must not.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from icssa.events import get
from icssa.pipeline import replay_events

ROOT = Path(__file__).resolve().parents[2] / "shared" / "pcaps" / "icsnpp-opcua"
BASELINES = {
    "basic": "open62541_client-server_mainloop.pcap",
    "no-handshake": "open62541_client-server_mainloop-no-handshake.pcap",
    "data-gap_with-handshake": "opcua_with-gap_with-handshake.pcap",
}
SERVER_PORT = 4840
MODES = {"1": "None", "2": "Sign", "3": "SignAndEncrypt"}  # MessageSecurityMode (OPC 10000-4 7.20)
TOKEN_TYPES = {"0": "anonymous", "1": "username", "2": "x509", "3": "issued"}  # UserTokenType
APP_TYPES = {"0": "Server", "1": "Client", "2": "ClientAndServer", "3": "DiscoveryServer"}
DIRECTIONS = {"FWD": "Forward", "INV": "Inverse", "BOTH": "Both"}

pytestmark = pytest.mark.skipif(not ROOT.is_dir(), reason="reference captures not present")


#: the connection of the gap capture where Zeek stops (compared in the message test and with tshark)
ZEEK_STOPS = 60952


def rows(folder: str, log: str) -> list[list[str]]:
    """Rows of a baseline log (a log Zeek did not write, e.g. no OPN mid-stream, has none), without
    the connection where Zeek stopped parsing."""
    path = ROOT / "baseline" / folder / log
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    out = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return [r for r in out if log == "opcua_binary.log" or int(r[3]) != ZEEK_STOPS]


@cache
def all_events(folder: str) -> tuple[dict[str, Any], ...]:
    evs = replay_events([ROOT / BASELINES[folder]])
    return tuple(e for e in evs if get(e, "event.dataset") == "opcua")


def events(folder: str) -> tuple[dict[str, Any], ...]:
    return tuple(e for e in all_events(folder) if client_port(e) != ZEEK_STOPS)


def strings(value: Any) -> Any:
    """Every string value (not key) inside an event."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def client_port(e: dict[str, Any]) -> int:
    return get(e, "source.port") if get(e, "destination.port") == SERVER_PORT else get(e, "destination.port")


def by_request(folder: str) -> dict[tuple[int, int], dict[str, dict[str, Any]]]:
    """(client port, request id) -> {"request": opcua fields, "response": opcua fields}."""
    out: dict[tuple[int, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for e in all_events(folder):
        f = e["opcua"]
        if "request_id" in f and "is_response" in f:
            out[(client_port(e), f["request_id"])]["response" if f["is_response"] else "request"] = f
    return out


def dash(value: str) -> str | None:
    return None if value == "-" else value


def node(ns: str, numeric: str, string: str = "-") -> str:
    """Standard NodeId text from Zeek's namespace / numeric / string columns."""
    ident = f"i={numeric}" if numeric != "-" else f"s={string}"
    return ident if ns in ("-", "0") else f"ns={ns};{ident}"


def message_rows(folder: str) -> Counter[tuple[Any, ...]]:
    """opcua_binary.log: 3 orig_p, 6 msg_type, 24 request id, 29/30 request service id/name,
    48/49 response service id/name ('-' where Zeek saw no request or no response)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for r in rows(folder, "opcua_binary.log"):
        rid = None if r[24] == "-" else int(r[24])
        out[(int(r[3]), r[6], rid, dash(r[29]), dash(r[30]), dash(r[48]), dash(r[49]))] += 1
    return out


def our_message_rows(folder: str) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for e in all_events(folder):
        f = e["opcua"]
        if f["message_type"] in ("HEL", "ACK"):
            out[(client_port(e), f["message_type"], None, None, None, None, None)] += 1
    for (port, rid), pair in by_request(folder).items():
        req, resp = pair.get("request"), pair.get("response")
        mtype = (req or resp)["message_type"]  # type: ignore[index]
        out[(port, mtype, rid,
             str(req["service_id"]) if req else None, req["service"] if req else None,
             str(resp["service_id"]) if resp else None, resp["service"] if resp else None)] += 1
    return out


@pytest.mark.parametrize("folder", ["basic", "no-handshake"])
def test_service_name_and_id_per_message_equal_zeek(folder: str) -> None:
    assert our_message_rows(folder) == message_rows(folder)


def test_gap_capture_decoded_beyond_where_zeek_stops() -> None:
    ours = our_message_rows("data-gap_with-handshake")
    zeek = message_rows("data-gap_with-handshake")
    complete = Counter({k: v for k, v in zeek.items() if k[5] is not None or k[1] in ("HEL", "ACK", "CLO")})
    assert complete - ours == Counter()  # every pair Zeek completed, we have
    for port, mtype, rid, req_id, req_name, _, _ in zeek - complete:  # Zeek lost the response ...
        assert (port, mtype, rid, req_id, req_name, "464", "CreateSessionResponse") in ours  # ... we did not
    # Zeek stops the first connection after its CreateSessionRequest; we decode it to the end
    first = Counter(k[3:6:2] for k in ours.elements() if k[0] == ZEEK_STOPS)
    assert sum(v for k, v in zeek.items() if k[0] == ZEEK_STOPS) == 4  # HEL, ACK, OPN, CreateSession
    assert first[("631", "634")] == 31  # ReadRequest/ReadResponse pairs after it
    assert first[("826", "829")] >= 40  # answered PublishRequests
    assert first[("467", "470")] == first[("787", "790")] == first[("751", "754")] == 1


@pytest.mark.parametrize("folder", list(BASELINES))
def test_open_secure_channel_policy_mode_and_token(folder: str) -> None:
    policies = Counter((int(r[3]), r[19]) for r in rows(folder, "opcua_binary.log") if r[6] == "OPN")
    ours = Counter((client_port(e), get(e, "opcua.security_policy")) for e in all_events(folder)
                   if get(e, "opcua.message_type") == "OPN" and not get(e, "opcua.is_response"))
    assert ours == policies
    # opensecure_channel.log: 6 is_orig; request 13 mode, 15 lifetime; response 17 channel, 18 token, 20 lifetime
    for r in rows(folder, "opcua_binary_opensecure_channel.log"):
        pair = by_request(folder)[(int(r[3]), 1)]
        if r[6] == "T":
            assert pair["request"]["security_mode"] == MODES[r[13]]
            assert pair["request"]["requested_lifetime"] == int(r[15])
        else:
            resp = pair["response"]
            assert (resp["token_channel_id"], resp["token_id"], resp["revised_lifetime"]) == (
                int(r[17]), int(r[18]), int(r[20]))
            assert resp["secure_channel_id"] == int(r[17])


def endpoint_rows(folder: str, log: str) -> list[tuple[Any, ...]]:
    """*_endpoints/description logs: 11 endpoint url, 12 application uri, 13 product uri, 16 name,
    17 application type, 23 mode, 24 policy, 25 transport profile, 26 security level."""
    return [(int(r[3]), r[11], r[12], r[13], r[16], APP_TYPES[r[17]], MODES[r[23]], r[24], r[25], int(r[26]))
            for r in rows(folder, log)]


def our_endpoints(folder: str, service_id: int) -> list[tuple[Any, ...]]:
    out = []
    for e in events(folder):
        if get(e, "opcua.service_id") == service_id:
            for d in get(e, "opcua.endpoints"):
                out.append((client_port(e), d["endpoint_url"], d["application_uri"], d["product_uri"],
                            d["application_name"], d["application_type"], d["security_mode"],
                            d["security_policy"], d["transport_profile_uri"], d["security_level"]))
    return out


def our_user_tokens(folder: str, service_id: int) -> list[tuple[Any, ...]]:
    return [(client_port(e), p["policy_id"], p["token_type"], p.get("security_policy"))
            for e in events(folder) if get(e, "opcua.service_id") == service_id
            for d in get(e, "opcua.endpoints") for p in d["user_token_policies"]]


def token_rows(folder: str, log: str) -> list[tuple[Any, ...]]:
    """*_user_token logs: 11 policy id, 12 token type, 15 security policy uri."""
    return [(int(r[3]), r[11], TOKEN_TYPES[r[12]], dash(r[15])) for r in rows(folder, log)]


@pytest.mark.parametrize("folder", list(BASELINES))
def test_get_endpoints(folder: str) -> None:
    requested = [(int(r[3]), r[11]) for r in rows(folder, "opcua_binary_get_endpoints.log") if r[6] == "T"]
    ours = [(client_port(e), get(e, "opcua.endpoint_url")) for e in events(folder)
            if get(e, "opcua.service_id") == 428]
    assert ours == requested
    assert our_endpoints(folder, 431) == endpoint_rows(folder, "opcua_binary_get_endpoints_description.log")
    assert our_user_tokens(folder, 431) == token_rows(folder, "opcua_binary_get_endpoints_user_token.log")


@pytest.mark.parametrize("folder", list(BASELINES))
def test_create_session(folder: str) -> None:
    for r in rows(folder, "opcua_binary_create_session.log"):
        pairs = [p for (port, _), p in by_request(folder).items()
                 if port == int(r[3]) and p.get("request", p.get("response"))["service_id"] in (461, 464)]
        assert pairs
        if r[6] == "T":  # 11 application uri, 16 type, 20 endpoint url, 25 timeout, 26 max response size
            req = next(p["request"] for p in pairs if "request" in p)
            assert (req["application_uri"], req["application_type"], req["endpoint_url"]) == (
                r[11], APP_TYPES[r[16]], r[20])
            assert (req["requested_session_timeout"], req["max_response_message_size"]) == (int(r[25]), int(r[26]))
        else:  # 27 session id mask, 28 namespace, 31 Guid (wire order), 39 revised timeout, last max request
            resp = next(p["response"] for p in pairs if "response" in p)
            assert r[27] == "0x04"
            guid = uuid.UUID(bytes_le=bytes.fromhex(r[31].replace("-", "")))
            assert resp["session_id"] == f"ns={r[28]};g={guid}"
            assert resp["revised_session_timeout"] == int(r[39])
            assert resp["max_request_message_size"] == int(r[-1])
            assert resp["server_certificate_present"] is False
    assert our_endpoints(folder, 464) == endpoint_rows(folder, "opcua_binary_create_session_endpoints.log")
    assert our_user_tokens(folder, 464) == token_rows(folder, "opcua_binary_create_session_user_token.log")


@pytest.mark.parametrize("folder", list(BASELINES))
def test_activate_session_user_name_never_password(folder: str) -> None:
    # 19 token type name, 21 policy id, 22 user name, 23 password (Zeek logs it)
    token_names = {"AnonymousIdentityToken": "anonymous", "UserNameIdentityToken": "username",
                   "X509IdentityToken": "x509", "IssuedIdentityToken": "issued"}
    expected = [(int(r[3]), token_names[r[19]], r[21], dash(r[22]))
                for r in rows(folder, "opcua_binary_activate_session.log") if r[6] == "T"]
    requests = [e for e in events(folder) if get(e, "opcua.service_id") == 467]
    ours = [(client_port(e), get(e, "opcua.identity_token_type"), get(e, "opcua.identity_policy_id"),
             get(e, "opcua.user_name")) for e in requests]
    assert ours == expected
    passwords = {r[23] for r in rows(folder, "opcua_binary_activate_session.log") if r[6] == "T"} - {"-"}
    assert passwords
    values = list(strings(list(all_events(folder))))
    for password in passwords:
        assert not any(password in v or password.encode().hex() in v for v in values)
    assert all(get(e, "opcua.password_encrypted") is False for e in requests)


@pytest.mark.parametrize("folder", list(BASELINES))
def test_browse_descriptions_and_references(folder: str) -> None:
    # browse_description.log: 12 namespace, 13 numeric, 17 direction
    expected = [(int(r[3]), node(r[12], r[13]), DIRECTIONS[r[17]])
                for r in rows(folder, "opcua_binary_browse_description.log")]
    ours = [(client_port(e), n, d) for e in events(folder) if get(e, "opcua.service_id") == 527
            for n, d in zip(get(e, "opcua.nodes"), get(e, "opcua.browse_directions"), strict=True)]
    assert ours == expected
    # browse_response_references.log: 19/20 target node, 26/27 browse name, 30 display name,
    # 31 node class, 33/34 type definition
    refs = [(int(r[3]), node(r[19], r[20]), (r[27] if r[26] in ("-", "0") else f"{r[26]}:{r[27]}"), r[30],
             r[31].removesuffix("NodeClass"), node(r[33], r[34]))
            for r in rows(folder, "opcua_binary_browse_response_references.log")]
    ours_refs = [(client_port(e), x["node"], x["browse_name"], x["display_name"], x["node_class"],
                  x["type_definition"])
                 for e in events(folder) if get(e, "opcua.service_id") == 530 for x in get(e, "opcua.references")]
    assert ours_refs == refs


@pytest.mark.parametrize("folder", list(BASELINES))
def test_read_write_nodes_and_attributes(folder: str) -> None:
    # read_nodes_to_read.log and write.log: 12 namespace, 13 numeric, 14 string, 17 attribute id
    for log, service in (("opcua_binary_read_nodes_to_read.log", 631), ("opcua_binary_write.log", 673)):
        expected = [(int(r[3]), node(r[12], r[13], r[14]), int(r[17])) for r in rows(folder, log) if r[6] == "T"]
        ours = [(client_port(e), n, a) for e in events(folder) if get(e, "opcua.service_id") == service
                for n, a in zip(get(e, "opcua.nodes"), get(e, "opcua.attribute_ids"), strict=True)]
        assert ours == expected


@pytest.mark.parametrize("folder", list(BASELINES))
def test_response_status_codes(folder: str) -> None:
    # status_code_detail.log: 12 source ("ResponseHeader" or the service of a per-operation result),
    # 14 status code, 18 name
    detail = rows(folder, "opcua_binary_status_code_detail.log")
    headers = Counter((int(r[3]), int(r[14], 16), r[18]) for r in detail if r[12] == "ResponseHeader")
    ours = Counter((client_port(e), get(e, "opcua.status_code"), get(e, "opcua.status")) for e in events(folder)
                   if get(e, "opcua.is_response") and get(e, "opcua.service_id") is not None)
    assert ours == headers
    results = Counter((int(r[3]), r[12], int(r[14], 16)) for r in detail if r[12] != "ResponseHeader")
    names = {530: "Browse", 634: "Read", 676: "Write", 754: "CreateMonitoredItems"}
    ours_results = Counter((client_port(e), names[get(e, "opcua.service_id")], code) for e in events(folder)
                           if get(e, "opcua.service_id") in names for code in get(e, "opcua.results"))
    assert ours_results == results


@pytest.mark.parametrize("folder", list(BASELINES))
def test_subscription_and_monitored_items(folder: str) -> None:
    for r in rows(folder, "opcua_binary_create_subscription.log"):
        f = next(e["opcua"] for e in events(folder) if client_port(e) == int(r[3])
                 and get(e, "opcua.service_id") == (787 if r[6] == "T" else 790))
        if r[6] == "T":  # 11 interval, 12 lifetime count, 13 keep-alive count, 15 publishing enabled
            assert (f["requested_publishing_interval"], f["requested_lifetime_count"],
                    f["requested_max_keep_alive_count"], f["publishing_enabled"]) == (
                float(r[11]), int(r[12]), int(r[13]), r[15] == "T")
        else:  # 17 subscription id, 18 revised interval
            assert (f["subscription_id"], f["revised_publishing_interval"]) == (int(r[17]), float(r[18]))
    # create_monitored_items_create_item.log (request rows): 12/14 node, 17 attribute, 21 mode, 23 sampling
    items = [(int(r[3]), node(r[12], r[13], r[14]), r[17], r[21], float(r[23]))
             for r in rows(folder, "opcua_binary_create_monitored_items_create_item.log") if r[6] == "T"]
    ours = [(client_port(e), n, a, m, s) for e in events(folder) if get(e, "opcua.service_id") == 751
            for n, a, m, s in zip(get(e, "opcua.nodes"), get(e, "opcua.attributes"), get(e, "opcua.monitoring_modes"),
                                  get(e, "opcua.sampling_intervals"), strict=True)]
    assert ours == items


@pytest.mark.parametrize("folder", list(BASELINES))
def test_close_session(folder: str) -> None:
    expected = [(int(r[3]), r[11] == "T") for r in rows(folder, "opcua_binary_close_session.log") if r[6] == "T"]
    ours = [(client_port(e), get(e, "opcua.delete_subscriptions")) for e in events(folder)
            if get(e, "opcua.service_id") == 473]
    assert ours == expected
