"""Live capture: ``icssa sensor --interface`` on one end of a veth pair whose other end sits
in a network namespace the test creates, with a real pymodbus server in it and a pymodbus
client outside. The events must reach Kafka with the values the client wrote and read.

The 10.231.x.y/30 addresses exist only on that veth pair, for the life of the test.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from .conftest import KAFKA, Namespace, wait_until

SERVER = """
import asyncio, sys
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

plc = SimDevice(id=1, simdata=(
    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
    [SimData(0, values=list(range(100, 116)), datatype=DataType.REGISTERS)],
    [SimData(0, values=[0] * 16, datatype=DataType.REGISTERS)],
))

async def main():
    await ModbusTcpServer([plc], address=(sys.argv[1], 502)).serve_forever()

asyncio.run(main())
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def veth() -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:6]
    net = int(tag[:2], 16)
    n = {"ns": f"icssa-{tag}", "host_if": f"icv{tag}a", "peer_if": f"icv{tag}b",
         "host_ip": f"10.231.{net}.1", "plc_ip": f"10.231.{net}.2"}
    ip("netns", "add", n["ns"])
    try:
        ip("link", "add", n["host_if"], "type", "veth", "peer", "name", n["peer_if"])
        ip("link", "set", n["peer_if"], "netns", n["ns"])
        ip("addr", "add", f"{n['host_ip']}/30", "dev", n["host_if"])
        ip("link", "set", n["host_if"], "up")
        ip("netns", "exec", n["ns"], "ip", "addr", "add", f"{n['plc_ip']}/30", "dev", n["peer_if"])
        ip("netns", "exec", n["ns"], "ip", "link", "set", n["peer_if"], "up")
        ip("netns", "exec", n["ns"], "ip", "link", "set", "lo", "up")
        yield n
    finally:
        subprocess.run(["ip", "link", "del", n["host_if"]], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", n["ns"]], capture_output=True, timeout=30)


@pytest.fixture
def plc(veth: dict[str, str]) -> Iterator[str]:
    server = subprocess.Popen(["ip", "netns", "exec", veth["ns"], sys.executable, "-c", SERVER, veth["plc_ip"]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield veth["plc_ip"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _topic_events(topic: str) -> list[dict[str, Any]]:
    c = KafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, request_timeout_ms=10_000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        out: list[dict[str, Any]] = []

        def caught_up() -> bool:
            for batch in c.poll(timeout_ms=500).values():
                for rec in batch:
                    out.extend(orjson.loads(line) for line in rec.value.split(b"\n"))
            return all(c.position(tp) >= end[tp] for tp in tps)

        wait_until("the events topic read to its end", caught_up, timeout=60, every=0)
        return out
    finally:
        c.close()


def test_live_modbus_across_a_veth_pair(ns: Namespace, veth: dict[str, str], plc: str, tmp_path: Path) -> None:
    from pymodbus.client import ModbusTcpClient

    sensor = ns.sensor("--interface", veth["host_if"], "--bpf", "tcp port 502", "--org", "plant-live",
                       "--observer", "veth-sensor", "--spool", str(tmp_path / "spool"), "--linger", "0.05")
    sensor.wait_line("capturing on")
    client = ModbusTcpClient(plc, port=502, timeout=3, retries=0)
    wait_until("the pymodbus server in the namespace", client.connect, timeout=60, every=0.2)
    try:
        regs = client.read_holding_registers(0, count=4, device_id=1)
        assert not regs.isError() and regs.registers == [100, 101, 102, 103]
        assert not client.write_register(5, 4242, device_id=1).isError()
        assert not client.write_coil(3, True, device_id=1).isError()
        back = client.read_holding_registers(5, count=1, device_id=1)
        assert back.registers == [4242]
    finally:
        client.close()
    assert sensor.stop() == 0, sensor.log()
    assert sensor.saw(" 8 events,"), sensor.log()
    assert sensor.saw("drops kernel 0 own 0"), sensor.log()

    events = _topic_events(f"{ns.name}.events")
    assert len(events) == 8
    assert len({e["event"]["id"] for e in events}) == 8
    assert {(e["observer"]["name"], e["organization"]["id"]) for e in events} == {("veth-sensor", "plant-live")}
    requests = [e for e in events if not e["modbus"]["is_response"]]
    responses = [e for e in events if e["modbus"]["is_response"]]
    assert [e["event"]["action"] for e in requests] == [
        "read_holding_registers", "write_single_register", "write_single_coil", "read_holding_registers"
    ]
    for e in requests:
        assert (e["source"]["ip"], e["destination"]["ip"], e["destination"]["port"]) == (veth["host_ip"], plc, 502)
    for e in responses:
        assert (e["source"]["ip"], e["source"]["port"], e["destination"]["ip"]) == (plc, 502, veth["host_ip"])
    assert requests[1]["modbus"]["address"] == 5 and requests[1]["modbus"]["values"] == [4242]
    assert [r["modbus"].get("values") for r in responses if r["event"]["action"] == "read_holding_registers"] == [
        [100, 101, 102, 103], [4242]
    ]
