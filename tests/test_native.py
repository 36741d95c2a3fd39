"""The native core against the Python path: the same captures must give the same bytes.

The Python pipeline is the reference; ``icssa_native`` (``native/``, built by
``scripts/build-native.sh``) is a second implementation. Every test runs both on the same input
and compares the four files they write and the counters they report: real captures, every
sample capture alone, the benchmark's mixed capture, hypothesis-mutated captures (flipped, cut
and inserted bytes) so that hostile input takes the same paths in both; with the analytics
(asset map, correlation) and without them (``--events-only``), with a site file, with other
advisories and with a rules folder holding a broken rule.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import icssa_native  # the suite needs the native core: scripts/install-deps.sh builds it
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetmap import AdvisoryStore, AssetMap, Site
from assetmap.native import config_of
from icssa.cli import main
from icssa.native import EngineUnavailable
from icssa.pipeline import Analytics, Summary, replay

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "pcaps"
SAMPLES = sorted((ROOT / "pcaps").glob("*.pcap*"))
SHARED_CAPTURES = sorted(SHARED.rglob("*.pcap*"))
OUTPUTS = ("events.jsonl", "alerts.jsonl", "assets.json", "graph.json")
EVENTS_ONLY = Analytics(enabled=False)
FULL = Analytics()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 packets of the benchmark's mixed Modbus/S7/OPC UA capture (many interleaved flows)."""
    pcap = tmp_path_factory.mktemp("mixed") / "mixed-20000.pcap"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_big_pcap.py"), "--packets", "20000", "--out", str(pcap)],
        check=True, capture_output=True, timeout=600,
    )
    return pcap


def both(paths: list[Path], tmp: Path, analytics: Analytics = EVENTS_ONLY) -> tuple[Summary, Summary]:
    """Replay with each engine into ``tmp/python`` and ``tmp/native``."""
    py = replay(paths, tmp / "python", analytics=analytics, engine="python")
    nat = replay(paths, tmp / "native", analytics=analytics, engine="native")
    return py, nat


def assert_same(py: Summary, nat: Summary, tmp: Path) -> None:
    for name in OUTPUTS:
        assert (tmp / "native" / name).read_bytes() == (tmp / "python" / name).read_bytes(), name
    for counter in ("files", "packets", "bytes", "flows", "events", "alerts", "assets", "errors", "rule_errors"):
        assert getattr(nat, counter) == getattr(py, counter), counter
    assert nat.messages == py.messages
    assert nat.actions == py.actions
    assert nat.parse_errors == py.parse_errors
    assert +nat.sensor == +py.sensor  # counters that stayed 0 may be absent on one side


@pytest.mark.parametrize("capture", SAMPLES + SHARED_CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("analytics", [FULL, EVENTS_ONLY], ids=["full", "events-only"])
def test_each_capture_gives_the_same_outputs(capture: Path, analytics: Analytics, tmp_path: Path) -> None:
    py, nat = both([capture], tmp_path, analytics)
    assert py.events > 0  # a capture without events would prove nothing
    assert_same(py, nat, tmp_path)


@pytest.mark.parametrize("analytics", [FULL, EVENTS_ONLY], ids=["full", "events-only"])
def test_folders_in_one_run_give_the_same_outputs(analytics: Analytics, tmp_path: Path) -> None:
    """Several captures in one run: ids, flows, assets, alerts and counters accumulate alike."""
    py, nat = both([ROOT / "pcaps", *SHARED_CAPTURES], tmp_path, analytics)
    assert py.files == len(SAMPLES) + len(SHARED_CAPTURES)
    assert analytics is EVENTS_ONLY or (py.alerts > 0 and py.assets > 0)
    assert_same(py, nat, tmp_path)


def test_a_site_file_and_other_advisories_give_the_same_outputs(tmp_path: Path) -> None:
    """Zones (exposure findings, cross-zone rules) and an advisory that matches the sample PLC."""
    advisories = tmp_path / "advisories.yaml"
    advisories.write_text(
        "advisories:\n"
        "  - id: LOCAL-1\n"
        "    title: any Siemens S7 CPU\n"
        "    affected:\n"
        "      - vendor: Siemens\n"
        "        products: ['.*']\n"
    )
    analytics = Analytics(site=Site.load(ROOT / "pcaps" / "site.yaml"), advisories=AdvisoryStore.load([advisories]))
    py, nat = both([ROOT / "pcaps"], tmp_path, analytics)
    assets = (tmp_path / "python" / "assets.json").read_text()
    assert '"zone": "enterprise"' in assets and "LOCAL-1" in assets  # both took effect
    assert_same(py, nat, tmp_path)


def test_a_rules_folder_with_a_broken_rule_gives_the_same_outputs(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("modbus-coil-write.yaml", "modbus-function-code-scan.yaml", "s7-plc-stop.yaml"):
        (rules / name).write_bytes((ROOT / "rules" / name).read_bytes())
    (rules / "broken.yaml").write_text("id: broken\nmatch: [not, a, mapping]\n")
    analytics = Analytics(rules=rules)
    py, nat = both([ROOT / "pcaps"], tmp_path / "out", analytics)
    assert py.rule_errors and py.alerts > 0
    assert_same(py, nat, tmp_path / "out")


def test_the_benchmark_capture_gives_the_same_outputs(mixed: Path, tmp_path: Path) -> None:
    py, nat = both([mixed], tmp_path, FULL)
    assert py.packets == 20_000 and {"modbus", "s7comm", "opcua"} <= set(py.messages)
    assert py.alerts > 0
    assert_same(py, nat, tmp_path)


def mutate(data: bytes, seed: int, edits: int) -> bytes:
    """``data`` with ``edits`` random byte flips, insertions, deletions or a cut."""
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(edits):
        kind = rng.random()
        at = rng.randrange(24, len(buf)) if len(buf) > 24 else len(buf)
        if kind < 0.6 and at < len(buf):
            buf[at] = rng.randrange(256)
        elif kind < 0.8:
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind < 0.95:
            del buf[at : at + rng.randint(1, 8)]
        else:
            del buf[at:]
    return bytes(buf)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    capture=st.sampled_from(SAMPLES + SHARED_CAPTURES[:6]),
    seed=st.integers(0, 2**32 - 1),
    edits=st.integers(1, 40),
)
def test_mutated_captures_give_the_same_events(capture: Path, seed: int, edits: int, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("mutated")
    bad = tmp / capture.name
    bad.write_bytes(mutate(capture.read_bytes(), seed, edits))
    py, nat = both([bad], tmp, FULL)
    assert_same(py, nat, tmp)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"\x4d\x3c\xb2\xa1"]), tail=st.binary(max_size=300))
