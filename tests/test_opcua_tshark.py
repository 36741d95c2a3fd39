"""The sensor against tshark, the reference dissector, on every OPC UA capture: the reference
captures (``../shared/pcaps/icsnpp-opcua``) and the project's own (``pcaps/opcua*.pcap``).

For each capture the whole offline pipeline writes ``events.jsonl`` (``icssa.pipeline.replay``, what
``icssa replay`` runs); the multiset of (source IP, destination IP, message type, service id) over
complete messages must equal tshark's. On a connection whose OpenSecureChannel names a policy other
than None the bodies are ciphertext: there the message types and security headers (policy URI of
OPN, token id of MSG/CLO) must match, and no service may be claimed.

tshark runs with ``tcp.reassemble_out_of_order`` (the gap capture has retransmitted segments that
tshark otherwise never reassembles) and decodes OPC UA on any non-standard server port seen in a SYN.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from icssa.events import get
from icssa.pipeline import replay

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "pcaps" / "icsnpp-opcua"
CAPTURES = sorted(SHARED.glob("*.pcap")) + sorted((REPO / "pcaps").glob("opcua*.pcap"))
STANDARD_PORTS = {"4840", "4843"}

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
]


def first(tree: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in tshark's JSON tree of one PDU."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                return v[0] if isinstance(v, list) else v
            found = first(v, key)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for v in tree:
            found = first(v, key)
            if found is not None:
                return found
    return None


def tshark(path: Path) -> list[dict[str, Any]]:
    """One record per complete OPC UA message (intermediate chunks left out), as tshark sees it."""
    syn = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
         "-T", "fields", "-e", "tcp.dstport"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    decode_as = [arg for port in sorted(set(syn) - STANDARD_PORTS) for arg in ("-d", f"tcp.port=={port},opcua")]
    out = subprocess.run(
        ["tshark", "-n", "-o", "tcp.reassemble_out_of_order:TRUE", *decode_as, "-r", str(path), "-Y", "opcua",
         "-T", "json", "-J", "ip ipv6 tcp opcua", "--no-duplicate-keys"],
        capture_output=True, check=True,
    ).stdout
    records = []
    for frame in json.loads(out or b"[]"):
        layers = frame["_source"]["layers"]
        net = layers.get("ip") or layers.get("ipv6")
        src = first(net, "ip.src") or first(net, "ipv6.src")
        dst = first(net, "ip.dst") or first(net, "ipv6.dst")
        ports = (int(first(layers["tcp"], "tcp.srcport")), int(first(layers["tcp"], "tcp.dstport")))
        pdus = layers["opcua"] if isinstance(layers["opcua"], list) else [layers["opcua"]]
        for pdu in pdus:
            mtype, chunk = pdu.get("opcua.transport.type"), pdu.get("opcua.transport.chunk")
            if mtype is None or chunk == "C":
                continue
            sid, token = first(pdu, "opcua.servicenodeid.numeric"), first(pdu, "opcua.security.tokenid")
            records.append({
                "src": src, "dst": dst, "conn": frozenset([(src, ports[0]), (dst, ports[1])]), "type": mtype,
                "service_id": int(sid) if sid is not None else None, "policy": first(pdu, "opcua.security.spu"),
                "token_id": int(token) if token is not None else None,
            })
    return records


def ours(path: Path, out_dir: Path) -> list[dict[str, Any]]:
    replay([path], out_dir)
    records = []
    with open(out_dir / "events.jsonl") as fh:
        for line in fh:
            e = json.loads(line)
            if get(e, "event.dataset") != "opcua":
                continue
            src, dst = get(e, "source.ip"), get(e, "destination.ip")
            records.append({
                "src": src, "dst": dst,
                "conn": frozenset([(src, get(e, "source.port")), (dst, get(e, "destination.port"))]),
                "type": get(e, "opcua.message_type"), "service_id": get(e, "opcua.service_id"),
                "policy": get(e, "opcua.security_policy") if get(e, "opcua.message_type") == "OPN" else None,
                "token_id": get(e, "opcua.token_id"), "encrypted": get(e, "opcua.encrypted"),
            })
    return records


def protected_connections(records: list[dict[str, Any]]) -> set[frozenset[tuple[str, int]]]:
    """Connections whose OpenSecureChannel (as tshark reads it) names a policy other than None."""
    return {r["conn"] for r in records if r["type"] == "OPN" and r["policy"] and not r["policy"].endswith("#None")}


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_messages_equal_tshark(capture: Path, tmp_path: Path) -> None:
    reference = tshark(capture)
    mine = ours(capture, tmp_path)
    protected = protected_connections(reference)

    def clear(records: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter((r["src"], r["dst"], r["type"], r["service_id"]) for r in records if r["conn"] not in protected)

    def secured(records: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter((r["src"], r["dst"], r["type"], r["policy"], r["token_id"] if r["type"] != "OPN" else None)
                       for r in records if r["conn"] in protected)

    assert clear(mine) == clear(reference)
    assert secured(mine) == secured(reference)
    # inside a protected connection a service is only reported from a body in clear (mode Sign),
    # and then tshark reads the same service
    signed = Counter((r["src"], r["dst"], r["type"], r["service_id"]) for r in mine
                     if r["conn"] in protected and r["type"] != "OPN" and r["service_id"] is not None)
    assert all(r["encrypted"] is False for r in mine if r["conn"] in protected and r["service_id"] is not None)
    tshark_services = Counter((r["src"], r["dst"], r["type"], r["service_id"]) for r in reference
                              if r["conn"] in protected)
    assert signed - tshark_services == Counter()


def test_encrypted_reference_capture_is_marked_not_decoded(tmp_path: Path) -> None:
    capture = SHARED / "open62541_client-server_encrypted.pcap"
    mine = ours(capture, tmp_path)
    protected = protected_connections(tshark(capture))
    assert protected
    inside = [r for r in mine if r["conn"] in protected]
    assert inside and all(r["encrypted"] is True and r["service_id"] is None for r in inside if r["type"] != "ACK"
                          and r["type"] != "HEL")


def test_cli_replay_writes_opcua_events(tmp_path: Path) -> None:
    capture = SHARED / "open62541_client-server-getEndpoints.pcap"
    done = subprocess.run([sys.executable, "-m", "icssa.cli", "replay", str(capture), "--out", str(tmp_path), "-q"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    actions = [get(json.loads(line), "event.action") for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert actions == ["hello", "acknowledge", "open_secure_channel", "open_secure_channel", "get_endpoints",
                       "get_endpoints", "close_secure_channel"]
