"""The command line as a user runs it: `python -m icssa.cli ...` in a subprocess.

Bad input gets exactly one line on stderr and exit code 2, never a traceback; a capture cut off
mid-record still writes the events before the cut; replays are deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

ROOT = Path(__file__).resolve().parents[1]
CLIENT, SERVER = "10.1.0.5", "10.1.0.9"


def icssa(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "icssa.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def _read_hr(tid: int, address: int) -> bytes:
    return bytes([
        tid >> 8, tid & 0xFF,  # transaction id
        0, 0,  # protocol id 0
        0, 6,  # length 6
        1,  # unit id 1
        3,  # function 3: read holding registers
        address >> 8, address & 0xFF,  # address
        0, 2,  # quantity 2
    ])


def _read_hr_response(tid: int, a: int, b: int) -> bytes:
    return bytes([
        tid >> 8, tid & 0xFF,  # transaction id
        0, 0,  # protocol id 0
        0, 7,  # length 7
        1,  # unit id 1
        3,  # function 3
        4,  # byte count 4
        a >> 8, a & 0xFF,  # first register
        b >> 8, b & 0xFF,  # second register
    ])


def _session() -> list:
    """A Modbus/TCP poll: handshake, then 5 request/response pairs."""
    c_eth, s_eth = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:09"), Ether(src="02:00:00:00:00:09", dst="02:00:00:00:00:05")
    c_ip, s_ip = IP(src=CLIENT, dst=SERVER), IP(src=SERVER, dst=CLIENT)
    cseq, sseq = 100, 7000
    pkts = [
        c_eth / c_ip / TCP(sport=50000, dport=502, flags="S", seq=cseq - 1),
        s_eth / s_ip / TCP(sport=502, dport=50000, flags="SA", seq=sseq - 1, ack=cseq),
        c_eth / c_ip / TCP(sport=50000, dport=502, flags="A", seq=cseq, ack=sseq),
    ]
    for tid in range(1, 6):
        req, rsp = _read_hr(tid, 10 * tid), _read_hr_response(tid, tid, 100 + tid)
        pkts.append(c_eth / c_ip / TCP(sport=50000, dport=502, flags="PA", seq=cseq, ack=sseq) / Raw(req))
        cseq += len(req)
        pkts.append(s_eth / s_ip / TCP(sport=502, dport=50000, flags="PA", seq=sseq, ack=cseq) / Raw(rsp))
        sseq += len(rsp)
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i / 100
    return pkts


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "poll.pcap"
    wrpcap(str(path), _session())
    return path


def _events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# -- help -------------------------------------------------------------------------------------


def test_help() -> None:
    res = icssa("--help")
    assert res.returncode == 0, res.stderr
    assert "replay" in res.stdout
    assert res.stderr == ""


def test_replay_help() -> None:
    res = icssa("replay", "--help")
    assert res.returncode == 0, res.stderr
    assert "--out" in res.stdout and "PCAP" in res.stdout


# -- bad input --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    line = _one_error_line(icssa("replay", tmp_path / "nope.pcap", "--out", tmp_path / "out"))
    assert "nope.pcap" in line


def test_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_text("these are not packets\n")
    line = _one_error_line(icssa("replay", bad, "--out", tmp_path / "out", "--quiet"))
    assert "notes.pcap" in line and "not a pcap" in line


def test_empty_file(tmp_path: Path) -> None:
    bad = tmp_path / "empty.pcap"
    bad.write_bytes(b"")
    line = _one_error_line(icssa("replay", bad, "--out", tmp_path / "out", "--quiet"))
    assert "empty.pcap" in line


def test_unknown_option(capture: Path, tmp_path: Path) -> None:
    line = _one_error_line(icssa("replay", capture, "--out", tmp_path / "out", "--frobnicate"))
    assert "--frobnicate" in line


def test_unknown_command() -> None:
    line = _one_error_line(icssa("frobnicate"))
    assert "frobnicate" in line


def test_no_arguments() -> None:
    _one_error_line(icssa())


def test_replay_without_arguments() -> None:
    line = _one_error_line(icssa("replay"))
    assert "PCAP" in line


def test_replay_without_out(capture: Path) -> None:
    line = _one_error_line(icssa("replay", capture))
    assert "--out" in line


def test_out_is_a_file(capture: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("")
    line = _one_error_line(icssa("replay", capture, "--out", blocker))
    assert "--out" in line


def test_folder_without_captures(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("nothing here")
    line = _one_error_line(icssa("replay", tmp_path / "in", "--out", tmp_path / "out"))
    assert "no captures" in line


# -- replay -----------------------------------------------------------------------------------


def test_replay_writes_the_four_outputs(capture: Path, tmp_path: Path) -> None:
    res = icssa("replay", capture, "--out", tmp_path / "out", "--no-progress")
    assert res.returncode == 0, res.stderr
    events = _events(tmp_path / "out")
    assert [(e["event"]["action"], e["modbus"]["transaction_id"], e["modbus"]["is_response"]) for e in events] == [
        ("read_holding_registers", tid, rsp) for tid in range(1, 6) for rsp in (False, True)
    ]
    assert [e["modbus"]["values"] for e in events if e["modbus"]["is_response"]] == [[t, 100 + t] for t in range(1, 6)]
    assert isinstance(json.loads((tmp_path / "out" / "assets.json").read_text())["assets"], list)
    assert (tmp_path / "out" / "alerts.jsonl").exists()
    assert "nodes" in json.loads((tmp_path / "out" / "graph.json").read_text())
    assert "10 events" in res.stdout


def _record_offsets(path: Path) -> list[int]:
    """Byte offset of every pcap record (little-endian microsecond pcap, as scapy writes it)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    offsets, pos = [], 24
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + int.from_bytes(data[pos + 8 : pos + 12], "little")  # header + caplen
    return offsets


