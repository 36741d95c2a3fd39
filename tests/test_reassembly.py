"""TCP reassembly and flows, each case asserting the exact Modbus messages recovered.

Segments are crafted with scapy from the hand-labelled ADUs below and run through ``Sensor``.
A message is summarised as ``(direction, transaction id, action, detail)`` where direction is
``">"`` (client to server) or ``"<"``, and detail is the request's address or the response's
values, so that a test can say exactly which bytes won.
"""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from parsers import modbus
from sensors.engine import CLOSED_TIMEOUT_NS, FLOW_TIMEOUT_NS, Sensor
from sensors.flows import MAX_OOO_SEGMENTS

CLIENT, SERVER = "198.51.100.1", "198.51.100.2"
CPORT = 49152
T0 = 1_700_000_000_000_000_000
MS = 1_000_000

READ_COILS = (
    b"\x00\x10"  # transaction id 16
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x01"  # function 1: read coils
    b"\x00\x13"  # address 19
    b"\x00\x25"  # quantity 37
)
READ_COILS_RESPONSE = (
    b"\x00\x10"  # transaction id 16
    b"\x00\x00"  # protocol id 0
    b"\x00\x08"  # length 8
    b"\x01"  # unit id 1
    b"\x01"  # function 1
    b"\x05"  # byte count 5
    b"\xcd\x6b\xb2\x0e\x1b"  # coils 19..55 (spec 6.1 example), LSB first
)
COILS_19_55 = [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1]
WRITE_REGISTER = (
    b"\x00\x11"  # transaction id 17
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x06"  # function 6: write single register
    b"\x00\x01"  # address 1
    b"\x00\x03"  # value 3
)
WRITE_REGISTER_FORGED = (
    b"\x00\x11"  # transaction id 17 (same as WRITE_REGISTER)
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x06"  # function 6
    b"\x00\x01"  # address 1
    b"\x0b\xad"  # value 2989: differs from the original
)
READ_HR = (
    b"\x00\x12"  # transaction id 18
    b"\x00\x00"  # protocol id 0
    b"\x00\x06"  # length 6
    b"\x01"  # unit id 1
    b"\x03"  # function 3: read holding registers
    b"\x00\x6b"  # address 107
    b"\x00\x03"  # quantity 3
)
READ_HR_RESPONSE = (
    b"\x00\x12"  # transaction id 18
    b"\x00\x00"  # protocol id 0
    b"\x00\x09"  # length 9
    b"\x01"  # unit id 1
    b"\x03"  # function 3
    b"\x06"  # byte count 6
    b"\x02\x2b"  # 555
    b"\x00\x00"  # 0
    b"\x00\x64"  # 100
)

M_COILS = (">", 16, "read_coils", 19)
M_WRITE = (">", 17, "write_single_register", [3])
M_WRITE_FORGED = (">", 17, "write_single_register", [2989])
M_HR = (">", 18, "read_holding_registers", 107)
M_COILS_RSP = ("<", 16, "read_coils", COILS_19_55)
M_HR_RSP = ("<", 18, "read_holding_registers", [555, 0, 100])


class Conn:
    """One TCP connection's segments as Ethernet frames; sequence numbers tracked per side."""

    def __init__(self, cport: int = CPORT, sport: int = 502, cisn: int = 1000, sisn: int = 50_000) -> None:
        self.cport, self.sport = cport, sport
        self.cseq = cisn  # next client sequence number
        self.sseq = sisn

    def handshake(self) -> list[bytes]:
        c, s = self.cseq, self.sseq
        return [
            self._frame(True, b"", "S", (c - 1) & 0xFFFFFFFF, 0),
            self._frame(False, b"", "SA", (s - 1) & 0xFFFFFFFF, c),
            self._frame(True, b"", "A", c, s),
        ]

    def c(self, data: bytes, *, seq: int | None = None, flags: str = "PA") -> bytes:
        """Client -> server; advances the client's sequence unless ``seq`` is given."""
        if seq is None:
            seq = self.cseq
            self.cseq = (self.cseq + len(data)) & 0xFFFFFFFF
        return self._frame(True, data, flags, seq, self.sseq)

    def s(self, data: bytes, *, seq: int | None = None, flags: str = "PA", ack: int | None = None) -> bytes:
        if seq is None:
            seq = self.sseq
            self.sseq = (self.sseq + len(data)) & 0xFFFFFFFF
        return self._frame(False, data, flags, seq, self.cseq if ack is None else ack)

    def _frame(self, to_server: bool, data: bytes, flags: str, seq: int, ack: int) -> bytes:
        if to_server:
            ip, tcp = IP(src=CLIENT, dst=SERVER), TCP(sport=self.cport, dport=self.sport)
            eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        else:
            ip, tcp = IP(src=SERVER, dst=CLIENT), TCP(sport=self.sport, dport=self.cport)
            eth = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
        tcp.flags, tcp.seq, tcp.ack = flags, seq, ack
        return bytes(eth / ip / tcp / Raw(data)) if data else bytes(eth / ip / tcp)


