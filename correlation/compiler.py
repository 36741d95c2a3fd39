"""Compile the conditions of one (dataset, action) bucket into a single Python function.

The engine keeps one ``Bucket`` per distinct set of candidate matchers. Its generated ``test``
function returns a bit mask of the condition groups that hold (``0`` in the common case);
``numbers(mask)`` turns it into matcher numbers, and the engine keeps the dispatch code of
each mask it meets in ``plans``. The function:

- folds matchers with identical conditions into one test (one bit);
- nests tests that start with the same condition: ``direction_to_server: true`` heads most
  network rules, and is tested once, not once per rule;
- reads each field at most once per event: the field a test reads first is read by a plain
  statement just before it, any other field on first use, so a rule that fails early does not
  pay for the fields of the rules after it; each top-level object (``network``, the dataset's
  object, ...) is read once as well;
- evaluates a sub-condition shared by several tests once;
- answers ``context.*`` fields from the zone cache inline, looking each end up at most once.

A test is evaluated exactly when the rule's own short-circuit evaluation would reach it, so
fields (and zones) are read for the same events as an interpreter would read them. Values the
inline tests cannot take (an unhashable value against a set), and events without one of the
envelope fields every event has (``ALWAYS_FIELDS``, read by subscript), fall back to the
interpreter in ``Cond.test``, which gives the same answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from correlation.codegen import make
from correlation.conditions import Cond, FieldCond, Group
from correlation.context import UNKNOWN, Zone, ZoneCache
from correlation.fields import MISSING, Getter, as_object
from correlation.matching import conjuncts

_UNSET = object()
#: top-level objects and fields every event has (DESIGN.md, "Always"): read by subscript, and
#: an event without one is left to the interpreter (``slow``), which reads it as missing
ALWAYS_OBJECTS = frozenset({"source", "destination", "network"})
ALWAYS_FIELDS = frozenset({"source.ip", "source.port", "destination.ip", "destination.port"})


class Bucket:
    """The compiled test of the matchers of one (dataset, action) bucket.

    ``test(e)`` is the bit mask of the condition groups that hold (bit i: ``groups[i]``, the
    matcher numbers sharing one condition); calling the bucket gives those numbers in order.
    ``plans`` belongs to the engine: the dispatch of each mask seen (bounded by the engine).
    """

    __slots__ = ("test", "groups", "plans", "source")

    def __init__(self, test: Callable[[Mapping[str, Any]], int], groups: tuple[tuple[int, ...], ...], source: str) -> None:
        self.test = test
        self.groups = groups
        self.plans: dict[int, Any] = {}
        self.source = source

    def numbers(self, mask: int) -> tuple[int, ...]:
        """The matcher numbers of the groups set in ``mask``, in group order."""
        out: tuple[int, ...] = ()
        for i, numbers in enumerate(self.groups):
            if mask >> i & 1:
                out += numbers
        return out

    def __call__(self, e: Mapping[str, Any]) -> tuple[int, ...]:
        return self.numbers(self.test(e))


def _cross(a: Zone, b: Zone) -> Any:
    """``context.zone_crossing``: both zones known and different."""
    return MISSING if a[0] is None or b[0] is None else a[0] != b[0]


def _gap(a: Zone, b: Zone) -> Any:
    """``context.level_gap``: the absolute Purdue level difference of both ends."""
    return MISSING if a[1] is None or b[1] is None else abs(a[1] - b[1])


def _first_field(cond: Cond) -> str | None:
    """The field any evaluation of ``cond`` reads first."""
    while isinstance(cond, Group):
        if not cond.children:
            return None
        cond = cond.children[0]
    assert isinstance(cond, FieldCond)
    return cond.path


class _Node:
    """A test in the tree of tests: the bits set when it holds (after its ancestors), then
    the tests that follow it."""

    __slots__ = ("cond", "bits", "children")

    def __init__(self, cond: Cond | None) -> None:
        self.cond = cond
        self.bits = 0
        self.children: dict[tuple[Any, ...], _Node] = {}

    def add(self, terms: list[Cond], bit: int) -> None:
        node = self
        for term in terms:
            key = term.key()
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(term)
            node = child
        node.bits |= bit


class _Gen:
    """Source of one bucket's test. Variables (``o``: top-level objects, ``z``: zone ends,
    ``v``: fields, ``c``: shared sub-conditions) are loaded by a statement where their first
    reference is the field a test reads first (that statement runs exactly when the test
    would read it), else lazily: ``(v if v is not _U else (v := load))``."""

    def __init__(self, getter_for: Callable[[str], Getter], zones: bool) -> None:
        self.getter_for = getter_for
        self.zones = zones
        self.consts: list[Any] = []
        self.const_names: dict[int, str] = {}
        self.fields: dict[str, str] = {}
        self.objects: dict[str, str] = {}
        self.sides: dict[str, str] = {}
        self.shared: dict[tuple[Any, ...], str] = {}
        self.counts: Counter[tuple[Any, ...]] = Counter()
        #: variables certainly loaded where code is being emitted
        self.scope: set[str] = set()
        #: variables referenced lazily somewhere (they start as ``_U``)
        self.lazy_used: set[str] = set()
        #: statements to emit before the test being generated
        self.pending: list[str] = []

    def const(self, obj: Any) -> str:
        name = self.const_names.get(id(obj))
        if name is None:
            name = self.const_names[id(obj)] = f"k{len(self.consts)}"
            self.consts.append(obj)
        return name

    def ref(self, name: str, load: Callable[[], str], first: bool) -> str:
        """A reference to variable ``name``: bare when loaded; loaded by a statement when
        this is its first reference and ``first`` (the test reads it first); else lazy."""
        if name in self.scope:
            return name
        if first and name not in self.lazy_used:
            self.pending.append(f"{name} = {load()}")
            self.scope.add(name)
            return name
        self.lazy_used.add(name)
        return f"({name} if {name} is not _U else ({name} := {load()}))"

    def obj(self, key: str, first: bool) -> str:
        """The top-level object ``key`` of the event, read once: a dict, or ``as_object`` of
        whatever else is there (so that ``.get`` always reads it as the getters would)."""
        name = self.objects.get(key)
        if name is None:
            name = self.objects[key] = f"o{len(self.objects)}"
        read = f"e[{key!r}]" if key in ALWAYS_OBJECTS else f"e.get({key!r})"
        if first and name not in self.scope and name not in self.lazy_used:
            self.pending.append(f"{name} = {read}")
            self.pending.append(f"if {name}.__class__ is not dict:\n    {name} = _obj({name})")
            self.scope.add(name)
            return name
        return self.ref(name, lambda: f"(_x if (_x := {read}).__class__ is dict else _obj(_x))", False)

    def side(self, side: str, first: bool) -> str:
        """(zone, level) of one end of the event, looked up once."""
        name = self.sides.get(side)
        if name is None:
            name = self.sides[side] = f"z{len(self.sides)}"

        def load() -> str:
            o = self.obj(side, first)
            # a dict's address (anything else has none: ``o['ip']`` raises, and the interpreter
            # takes the event, as it does one without an address)
            return f"((_ZC.get(_i) or _ZM(_i)) if (_i := {o}['ip']).__class__ is str else _UNK)"

        return self.ref(name, load, first)

    def load(self, path: str, first: bool) -> str:
        """An expression reading ``path`` from the event ``e`` (MISSING as ``_M``)."""
        parts = path.split(".")
        if parts[0] == "context" and self.zones:
            if parts[1] in ("source", "destination"):
                index = 0 if parts[2] == "zone" else 1
                return f"(_M if (_z := {self.side(parts[1], first)})[{index}] is None else _z[{index}])"
            # both ends, source first, whatever the source's answer (as the getters do)
            a, b = self.side("source", first), self.side("destination", first)
            i = 0 if parts[1] == "zone_crossing" else 1
            if a not in self.sides.values() or b not in self.sides.values():
                return f"{'_cross' if i == 0 else '_gap'}({a}, {b})"
            value = f"{a}[0] != {b}[0]" if i == 0 else f"abs({a}[1] - {b}[1])"
            return f"(_M if {a}[{i}] is None or {b}[{i}] is None else {value})"
        if len(parts) == 1:
            return f"e.get({parts[0]!r}, _M)"
        if len(parts) == 2:
            if path in ALWAYS_FIELDS:
                return f"{self.obj(parts[0], first)}[{parts[1]!r}]"
            return f"{self.obj(parts[0], first)}.get({parts[1]!r}, _M)"
        # deeper: straight through nested dicts, else the getter (lists on the way, ...)
        inner = self.obj(parts[0], first)
        for part in parts[1:-1]:
            inner = f"(_x.get({part!r}) if (_x := {inner}).__class__ is dict else None)"
        return f"(_x.get({parts[-1]!r}, _M) if (_x := {inner}).__class__ is dict else {self.const(self.getter_for(path))}(e))"

    def var(self, path: str, first: bool) -> tuple[str, str, bool]:
        """(variable name, expression giving its value, whether that is the bare name)."""
        v = self.fields.get(path)
        if v is None:
            v = self.fields[path] = f"v{len(self.fields)}"
        expr = self.ref(v, lambda: self.load(path, first), first)
        return v, expr, expr == v

    def count(self, cond: Cond) -> None:
        self.counts[cond.key()] += 1
        if isinstance(cond, Group):
            for c in cond.children:
                self.count(c)

    def expr(self, cond: Cond, first: bool) -> str:
        """``cond`` as an expression; ``first``: its first field is read whenever it runs."""
        key = cond.key()
        if self.counts[key] > 1 and not (isinstance(cond, Group) and not cond.children):
            name = self.shared.get(key)
            if name is None:
                name = self.shared[key] = f"c{len(self.shared)}"
            if name in self.scope:
                return name
            self.lazy_used.add(name)
            return f"({name} if {name} is not _U else ({name} := {self._expr(cond, False)}))"
        return self._expr(cond, first)

    def _expr(self, cond: Cond, first: bool) -> str:
        if isinstance(cond, Group):
            if cond.kind == "not":
                return f"(not {self.expr(cond.children[0], first)})"
            if not cond.children:
                return "True"
            joiner = " and " if cond.kind == "all" else " or "
            return "(" + joiner.join(self.expr(c, first and i == 0) for i, c in enumerate(cond.children)) + ")"
        assert isinstance(cond, FieldCond)
        v, load, bare = self.var(cond.path, first)
        if cond.exists is not None:
            body = f"({load} is not _M and {v} is not None and ({v}.__class__ is not list or len({v}) > 0))"
            if not cond.exists:
                body = f"(not {body})"
        elif cond.scalar_only:
            # the load yields a value (never _U), then the tests run on the loaded variable
            scalar = " and ".join(op.expr(v, self.const) for op in cond.ops) or "True"
            body = f"({scalar})" if bare else f"({load} is not _U and {scalar})"
        else:
            scalar = " and ".join(op.expr(v, self.const) for op in cond.ops) or "True"
            body = f"(({scalar}) if {load}.__class__ is not list else {self.const(cond)}.any_of({v}))"
        return f"(not {body})" if cond.negate else body

    def loaded_by(self, cond: Cond) -> set[str]:
        """The variables any evaluation of ``cond`` has loaded once it is done."""
        path = _first_field(cond)
        if path is None:
            return set()
        out = {self.fields[path]}
        parts = path.split(".")
        if parts[0] == "context" and self.zones:
            sides = [parts[1]] if parts[1] in ("source", "destination") else ["source", "destination"]
            for side in sides:
                out.add(self.sides[side])
                out.add(self.objects[side])
        elif len(parts) == 2:
            out.add(self.objects[parts[0]])
        return out

    def block(self, node: _Node, depth: int) -> list[str]:
        pad = "        " + "    " * depth
        lines: list[str] = []
        outer = set(self.scope)
        for child in node.children.values():
            assert child.cond is not None
            test = self.expr(child.cond, True)
            for stmt in self.pending:
                lines += [pad + line for line in stmt.split("\n")]
            self.pending = []
            lines.append(f"{pad}if {test}:")
            if child.bits:
                lines.append(f"{pad}    h |= {child.bits}")
            if child.children:
                # statement loads so far hold for the rest of this block; inside the test's
                # block, so do the variables the test itself loaded
                here = set(self.scope)
                self.scope |= self.loaded_by(child.cond)
                lines += self.block(child, depth + 1)
                self.scope = here
        self.scope = outer
        return lines


def _count_tree(gen: _Gen, node: _Node) -> None:
    for child in node.children.values():
        assert child.cond is not None
        gen.count(child.cond)
        _count_tree(gen, child)


def compile_bucket(
    matchers: Sequence[tuple[int, Cond]],
    getter_for: Callable[[str], Getter],
    read: Callable[[str, Mapping[str, Any]], Any],
    zones: ZoneCache | None = None,
) -> Bucket:
    """One function testing all ``matchers`` (number, condition) against an event.

    With ``zones`` the ``context.*`` fields are answered inline from its cache; without it
    they are read through ``getter_for`` like any other field."""
    # matchers with the same condition share one test
    groups: dict[tuple[Any, ...], list[int]] = {}
    conds: dict[tuple[Any, ...], Cond] = {}
    for number, cond in matchers:
        key = cond.key()
        groups.setdefault(key, []).append(number)
        conds[key] = cond
    root = _Node(None)
    always = 0
    for bit, key in enumerate(groups):
        terms = [t for t in conjuncts(conds[key]) if not (isinstance(t, Group) and t.kind == "all" and not t.children)]
        if terms:
            root.add(terms, 1 << bit)
        else:
            always |= 1 << bit  # no condition left: holds for every event of the bucket
    gen = _Gen(getter_for, zones is not None)
    _count_tree(gen, root)
    lines = gen.block(root, 0)
    init = []
    names = [n for n in (*gen.objects.values(), *gen.sides.values(), *gen.fields.values(), *gen.shared.values()) if n in gen.lazy_used]
    if names:
        init.append("        " + " = ".join(names) + " = _U")
    params = ", ".join(["_M", "_U", "_obj", "_ZC", "_ZM", "_UNK", "_cross", "_gap", *(f"k{i}" for i in range(len(gen.consts)))])
    body = "\n".join([*init, f"        h = {always}", *lines, "        return h"])
    src = (
        f"def _make({params}, _slow):\n"
        "    def test(e):\n"
        "      try:\n"
        f"{body}\n"
        "      except (TypeError, KeyError):\n"
        "        return _slow(e)\n"
        "    return test\n"
    )
    tests = tuple(conds[key] for key in groups)

    def slow(e: Mapping[str, Any]) -> int:
        """Values the inline tests cannot take (an unhashable value against a set)."""
        mask = 0
        for bit, cond in enumerate(tests):
            if cond.test(e, read):
                mask |= 1 << bit
        return mask

    cache = zones.cache if zones is not None else None
    miss = zones.miss if zones is not None else None
    fn = make(src, "<correlation bucket>", MISSING, _UNSET, as_object, cache, miss, UNKNOWN, _cross, _gap, *gen.consts, slow)
    return Bucket(fn, tuple(tuple(numbers) for numbers in groups.values()), src)