def test_garbage_files_give_the_same_error(head: bytes, tail: bytes, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("garbage")
    bad = tmp / "garbage.pcap"
    bad.write_bytes(head + tail)
    py, nat = both([bad], tmp)
    assert_same(py, nat, tmp)


def test_progress_reports_each_file_and_an_exception_stops_the_run(mixed: Path, tmp_path: Path) -> None:
    big = mixed
    calls: list[tuple[int, int]] = []
    icssa_native.replay([str(big), str(big)], str(tmp_path), "replay", "default", lambda i, done: calls.append((i, done)))
    assert {i for i, _ in calls} == {0, 1}
    assert all(0 < done <= big.stat().st_size for _, done in calls)

    class Stop(Exception):
        pass

    def stop(i: int, done: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        icssa_native.replay([str(big)], str(tmp_path), "replay", "default", stop)


def test_an_unwritable_folder_is_an_os_error(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "events.jsonl").mkdir(parents=True)  # a folder where the file should go
    with pytest.raises(OSError, match="events.jsonl"):
        icssa_native.replay([str(SAMPLES[0])], str(blocked), "replay", "default")


def test_documents_the_native_core_cannot_run_are_value_errors(tmp_path: Path) -> None:
    config = orjson.dumps(config_of(AssetMap())).decode()
    run = [str(SAMPLES[0])], str(tmp_path), "replay", "default", None
    with pytest.raises(ValueError, match="rules"):
        icssa_native.replay(*run, (config, "[1, 2"))
    with pytest.raises(ValueError, match="fingerprints"):
        icssa_native.replay(*run, ('{"max_assets": 10}', "{}"))


def test_engine_choice_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(EngineUnavailable):
        replay(SAMPLES[:1], tmp_path, analytics=EVENTS_ONLY, engine="fast")
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(SAMPLES[0]), "--out", str(tmp_path), "--engine", "fast", "--quiet"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--engine fast" in lines[0]


def test_without_the_native_core_auto_runs_python_and_native_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "icssa_native", None)  # import fails: not installed
    summary = replay(SAMPLES[:1], tmp_path / "auto", analytics=FULL)
    assert summary.events > 0 and (tmp_path / "auto" / "events.jsonl").stat().st_size > 0
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(SAMPLES[0]), "--out", str(tmp_path / "native"), "--engine", "native", "--quiet"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "not installed" in lines[0]


def test_a_rule_the_native_core_cannot_run_falls_back_to_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ASCII-flag regex (``(?a)``) Python runs and the native regex engine refuses."""
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = (ROOT / "rules" / "modbus-coil-write.yaml").read_text()
    assert "match:\n" in rule
    (rules / "modbus-coil-write.yaml").write_text(rule.replace("match:\n", "match:\n  observer.name: {regex: '(?a)\\w+'}\n", 1))
    analytics = Analytics(rules=rules)
    auto = replay([ROOT / "pcaps"], tmp_path / "auto", analytics=analytics)
    py = replay([ROOT / "pcaps"], tmp_path / "python", analytics=Analytics(rules=rules), engine="python")
    assert auto.alerts == py.alerts > 0 and not py.rule_errors
    assert (tmp_path / "auto" / "alerts.jsonl").read_bytes() == (tmp_path / "python" / "alerts.jsonl").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(ROOT / "pcaps"), "--out", str(tmp_path / "native"), "--rules", str(rules),
              "--engine", "native", "--quiet"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "(?a)" in lines[0]
    assert not (tmp_path / "native").exists()  # refused before anything was written