def run(frames: list[bytes], *, times: list[int] | None = None, **kw: Any) -> tuple[list[tuple], Sensor]:
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t", **kw)
    for i, frame in enumerate(frames):
        sensor.packet(times[i] if times else T0 + i * MS, 1, frame)
    sensor.finish()
    sensor.notices = [e for e in events if e["event"]["dataset"] == "icssa"]  # type: ignore[attr-defined]
    return [summary(e) for e in events if e["event"]["dataset"] == "modbus"], sensor


def summary(e: dict) -> tuple:
    m = e["modbus"]
    direction = "<" if m["is_response"] else ">"
    if m["is_response"] or m["function_code"] in (5, 6):
        detail = m.get("values")
    else:
        detail = m.get("address")
    return direction, m["transaction_id"], e["event"]["action"], detail


# -- framing across segments ------------------------------------------------------------------


def test_adu_split_across_three_segments() -> None:
    k = Conn()
    frames = k.handshake() + [k.c(READ_HR[:3]), k.c(READ_HR[3:8]), k.c(READ_HR[8:]), k.s(READ_HR_RESPONSE)]
    msgs, sensor = run(frames)
    assert msgs == [M_HR, M_HR_RSP]
    assert sensor.stats["tcp_gaps"] == 0


def test_mbap_header_split_byte_by_byte() -> None:
    k = Conn()
    frames = k.handshake() + [k.c(READ_HR[i : i + 1]) for i in range(len(READ_HR))] + [k.s(READ_HR_RESPONSE)]
    assert run(frames)[0] == [M_HR, M_HR_RSP]


def test_three_adus_in_one_segment() -> None:
    k = Conn()
    frames = k.handshake() + [k.c(READ_COILS + WRITE_REGISTER + READ_HR)]
    assert run(frames)[0] == [M_COILS, M_WRITE, M_HR]


def test_adus_straddling_segment_boundaries() -> None:
    k = Conn()
    stream = READ_COILS + WRITE_REGISTER + READ_HR
    frames = k.handshake() + [k.c(stream[:10]), k.c(stream[10:25]), k.c(stream[25:])]
    assert run(frames)[0] == [M_COILS, M_WRITE, M_HR]


# -- order, retransmission, overlap -----------------------------------------------------------


def test_out_of_order_segments() -> None:
    k = Conn()
    base = k.cseq
    stream = READ_COILS + WRITE_REGISTER + READ_HR
    frames = k.handshake() + [
        k.c(stream[20:], seq=base + 20),
        k.c(stream[5:20], seq=base + 5),
        k.c(stream[:5], seq=base),
    ]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_WRITE, M_HR]
    assert sensor.stats["tcp_out_of_order"] == 2
    assert sensor.stats["tcp_gaps"] == 0


def test_response_arrives_before_request_in_the_capture() -> None:
    """Mirror ports reorder directions: pairing still works when the request is parsed later."""
    k = Conn()
    hs = k.handshake()
    req = k.c(READ_HR)
    rsp = k.s(READ_HR_RESPONSE)
    msgs, _ = run(hs + [rsp, req])
    assert msgs == [("<", 18, "read_holding_registers", [555, 0, 100]), M_HR]


def test_retransmission_with_different_bytes_keeps_the_first() -> None:
    k = Conn()
    base = k.cseq
    frames = k.handshake() + [k.c(WRITE_REGISTER), k.c(WRITE_REGISTER_FORGED, seq=base), k.c(READ_HR)]
    msgs, sensor = run(frames)
    assert msgs == [M_WRITE, M_HR]
    assert sensor.stats["tcp_retransmissions"] == 1


def test_out_of_order_retransmission_with_different_longer_bytes_keeps_the_first() -> None:
    """A waiting segment is retransmitted with other bytes plus new ones: only the new ones count."""
    k = Conn()
    base = k.cseq
    frames = k.handshake() + [
        k.c(WRITE_REGISTER[6:], seq=base + 6),  # waits for the first 6 bytes
        k.c(WRITE_REGISTER_FORGED[6:] + READ_HR, seq=base + 6),  # same range forged, then READ_HR
        k.c(WRITE_REGISTER[:6], seq=base),
    ]
    msgs, _ = run(frames)
    assert msgs == [M_WRITE, M_HR]


