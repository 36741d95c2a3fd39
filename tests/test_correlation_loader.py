"""Loading rules: a broken rule is reported with its file and line, and the others still load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_correlation import HEADER, TESTS, write_rule

from correlation import Engine, load_directory

RULES = Path(__file__).resolve().parents[1] / "rules"

GOOD = """\
match:
  # Modbus
  event.dataset: modbus
  # FC 5
  event.action: write_single_coil
"""

# (name, rule text after the header, line of the problem in the whole file, words of the message)
# The header is 9 lines (id .. falsepositives), so the body starts at line 10.
BROKEN = [
    ("yaml_syntax", "match:\n  event.dataset: [modbus\n", 12, "YAML"),
    ("unknown_top_level_key", "treshold: {count: 3, window: 10s}\n" + GOOD, 10, "treshold"),
    ("bad_severity_type", None, 5, "severity"),
    ("unknown_technique", None, 7, "t9999"),
    ("bad_regex", "match:\n  event.dataset: opcua\n  opcua.user_name: {regex: \"(unclosed\"}\n", 12, "regex"),
    ("wrong_literal_type", "match:\n  event.dataset: modbus\n  modbus.function_code: \"5\"\n", 12, "wrong type"),
    ("duplicate_key", "match:\n  event.dataset: modbus\n  modbus.unit_id: 1\n  modbus.unit_id: 2\n", 13, "duplicate key"),
    ("unknown_modbus_action", "match:\n  event.dataset: modbus\n  event.action: write_coils\n", 12, "not an action of modbus"),
    ("field_of_another_dataset", "match:\n  event.dataset: modbus\n  s7comm.szl_id: 17\n", 12, "never present"),
    ("unknown_dataset", "match:\n  event.dataset: modbuss\n", 11, "unknown dataset"),
    ("empty_range", "match:\n  event.dataset: modbus\n  modbus.unit_id: {gte: 10, lte: 2}\n", 12, "empty range"),
    ("bad_cidr", "match:\n  event.dataset: modbus\n  source.ip: {cidr: 10.0.0.0/33}\n", 12, "network"),
    ("bad_window", GOOD + "threshold: {count: 3, window: soon}\n", 15, "window"),
    ("two_stateful_kinds", GOOD + "threshold: {count: 3, window: 10s}\nrate: {window: 10s, factor: 2, min_count: 5}\n", 16, "at most one"),
    ("known_not_in_key", GOOD + "first_seen: {key: [source.ip], known: [destination.ip]}\n", 15, "subset"),
    ("sequence_one_step", "sequence:\n  window: 1m\n  steps:\n    - {name: a, match: {event.dataset: modbus}}\n", 12, "steps"),
    ("tactic_not_of_technique", None, 7, "not a tactic of the tagged techniques"),
]


def _text(name: str, body: str | None) -> str:
    header = HEADER.format(id=name.replace("_", "-"), severity=50)
    if name == "bad_severity_type":
        header = header.replace("severity: 50", "severity: high")
        body = GOOD
    elif name == "unknown_technique":
        header = header.replace("tags: [attack.t0855]", "tags: [attack.t9999]")
        body = GOOD
    elif name == "tactic_not_of_technique":
        header = header.replace("tags: [attack.t0855]", "tags: [attack.t0855, attack.discovery]")
        body = GOOD
    assert body is not None
    return header + body + TESTS


@pytest.mark.parametrize(("name", "body", "line", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rule_is_reported_with_file_and_line_and_the_rest_load(
    tmp_path: Path, name: str, body: str | None, line: int, words: str
) -> None:
    write_rule(tmp_path, "good-one", GOOD)
    write_rule(tmp_path, "good-two", GOOD)
    broken = tmp_path / f"{name.replace('_', '-')}.yaml"
    broken.write_text(_text(name, body))
    engine = Engine.from_directory(tmp_path)
    assert sorted(r.id for r in engine.rules) == ["good-one", "good-two"]
    (err,) = engine.load_errors
    assert err.file == str(broken)
    assert err.line == line, err
    assert words.lower() in err.message.lower(), err


def test_file_name_must_match_the_id(tmp_path: Path) -> None:
    (tmp_path / "other-name.yaml").write_text(HEADER.format(id="the-id", severity=50) + GOOD + TESTS)
    rules, errors = load_directory(tmp_path)
    assert rules == []
    assert errors[0].line == 1 and "the-id.yaml" in errors[0].message


def test_duplicate_ids_keep_the_first_file(tmp_path: Path) -> None:
    write_rule(tmp_path, "same", GOOD)
    sub = tmp_path / "more"
    sub.mkdir()
    write_rule(sub, "same", GOOD)
    rules, errors = load_directory(tmp_path)
    assert [r.file for r in rules] == [str(tmp_path / "more" / "same.yaml")]
    assert errors[0].file == str(tmp_path / "same.yaml") and "already used" in errors[0].message


@pytest.mark.parametrize("content", ["", "just a string\n", "- a\n- list\n", "\x00\x01 binary"])
def test_files_that_are_not_rules_are_errors_not_crashes(tmp_path: Path, content: str) -> None:
    (tmp_path / "junk.yaml").write_text(content)
    rules, errors = load_directory(tmp_path)
    assert rules == [] and len(errors) >= 1 and errors[0].file.endswith("junk.yaml")


def test_missing_directory_is_one_error(tmp_path: Path) -> None:
    engine = Engine.from_directory(tmp_path / "nope")
    assert engine.rules == [] and len(engine.load_errors) == 1


def test_default_rules_with_one_broken_copy_still_load_the_others(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    target = copy / "s7-plc-stop.yaml"
    lines = target.read_text().splitlines()
    i = next(n for n, text in enumerate(lines) if text.strip().startswith("event.action: plc_stop"))
    lines[i] = lines[i].replace("plc_stop", "[plc_stop")  # unclosed flow sequence
    target.write_text("\n".join(lines) + "\n")
    engine = Engine.from_directory(copy)
    total = len(list(RULES.glob("*.yaml")))
    assert len(engine.rules) == total - 1
    (err,) = engine.load_errors
    assert err.file == str(target) and i + 1 <= err.line <= i + 3


def test_recursive_yaml_alias_is_an_error_not_a_crash(tmp_path: Path) -> None:
    body = "match: &m\n  any: [*m]\n"
    (tmp_path / "rec.yaml").write_text(HEADER.format(id="rec", severity=50) + body + TESTS)
    write_rule(tmp_path, "good", GOOD)
    rules, errors = load_directory(tmp_path)
    assert [r.id for r in rules] == ["good"]
    assert errors[0].file.endswith("rec.yaml") and "too deeply" in errors[0].message


def test_aliases_are_walked_once_where_they_are_defined(tmp_path: Path) -> None:
    # 10**7 paths if every alias were expanded; each node is visited once instead
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    rules, errors = load_directory(tmp_path)
    assert rules == [] and errors and errors[0].file.endswith("bomb.yaml")
