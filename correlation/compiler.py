"""Compile the conditions of one (dataset, action) bucket into a single Python function.

The engine keeps one function per distinct set of candidate matchers. The generated function
reads each field at most once per event (lazily, so a rule that fails early does not pay for
the fields of the rules after it), evaluates a sub-condition shared by several matchers once,
and folds matchers with identical conditions into one test. It returns the tuple of matcher
numbers that hold, ``()`` in the common case. Values it cannot test inline (an unhashable value
against a set) fall back to the interpreter in ``Cond.test``, which gives the same answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from correlation.conditions import Cond, FieldCond, Group
from correlation.fields import MISSING, Getter, inline_load

Bucket = Callable[[Mapping[str, Any]], tuple[int, ...]]
_UNSET = object()


class _Gen:
    def __init__(self, getter_for: Callable[[str], Getter]) -> None:
        self.getter_for = getter_for
        self.consts: list[Any] = []
        self.const_names: dict[int, str] = {}
        self.fields: dict[str, tuple[str, str]] = {}
        self.shared: dict[tuple[Any, ...], str] = {}
        self.counts: Counter[tuple[Any, ...]] = Counter()

    def const(self, obj: Any) -> str:
        name = self.const_names.get(id(obj))
        if name is None:
            name = self.const_names[id(obj)] = f"k{len(self.consts)}"
            self.consts.append(obj)
        return name

    def var(self, path: str) -> tuple[str, str]:
        """(variable name, expression that loads it on first use)."""
        known = self.fields.get(path)
        if known is None:
            known = self.fields[path] = (f"v{len(self.fields)}", self.const(self.getter_for(path)))
        v, g = known
        load = f"{g}(e)" if path.startswith("context.") else inline_load(path, g)
        return v, f"({v} if {v} is not _U else ({v} := {load}))"

    def count(self, cond: Cond) -> None:
        self.counts[cond.key()] += 1
        if isinstance(cond, Group):
            for c in cond.children:
                self.count(c)

    def expr(self, cond: Cond) -> str:
        key = cond.key()
        if self.counts[key] > 1 and not (isinstance(cond, Group) and not cond.children):
            name = self.shared.get(key)
            if name is None:
                name = self.shared[key] = f"c{len(self.shared)}"
            return f"({name} if {name} is not _U else ({name} := {self._expr(cond)}))"
        return self._expr(cond)

    def _expr(self, cond: Cond) -> str:
        if isinstance(cond, Group):
            if cond.kind == "not":
                return f"(not {self.expr(cond.children[0])})"
            if not cond.children:
                return "True"
            joiner = " and " if cond.kind == "all" else " or "
            return "(" + joiner.join(self.expr(c) for c in cond.children) + ")"
        assert isinstance(cond, FieldCond)
        v, load = self.var(cond.path)
        if cond.exists is not None:
            body = f"({load} is not _M and {v} is not None and ({v}.__class__ is not list or len({v}) > 0))"
            if not cond.exists:
                body = f"(not {body})"
        elif cond.scalar_only:
            # the load yields a value (never _U), then the tests run on the loaded variable
            scalar = " and ".join(op.expr(v, self.const) for op in cond.ops) or "True"
            body = f"({load} is not _U and {scalar})"
        else:
            scalar = " and ".join(op.expr(v, self.const) for op in cond.ops) or "True"
            body = f"(({scalar}) if {load}.__class__ is not list else {self.const(cond)}.any_of({v}))"
        return f"(not {body})" if cond.negate else body


def compile_bucket(
    matchers: Sequence[tuple[int, Cond]],
    getter_for: Callable[[str], Getter],
    read: Callable[[str, Mapping[str, Any]], Any],
) -> Bucket:
    """One function testing all ``matchers`` (number, condition) against an event."""
    if not matchers:
        return _nothing
    gen = _Gen(getter_for)
    for _, cond in matchers:
        gen.count(cond)
    # matchers with the same condition share one test
    groups: dict[tuple[Any, ...], list[int]] = {}
    conds: dict[tuple[Any, ...], Cond] = {}
    for number, cond in matchers:
        key = cond.key()
        groups.setdefault(key, []).append(number)
        conds[key] = cond
    for key in groups:
        gen.counts[key] = 1  # a whole condition is never cached: it is tested once
    lines = []
    for key, numbers in groups.items():
        test = gen.expr(conds[key])
        lines.append(f"        if {test}:\n            h += {tuple(numbers)!r}")
    init = []
    names = [v for v, _ in gen.fields.values()] + list(gen.shared.values())
    if names:
        init.append("        " + " = ".join(names) + " = _U")
    params = ", ".join(["_M", "_U", *(f"k{i}" for i in range(len(gen.consts)))])
    body = "\n".join(init + ["        h = ()", *lines, "        return h"])
    src = (
        f"def _make({params}, _slow):\n"
        "    def bucket(e):\n"
        "      try:\n"
        f"{body}\n"
        "      except TypeError:\n"
        "        return _slow(e)\n"
        "    return bucket\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(src, "<correlation bucket>", "exec"), namespace)  # noqa: S102 - generated from validated rules
    pairs = tuple(matchers)

    def slow(e: Mapping[str, Any]) -> tuple[int, ...]:
        """Values the inline tests cannot take (an unhashable value against a set)."""
        return tuple(n for n, cond in pairs if cond.test(e, read))

    bucket: Bucket = namespace["_make"](MISSING, _UNSET, *gen.consts, slow)
    bucket.source = src  # type: ignore[attr-defined]
    return bucket


def _nothing(e: Mapping[str, Any]) -> tuple[int, ...]:
    return ()