def test_in_order_segment_overlapping_waiting_bytes_keeps_the_waiting_ones() -> None:
    k = Conn()
    base = k.cseq
    frames = k.handshake() + [
        k.c(WRITE_REGISTER[8:], seq=base + 8),  # seen first: address and value
        k.c(WRITE_REGISTER_FORGED, seq=base),  # in order, overlaps bytes 8..12 with other bytes
        k.c(READ_HR, seq=base + len(WRITE_REGISTER)),
    ]
    msgs, _ = run(frames)
    assert msgs == [M_WRITE, M_HR]


def test_overlapping_segment_delivers_only_the_new_bytes() -> None:
    k = Conn()
    base = k.cseq
    stream = READ_COILS + WRITE_REGISTER
    frames = k.handshake() + [
        k.c(stream[:10], seq=base),
        k.c(stream[4:20], seq=base + 4),  # 6 old bytes, 10 new ones
        k.c(stream[20:], seq=base + 20),
    ]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_WRITE]
    assert sensor.stats["tcp_overlaps"] == 1


def test_overlapping_out_of_order_segments() -> None:
    k = Conn()
    base = k.cseq
    stream = READ_COILS + WRITE_REGISTER + READ_HR
    frames = k.handshake() + [
        k.c(stream[20:30], seq=base + 20),
        k.c(stream[15:36], seq=base + 15),  # overlaps the waiting one at both ends
        k.c(stream[:15], seq=base),
    ]
    assert run(frames)[0] == [M_COILS, M_WRITE, M_HR]


def test_keep_alives_do_not_disturb_the_stream() -> None:
    k = Conn()
    frames = k.handshake() + [
        k.c(READ_COILS),
        k.c(b"", seq=k.cseq - 1, flags="A"),  # keep-alive: seq one below, no data
        k.c(b"\x00", seq=k.cseq - 1, flags="A"),  # keep-alive with one garbage byte
        k.s(b"", seq=k.sseq - 1, flags="A"),
        k.c(WRITE_REGISTER),
    ]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_WRITE]
    assert sensor.stats["tcp_gaps"] == 0
    assert sum(sensor.parse_errors.values()) == 0


# -- gaps and pick-up mid-way -----------------------------------------------------------------


def test_gap_then_good_data_resyncs_at_the_next_adu() -> None:
    k = Conn()
    frames = k.handshake() + [k.c(READ_COILS)]
    lost = k.c(WRITE_REGISTER)  # never captured
    frames += [k.c(READ_HR), k.s(b"", flags="A"), k.s(READ_HR_RESPONSE)]  # the server acks past the hole
    assert lost not in frames
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_HR, M_HR_RSP]
    assert sensor.stats["tcp_gaps"] == 1
    assert sensor.stats["tcp_gap_bytes"] == len(WRITE_REGISTER)


def test_gap_inside_an_adu_skips_its_tail() -> None:
    k = Conn()
    base = k.cseq
    stream = READ_COILS + WRITE_REGISTER + READ_HR
    frames = k.handshake() + [
        k.c(stream[:14], seq=base),  # READ_COILS + the first 2 bytes of WRITE_REGISTER
        # bytes 14..20 are lost; 20.. holds the tail of WRITE_REGISTER, then READ_HR
        k.c(stream[20:], seq=base + 20),
    ]
    frames += [k.s(b"", flags="A", ack=base + len(stream)), k.s(READ_COILS_RESPONSE)]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_HR, M_COILS_RSP]
    assert sensor.stats["tcp_gaps"] == 1
    assert sensor.stats["tcp_gap_bytes"] == 6


def test_response_that_acks_past_a_hole_comes_after_the_request_it_answers() -> None:
    """The response's ACK proves the request was sent first: deliver the request, then pair."""
    k = Conn()
    frames = k.handshake() + [k.c(READ_COILS)]
    k.c(WRITE_REGISTER)  # lost
    frames += [k.c(READ_HR), k.s(READ_HR_RESPONSE)]
    msgs, _ = run(frames)
    assert msgs == [M_COILS, M_HR, M_HR_RSP]


def test_hole_never_acked_is_given_up_at_the_end_and_the_rest_parsed() -> None:
    k = Conn()
    base = k.cseq
    frames = k.handshake() + [k.c(READ_COILS), k.c(READ_HR, seq=base + len(READ_COILS) + len(WRITE_REGISTER))]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_HR]
    assert sensor.stats["tcp_gaps"] == 1