@pytest.mark.parametrize("inside", [5, 16, 30], ids=["record_header", "frame_start", "frame_middle"])
def test_truncated_capture_keeps_the_events_before_the_cut(capture: Path, tmp_path: Path, inside: int) -> None:
    offsets = _record_offsets(capture)
    data = capture.read_bytes()
    k = 8  # the cut falls in record 8 (response 3): handshake, 3 requests and 2 responses are whole
    whole = tmp_path / "first8.pcap"
    whole.write_bytes(data[: offsets[k]])
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: offsets[k] + inside])

    line = _one_error_line(icssa("replay", cut, "--out", tmp_path / "cut_out", "--quiet"))
    assert "cut.pcap" in line and "cut off" in line
    res = icssa("replay", whole, "--out", tmp_path / "whole_out", "--quiet")
    assert res.returncode == 0, res.stderr

    def strip(events: list[dict]) -> list[dict]:
        for e in events:
            e["event"].pop("id")  # ids name the capture file, which differs
        return events

    before = strip(_events(tmp_path / "cut_out"))
    assert len(before) == 5  # requests 1..3, responses 1..2
    assert before == strip(_events(tmp_path / "whole_out"))


def test_replay_is_deterministic(capture: Path, tmp_path: Path) -> None:
    a = icssa("replay", capture, "--out", tmp_path / "a", "--quiet")
    b = icssa("replay", capture, "--out", tmp_path / "b", "--quiet")
    assert a.returncode == b.returncode == 0
    first = (tmp_path / "a" / "events.jsonl").read_bytes()
    assert first and first == (tmp_path / "b" / "events.jsonl").read_bytes()
    ids = [e["event"]["id"] for e in _events(tmp_path / "a")]
    assert len(set(ids)) == len(ids)


def test_same_content_under_another_name_gives_the_same_ids(capture: Path, tmp_path: Path) -> None:
    copy = tmp_path / "renamed.pcap"
    copy.write_bytes(capture.read_bytes())
    icssa("replay", capture, "--out", tmp_path / "a", "--quiet")
    icssa("replay", copy, "--out", tmp_path / "b", "--quiet")
    assert (tmp_path / "a" / "events.jsonl").read_bytes() == (tmp_path / "b" / "events.jsonl").read_bytes()
