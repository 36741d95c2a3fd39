"""Load rule files: YAML with line numbers, the JSON schema, then the semantic checks.

Every problem becomes a ``LoadError(file, line, message)``; the line comes from the YAML node
of the offending key. A broken file is skipped and the others load.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from correlation import attack
from correlation.conditions import Cond, FieldCond, Group, RuleError
from correlation.fields import duration
from correlation.matching import index_values, parse_match
from correlation.model import (
    DEFAULT_AGGREGATE_WINDOW,
    DEFAULT_GROUP,
    FirstSeen,
    LoadError,
    Rate,
    Rule,
    Sequence,
    Step,
    Threshold,
)
from correlation.vocab import ACTIONS, CONTEXT_FIELDS, DATASETS, ENVELOPE, type_ok

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "rules" / "rule.schema.json"
DEFAULT_RULES = SCHEMA_PATH.parent
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Lines = dict[tuple[str, ...], int]


@functools.cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def read_yaml(text: str) -> tuple[Any, Lines]:
    """Parse one YAML document; also map each key path to its 1-based line.

    Raises RuleError for a duplicate key (PyYAML would silently keep the last one).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _duplicates(node)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: Lines = {(): node.start_mark.line + 1}
    _lines(node, lines)
    return data, lines


def _children(node: yaml.Node, path: tuple[str, ...], seen: set[int]) -> list[tuple[yaml.Node | None, yaml.Node, tuple[str, ...]]]:
    """(key node or None, value node, path) of a node's direct children; each node once, so an
    alias (a reused node, possibly recursive) is walked only where it is defined."""
    if id(node) in seen:
        return []
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        return [(k, v, (*path, str(k.value))) for k, v in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(None, item, (*path, str(i))) for i, item in enumerate(node.value)]
    return []


def _duplicates(root: yaml.Node) -> None:
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        keys: set[str] = set()
        for knode, vnode, sub in _children(node, path, seen):
            if knode is not None and knode.value != "<<":
                if knode.value in keys:
                    raise _DuplicateKey(sub, knode.start_mark.line + 1, f"duplicate key '{knode.value}'")
                keys.add(knode.value)
            stack.append((vnode, sub))


class _DuplicateKey(RuleError):
    def __init__(self, path: tuple[str, ...], line: int, message: str) -> None:
        super().__init__(path, message)
        self.line = line


def _lines(root: yaml.Node, out: Lines) -> None:
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for knode, vnode, sub in _children(node, path, seen):
            out.setdefault(sub, (knode or vnode).start_mark.line + 1)
            stack.append((vnode, sub))


def line_of(lines: Lines, path: Iterable[Any]) -> int:
    """The line of the deepest key of ``path`` that the file has (1 for the document)."""
    parts = tuple(str(p) for p in path)
    while parts and parts not in lines:
        parts = parts[:-1]
    return lines.get(parts, 1)


