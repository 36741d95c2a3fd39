"""Hostile and varied copies of an ``events.jsonl`` for asset map parity runs (development tool).

Each event is kept in the sensor's form (what native events can carry: string addresses,
ports, MACs, times and ids, a boolean direction, any JSON under the dataset) and changed with
a fixed seed:

- addresses: some IPs become IPv6, IPv4-mapped or public addresses (consistently per IP);
- MACs: per IP a host MAC with a vendor's OUI, spelt several ways, or a router MAC shared by
  several IPs, a MAC handed from one IP to another (DHCP), group, zero, locally administered
  or malformed MACs, or none; one address seen with many MACs, one MAC with many addresses;
- times out of order and bad time stamps (in the sensor's 27-character form, or no time at
  all: the native clock reads only that form); missing and empty event ids; alerts, notices,
  empty addresses, flipped directions, other actions, many protocols on one host;
- identity fields (Modbus device identification, S7 SZL identity, OPC UA descriptions,
  endpoints and tokens) with odd values: NULs, Python-only whitespace, numbers, booleans,
  lists, non-ASCII digits and letters, versions with wildcards;
- ``--hub N`` adds N reads from distinct clients to one server (the per-record edge cap).

Run from the repository root: ``python native/tools/assetmap_mutate.py EVENTS OUT --seed S``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import orjson

OUI_PREFIXES = ["00:1b:1b", "00:0e:8c", "00:80:f4", "00:00:bc", "00:90:e8", "00:30:de", "08:00:06"]
ODD_MACS = ["", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb", "02:42:ac:11:00:02", "zz:zz:zz:zz:zz:zz", "00:1b:1b"]
IDENTITY_VALUES: list[Any] = [
    "V3.2.6", " V3.X.16 ", "\u0663.\u0661", "\u0130r5", "\x1cCPU 315-2 PN/DP\x00", "6ES7 315-2EH14-0AB0",
    "CPU 315-2 DP", "CPU 1214C DC/DC/DC", 1, 1.0, 0, 2.5, 1e16, 1e-7, True, None, [], {}, "1", " 1 ",
    "Siemens AG", "SIEMENS", "Schneider Electric", "Telemecanique", "BMX P34 2020", "pymodbus", "pymodbus\u00b2",
    "urn:open62541.server.application", "http://open62541.org", "urn:freeopcua:python:server",
    "freeopcua", "MGate 5105", "Moxa Inc.", "\u017fiemens", "x" * 300, "None", "anonymous", "Anonymous",
    "Original Siemens Equipment", "Original Siemens Equipment\n", "v3.10", "1.3-rc1", "0.9.95", "V4.2 SP1 HF2",
    2**63 + 5, -3, "\u00a0\u2003", "Weidm\u00fcller",
]
ACTIONS = [
    "read_coils", "write_single_register", "diagnostics", "read_device_identification", "plc_stop",
    "request_download", "write_var", "read_var", "read_szl", "list_blocks", "set_clock", "read", "write",
    "publish", "activate_session", "get_endpoints", "find_servers", "create_session", "get_variable",
    "set_variable", "",
]
SUBFUNCTIONS: list[Any] = [True, False, 1, 4, 0, "1", 4.0, None]


class Mutator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.ips: dict[str, str] = {}
        self.macs: dict[str, str | None] = {}
        self.router = self.mac(self.r.choice(OUI_PREFIXES))
        self.roaming = self.mac("00:0e:8c")  # seen with many addresses

    def mac(self, prefix: str) -> str:
        tail = ":".join(f"{self.r.randrange(256):02x}" for _ in range(3))
        return f"{prefix}:{tail}"

    def spelling(self, mac: str) -> str:
        way = self.r.randrange(6)
        if way == 0:
            return mac.upper().replace(":", "-")
        if way == 1:
            h = mac.replace(":", "")
            return f"{h[:4]}.{h[4:8]}.{h[8:]}"
        return mac

    def ip(self, ip: str) -> str:
        if ip not in self.ips:
            k = self.r.randrange(40)
            n = len(self.ips)
            self.ips[ip] = {
                0: f"fd00:10::{n:x}",
                1: f"2a00:1450::{n:x}",
                2: f"::ffff:8.8.{n % 256}.{n // 256}",
                3: f"8.8.{n % 256}.{n // 256}",
                4: f"100.64.{n % 256}.{n // 256}",
                5: "192.0.0.9",
                6: f"::ffff:10.9.{n % 256}.{n // 256}",
            }.get(k, ip)
        return self.ips[ip]

    def mac_of(self, ip: str) -> str | None:
        if ip not in self.macs:
            k = self.r.randrange(10)
            if k < 5:
                self.macs[ip] = self.spelling(self.mac(self.r.choice(OUI_PREFIXES)))
            elif k == 5:
                self.macs[ip] = self.router
            elif k == 6:
                self.macs[ip] = self.r.choice(ODD_MACS)
            elif k == 7 and self.macs:
                self.macs[ip] = self.r.choice([m for m in self.macs.values()])  # handed over
            else:
                self.macs[ip] = None
        return self.macs[ip]

    def value(self) -> Any:
        return self.r.choice(IDENTITY_VALUES)

    def identity(self, e: dict[str, Any], dataset: str, action: str) -> None:
        sub = e.setdefault(dataset, {})
        if not isinstance(sub, dict):
            return
        r = self.r
        if dataset == "modbus" and action == "read_device_identification":
            fields = ["vendor_name", "product_code", "revision", "vendor_url", "product_name", "model_name",
                      "user_application_name"]
            sub["device_id"] = {f: self.value() for f in r.sample(fields, r.randrange(1, len(fields)))}
        elif dataset == "s7comm":
            fields = ["order_number", "module_name", "module_type_name", "serial_number", "system_name", "plant_id",
                      "copyright", "firmware_version", "hardware_version", "protection_level", "mode"]
            sub["identity"] = {f: self.value() for f in r.sample(fields, r.randrange(1, len(fields)))}
            if r.random() < 0.1:
                sub["identity"] = self.value()
        elif dataset == "opcua":
            for f in ("application_name", "application_uri", "product_uri", "certificate_subject",
                      "client_certificate_subject"):
                if r.random() < 0.3:
                    sub[f] = self.value()
            if r.random() < 0.5:
                sub["endpoints"] = [
                    {
                        "endpoint_url": self.value(),
                        "security_mode": r.choice([0, 1, 2, 3, 7, True, "None", " Sign ", None, 1.0]),
                        "security_policy": r.choice([self.value(), "http://opcfoundation.org/UA/SecurityPolicy#None"]),
                        "user_token_types": r.choice([
                            ["anonymous", "username"], [0, 1, 9], [{"token_type": "Anonymous"}, {"type": 2},
                                                               {"token_type": None, "type": 3}], "anonymous", None]),
                        "application_uri": self.value(),
                    }
                    if r.random() < 0.9 else self.value()
                    for _ in range(r.randrange(0, 4))
                ]
            sub["identity_token_type"] = r.choice([0, 1, "Anonymous", "USERNAME", {"token_type": "anonymous"}, None, 5])

    def event(self, e: dict[str, Any], i: int) -> dict[str, Any]:
        r = self.r
        ev, src, dst, net = e["event"], e["source"], e["destination"], e["network"]
        for side in (src, dst):
            side["ip"] = self.ip(side["ip"])
            mac = self.mac_of(side["ip"])
            if side["ip"] in ("127.0.10.1", "10.1.0.1") and r.random() < 0.3:
                mac = self.mac(r.choice(OUI_PREFIXES))  # one address, many MACs
            if r.random() < 0.01:
                mac = self.roaming
                side["ip"] = f"10.77.{r.randrange(4)}.{r.randrange(30)}"
            if mac is None:
                side.pop("mac", None)
            else:
                side["mac"] = mac
        x = r.random()
        if x < 0.01:
            ev["kind"] = "alert"
        elif x < 0.015:
            ev["dataset"] = "icssa"
        elif x < 0.02:
            src["ip"] = ""
        elif x < 0.03:
            ev["dataset"] = f"proto_{r.randrange(24)}"
        if r.random() < 0.02:
            t = e["@timestamp"]
            e["@timestamp"] = r.choice([
                "garbage", "2024-02-30T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
                t[:17] + f"{r.randrange(60):02d}" + t[19:], "1970-01-01T00:00:00.000000Z", "",
            ])
        if r.random() < 0.005:
            ev.pop("id", None)
        elif r.random() < 0.005:
            ev["id"] = ""
        if r.random() < 0.03:
            net["direction_to_server"] = not net["direction_to_server"]
        if r.random() < 0.03:
            ev["action"] = r.choice(ACTIONS)
        dataset, action = ev.get("dataset"), ev.get("action", "")
        if dataset == "modbus" and action == "diagnostics" or r.random() < 0.005:
            e.setdefault("modbus", {})
            if isinstance(e["modbus"], dict):
                e["modbus"]["subfunction"] = r.choice(SUBFUNCTIONS)
        if dataset in ("modbus", "s7comm", "opcua") and r.random() < 0.05:
            self.identity(e, dataset, action)
        return e

    def hub(self, template: dict[str, Any], n: int) -> dict[str, Any]:
        e = orjson.loads(orjson.dumps(template))
        e["event"].update(dataset="modbus", action="read_coils", kind="event", id=f"hub-{n}")
        e["source"] = {"ip": f"10.200.{n // 250}.{n % 250}", "port": 40000 + n % 20000}
        e["destination"] = {"ip": "10.9.9.9", "port": 502}
        e["network"]["direction_to_server"] = True
        e["modbus"] = {"function_code": 1}
        for k in ("s7comm", "opcua", "cotp", "s7comm_plus"):
            e.pop(k, None)
        return e


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hub", type=int, default=0, help="reads of distinct clients to one server")
    args = ap.parse_args()
    m = Mutator(args.seed)
    lines = args.events.read_bytes().splitlines()
    hubs = sorted(m.r.randrange(len(lines) + 1) for _ in range(args.hub))
    with args.out.open("wb") as out:
        h = 0
        for i, line in enumerate(lines):
            e = orjson.loads(line)
            while h < len(hubs) and hubs[h] <= i:
                out.write(orjson.dumps(m.hub(e, h)) + b"\n")
                h += 1
            out.write(orjson.dumps(m.event(e, i)) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