def test_too_many_waiting_segments_become_a_gap() -> None:
    k = Conn()
    base = k.cseq
    stream = READ_HR * (MAX_OOO_SEGMENTS + 2)
    frames = k.handshake() + [
        # the first ADU is lost; every later one arrives as its own waiting segment
        k.c(stream[i : i + len(READ_HR)], seq=base + i)
        for i in range(len(READ_HR), len(stream), len(READ_HR))
    ]
    msgs, sensor = run(frames)
    assert sensor.stats["tcp_ooo_bound_hit"] >= 1
    assert msgs == [M_HR] * (MAX_OOO_SEGMENTS + 1)


def test_stream_picked_up_midway_starting_mid_adu() -> None:
    k = Conn()  # no handshake in the capture
    frames = [
        k.c(READ_COILS[5:] + WRITE_REGISTER),  # the tail of an ADU, then a whole one
        k.s(READ_COILS_RESPONSE[9:] + READ_HR_RESPONSE[:4]),  # a tail, then half a response
        k.c(READ_HR),
        k.s(READ_HR_RESPONSE[4:]),
    ]
    msgs, sensor = run(frames)
    assert msgs == [M_WRITE, M_HR, ("<", 18, "read_holding_registers", [555, 0, 100])]
    assert sensor.stats["tcp_gaps"] == 0


def test_stream_picked_up_midway_on_a_non_standard_port() -> None:
    k = Conn(sport=1502)
    frames = [k.c(READ_COILS[3:]), k.c(WRITE_REGISTER), k.c(READ_HR), k.s(READ_HR_RESPONSE)]
    msgs, _ = run(frames)
    assert msgs == [M_WRITE, M_HR, M_HR_RSP]


def test_sequence_numbers_wrap_around() -> None:
    k = Conn(cisn=0xFFFFFFFF - 4, sisn=0xFFFFFFF0)
    stream = READ_COILS + WRITE_REGISTER + READ_HR
    frames = k.handshake() + [k.c(stream[:3]), k.c(stream[3:20])]  # the wrap falls inside the 2nd
    frames += [k.s(READ_COILS_RESPONSE), k.c(stream[20:])]
    msgs, sensor = run(frames)
    assert msgs == [M_COILS, M_COILS_RSP, M_WRITE, M_HR]
    assert sensor.stats["tcp_gaps"] == 0
    assert sensor.stats["tcp_retransmissions"] == 0


def test_out_of_order_across_the_wrap() -> None:
    k = Conn(cisn=0xFFFFFFF8)
    base = k.cseq
    stream = READ_COILS + WRITE_REGISTER
    frames = k.handshake() + [
        k.c(stream[12:], seq=(base + 12) & 0xFFFFFFFF),  # after the wrap
        k.c(stream[:12], seq=base),
    ]
    assert run(frames)[0] == [M_COILS, M_WRITE]


# -- FIN / RST, flow table --------------------------------------------------------------------


def test_data_on_fin_segments_is_parsed() -> None:
    k = Conn()
    frames = k.handshake() + [
        k.c(READ_HR, flags="FPA"),
        k.s(READ_HR_RESPONSE, flags="FPA"),
        k.c(b"", flags="A"),
    ]
    msgs, sensor = run(frames)
    assert msgs == [M_HR, M_HR_RSP]
    assert not sensor.flows  # finish() flushed it


def test_closed_flow_expires_sooner_than_an_idle_one() -> None:
    a, b = Conn(cport=40000), Conn(cport=40001)
    frames = a.handshake() + [a.c(READ_HR), a.c(b"", flags="R")] + b.handshake() + [b.c(READ_HR)]
    times = [T0 + i * MS for i in range(len(frames))]
    later = frames + [b.c(WRITE_REGISTER)]
    times.append(T0 + CLOSED_TIMEOUT_NS + 10 * 1_000_000_000)
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t")
    for t, f in zip(times, later, strict=True):
        sensor.packet(t, 1, f)
    assert {key[1] for key in sensor.flows} == {40001}


def test_port_reuse_after_rst_starts_a_clean_stream() -> None:
    old = Conn(cisn=1000)
    frames = old.handshake() + [old.c(READ_COILS), old.c(WRITE_REGISTER[:9]), old.c(b"", flags="R")]
    new = Conn(cisn=777_777)  # same ports, a new connection
    frames += new.handshake() + [new.c(READ_HR), new.s(READ_HR_RESPONSE)]
    msgs, _ = run(frames)
    assert msgs == [M_COILS, M_HR, M_HR_RSP]