def load_file(path: Path, ruleset: str = "icssa") -> tuple[Rule | None, list[LoadError]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [LoadError(name, 0, f"cannot read: {exc}")]
    try:
        data, lines = read_yaml(text)
    except _DuplicateKey as exc:
        return None, [LoadError(name, exc.line, exc.message)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return None, [LoadError(name, line, f"YAML: {getattr(exc, 'problem', None) or exc}")]
    if not isinstance(data, dict):
        return None, [LoadError(name, 1, "a rule file holds one mapping (id, title, match, ...)")]
    try:
        errors = sorted(validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            return None, [LoadError(name, line_of(lines, _error_path(e)), _schema_message(e)) for e in errors[:10]]
        rule = build(data, path, ruleset)
    except RuleError as exc:
        return None, [LoadError(name, line_of(lines, exc.path), exc.message)]
    except RecursionError:
        return None, [LoadError(name, 1, "nested too deeply (a YAML alias that contains itself?)")]
    rule.line = lines.get(("id",), 1)
    return rule, []


def _error_path(err: jsonschema.ValidationError) -> list[Any]:
    """Where a schema error is: for an unexpected key, the key itself rather than its parent."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
        patterns = err.schema.get("patternProperties", {}) if isinstance(err.schema, dict) else {}
        extra = [k for k in err.instance if k not in known and not any(re.search(p, str(k)) for p in patterns)]
        if extra:
            path.append(extra[0])
    return path


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path) or "rule"
    return f"{where}: {err.message}"


def load_directory(directory: Path) -> tuple[list[Rule], list[LoadError]]:
    """All ``*.yaml`` / ``*.yml`` rules under ``directory`` (sorted, so the order is stable)."""
    rules: list[Rule] = []
    errors: list[LoadError] = []
    if not directory.is_dir():
        return rules, [LoadError(str(directory), 0, "not a directory")]
    seen: dict[str, str] = {}
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        rule, errs = load_file(path, ruleset=directory.name)
        errors.extend(errs)
        if rule is None:
            continue
        if rule.id in seen:
            errors.append(LoadError(str(path), rule.line, f"id '{rule.id}' is already used by {seen[rule.id]}"))
            continue
        seen[rule.id] = str(path)
        rules.append(rule)
    return rules, errors


# -- semantic checks ---------------------------------------------------------------------------


def build(data: dict[str, Any], path: Path, ruleset: str = "icssa") -> Rule:
    """A Rule from schema-valid data; RuleError names the offending key."""
    rid = data["id"]
    if path.stem != rid:
        raise RuleError(("id",), f"the file is named {path.name} but the rule id is '{rid}' (name it {rid}.yaml)")
    techniques, tactics = _tags(data["tags"])
    match = parse_match(data.get("match"), ("match",))
    kinds = [k for k in ("threshold", "sequence", "first_seen", "rate") if k in data]
    if len(kinds) > 1:
        raise RuleError((kinds[1],), f"a rule has at most one of threshold/sequence/first_seen/rate, got {kinds}")
    if "match" not in data and kinds != ["sequence"]:
        raise RuleError((), "'match' is required (only a sequence may leave it to its steps)")
    rule = Rule(
        id=rid,
        title=data["title"],
        status=data["status"],
        version=data.get("version", 1),
        description=data["description"].strip(),
        severity=data["severity"],
        tags=tuple(data["tags"]),
        references=tuple(data["references"]),
        falsepositives=tuple(data["falsepositives"]),
        techniques=techniques,
        tactics=tactics,
        match=match,
        tests=data["tests"],
        ruleset=ruleset,
        file=str(path),
    )
    group: tuple[str, ...] = DEFAULT_GROUP
    if "threshold" in data:
        t = data["threshold"]
        group = tuple(t.get("group_by", DEFAULT_GROUP))
        if "distinct" in t:
            _field_ok(t["distinct"], ("threshold", "distinct"))
        rule.threshold = Threshold(t["count"], _window(t["window"], ("threshold", "window")), group, t.get("distinct"))
    elif "sequence" in data:
        s = data["sequence"]
        group = tuple(s.get("group_by", DEFAULT_GROUP))
        steps = []
        names: set[str] = set()
        for i, st in enumerate(s["steps"]):
            if st["name"] in names:
                raise RuleError(("sequence", "steps", i, "name"), f"step name '{st['name']}' is used twice")
            names.add(st["name"])
            cond = parse_match(st["match"], ("sequence", "steps", i, "match"))
            both = cond if "match" not in data else Group("all", [match, cond])
            _check_fields(both, ("sequence", "steps", i, "match"))
            steps.append(Step(st["name"], both))
        rule.sequence = Sequence(_window(s["window"], ("sequence", "window")), group, tuple(steps))
    elif "first_seen" in data:
        f = data["first_seen"]
        known = tuple(f.get("known", ()))
        if not set(known) < set(f["key"]):
            raise RuleError(("first_seen", "known"), "'known' names a strict subset of the fields in 'key'")
        group = tuple(f["key"])
        rule.first_seen = FirstSeen(tuple(f["key"]), known)
    elif "rate" in data:
        r = data["rate"]
        group = tuple(r.get("group_by", DEFAULT_GROUP))
        rule.rate = Rate(_window(r["window"], ("rate", "window")), group, float(r["factor"]), r["min_count"])
    if rule.sequence is None:
        _check_fields(match, ("match",))
    agg = data.get("aggregate", {})
    rule.aggregate_window = _window(agg["window"], ("aggregate", "window"), zero=True) if "window" in agg else DEFAULT_AGGREGATE_WINDOW
    rule.aggregate_group_by = tuple(agg.get("group_by", group))
    sup = data.get("suppress")
    if sup is not None:
        rule.suppress_window = _window(sup["window"], ("suppress", "window"))
        rule.suppress_group_by = tuple(sup.get("group_by", rule.aggregate_group_by))
    for where, fields in (
        (rule.kind, group),
        ("aggregate", rule.aggregate_group_by),
        ("suppress", rule.suppress_group_by),
    ):
        for i, fname in enumerate(fields):
            _field_ok(fname, (where, "group_by", i))
    return rule


def _window(value: Any, path: tuple[Any, ...], zero: bool = False) -> float:
    seconds = duration(value)
    if seconds is None or (seconds <= 0 and not zero):
        raise RuleError(path, f"{value!r} is not a positive duration (30, '30s', '5m', '1h', '1d')")
    return seconds


def _tags(tags: list[str]) -> tuple[tuple[attack.Technique, ...], tuple[attack.Tactic, ...]]:
    techniques: list[attack.Technique] = []
    named_tactics: list[str] = []
    for i, tag in enumerate(tags):
        if not tag.startswith("attack."):
            continue
        value = tag[len("attack."):]
        if value[:1] == "t" and value[1:].isdigit():
            tech = attack.TECHNIQUES.get(value.upper())
            if tech is None:
                raise RuleError(("tags", i), f"{tag}: not a technique of ATT&CK for ICS {attack.VERSION}")
            techniques.append(tech)
        elif value in attack.TACTICS:
            named_tactics.append(value)
        else:
            raise RuleError(("tags", i), f"{tag}: not a tactic of ATT&CK for ICS (use e.g. attack.discovery)")
    if not techniques and not {"icssa.insecure_practice", "icssa.anomaly"} & set(tags):
        raise RuleError(("tags",), "tag at least one technique (attack.t0855) or icssa.insecure_practice / icssa.anomaly")
    allowed = {t for tech in techniques for t in tech.tactics}
    for name in named_tactics:
        if techniques and name not in allowed:
            raise RuleError(("tags", tags.index(f"attack.{name}")), f"attack.{name} is not a tactic of the tagged techniques ({sorted(allowed)})")
    # tactics: those named, else every tactic of the techniques, in matrix order
    chosen = named_tactics or sorted(allowed, key=list(attack.TACTICS).index)
    return tuple(techniques), tuple(attack.TACTICS[n] for n in chosen)


def _field_ok(field: str, path: tuple[Any, ...]) -> None:
    top = field.split(".", 1)[0]
    if field.startswith("context."):
        if field not in CONTEXT_FIELDS:
            raise RuleError(path, f"{field}: the engine computes only {sorted(CONTEXT_FIELDS)}")
    elif top not in ENVELOPE and top not in DATASETS:
        raise RuleError(path, f"{field}: '{top}' is neither an envelope object ({sorted(ENVELOPE)}) nor a dataset ({sorted(DATASETS)})")


def _check_fields(cond: Cond, path: tuple[Any, ...]) -> None:
    """Datasets/actions exist; protocol fields belong to the rule's datasets; literals fit the field."""
    datasets, rest = index_values(cond, "event.dataset")
    for ds in datasets or ():
        if ds not in DATASETS:
            raise RuleError((*path, "event.dataset"), f"unknown dataset '{ds}' (known: {sorted(DATASETS)})")
    actions, _ = index_values(rest, "event.action")
    for act in actions or ():
        for ds in datasets or ():
            closed = ACTIONS.get(ds)
            if closed is not None and act not in closed:
                raise RuleError((*path, "event.action"), f"'{act}' is not an action of {ds}")
    for node in _field_nodes(cond):
        where = (*path, node.path)
        _field_ok(node.path, where)
        top = node.path.split(".", 1)[0]
        if datasets is not None and top in DATASETS and top not in datasets:
            raise RuleError(where, f"{node.path} is never present on events of dataset {sorted(datasets)}")
        for op in node.ops:
            for value in _literals(op):
                if not type_ok(node.path, value):
                    raise RuleError(where, f"{node.path}: {value!r} can never equal a value of this field (wrong type)")


def _field_nodes(cond: Cond) -> list[FieldCond]:
    if isinstance(cond, FieldCond):
        return [cond]
    assert isinstance(cond, Group)
    return [n for c in cond.children for n in _field_nodes(c)]


def _literals(op: Any) -> list[Any]:
    kind = getattr(op, "kind", "")
    if kind == "eq":
        return [op.value]
    if kind == "in":
        return list(op.values)
    return []