def test_flow_table_is_bounded_and_evicted_flows_keep_their_messages() -> None:
    frames = []
    for i in range(30):
        k = Conn(cport=41000 + i)
        frames += k.handshake() + [k.c(READ_HR)]
    msgs, sensor = run(frames, max_flows=10)
    assert msgs == [M_HR] * 30
    assert sensor.stats["flows_evicted"] >= 20
    assert sensor.stats["flows"] == 30


def test_flow_table_never_exceeds_max_flows() -> None:
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t", max_flows=10)
    for i in range(50):
        k = Conn(cport=42000 + i)
        for f in k.handshake():
            sensor.packet(T0 + i * MS, 1, f)
        assert len(sensor.flows) <= 10


def test_idle_flow_times_out_and_is_picked_up_again() -> None:
    a, b = Conn(cport=40000), Conn(cport=40001)
    frames = a.handshake() + [a.c(READ_COILS)]
    times = [T0, T0 + MS, T0 + 2 * MS, T0 + 3 * MS]
    frames.append(b.c(READ_HR))  # another flow, much later: the sweep drops the idle one
    times.append(T0 + FLOW_TIMEOUT_NS + 20 * 1_000_000_000)
    frames.append(a.c(WRITE_REGISTER))  # the idle flow wakes up: a new flow, picked up mid-way
    times.append(times[-1] + MS)
    msgs, sensor = run(frames, times=times)
    assert msgs == [M_COILS, M_HR, M_WRITE]
    assert sensor.stats["flows_timed_out"] == 1
    assert sensor.stats["flows"] == 3


def test_waiting_segments_are_flushed_when_a_flow_times_out() -> None:
    a, b = Conn(cport=40000), Conn(cport=40001)
    base = a.cseq
    frames = a.handshake() + [a.c(READ_COILS), a.c(READ_HR, seq=base + len(READ_COILS) + len(WRITE_REGISTER))]
    times = [T0 + i * MS for i in range(len(frames))]
    frames.append(b.c(WRITE_REGISTER))
    times.append(T0 + FLOW_TIMEOUT_NS + 20 * 1_000_000_000)
    events: list[dict] = []
    sensor = Sensor(events.append, specs=[modbus.SPEC], capture_id="t")
    for t, f in zip(times, frames, strict=True):
        sensor.packet(t, 1, f)
    # no finish(): the sweep alone delivered READ_HR after the hole
    assert [summary(e) for e in events] == [M_COILS, M_HR, M_WRITE]


# -- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [5020, 80, 44818], ids=["5020", "http_port", "enip_port"])
def test_modbus_on_a_non_standard_port_is_found_by_signature(port: int) -> None:
    k = Conn(sport=port)
    frames = k.handshake() + [k.c(READ_HR), k.s(READ_HR_RESPONSE), k.c(WRITE_REGISTER)]
    msgs, sensor = run(frames)
    assert msgs == [M_HR, M_HR_RSP, M_WRITE]
    assert sensor.stats["flows_modbus"] == 1


def test_modbus_signature_found_from_the_server_side_first() -> None:
    k = Conn(sport=5020)
    frames = [k.s(READ_COILS_RESPONSE), k.c(READ_HR), k.s(READ_HR_RESPONSE)]
    msgs, _ = run(frames)
    # unpaired: the quantity is unknown, so every bit of the 5 bytes is reported
    assert msgs == [("<", 16, "read_coils", COILS_19_55 + [0, 0, 0]), M_HR, M_HR_RSP]


def test_other_protocol_on_a_non_standard_port_stays_silent() -> None:
    k = Conn(sport=8080)
    frames = k.handshake() + [
        k.c(b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n"),
        k.s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        k.c(b"GET /a HTTP/1.1\r\n\r\n"),
        k.c(b"GET /b HTTP/1.1\r\n\r\n"),
        k.c(READ_HR),  # too late: detection has given up on this flow
    ]
    msgs, sensor = run(frames)
    assert msgs == []
    assert sensor.stats["flows_modbus"] == 0
    assert not sensor.parse_errors


def test_garbage_on_port_502_is_counted_and_the_flow_recovers() -> None:
    k = Conn()
    frames = k.handshake() + [k.c(b"GET / HTTP/1.1\r\n\r\n"), k.c(READ_HR), k.s(READ_HR_RESPONSE)]
    msgs, sensor = run(frames)
    assert msgs == [M_HR, M_HR_RSP]
    assert sensor.parse_errors[("modbus", "not_protocol")] >= 1
    # each counted error of the flow (up to a bound) is also an event, client -> server
    notices = sensor.notices  # type: ignore[attr-defined]
    assert notices and {n["event"]["action"] for n in notices} == {"parse_error"}
    assert {n["icssa"]["reason"] for n in notices} == {"not_protocol"}
    assert notices[0]["destination"]["port"] == 502
