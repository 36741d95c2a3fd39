"""Dispatch plans: the code run for an event once its bucket said which matchers hold.

For each distinct set of matchers that hold together (a bucket's mask), one generated
function calls the detectors in the matchers' order and hands the steps of a sequence to its
detector in one call, after the other detectors. It builds each group key its detectors need
once, inline, reading each field once for all of them (``organization.id`` plus
``source.ip, destination.ip`` serves most rules), and reads the value a distinct-count
threshold counts. Keys are built exactly as ``fields.make_keyfn`` builds them. A key that
reads ``context.*`` fields is left to the detector (``None``), which computes it only if it
needs it, so zones are looked up exactly when the rule looks at them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from correlation.codegen import make
from correlation.detectors import Detector, SequenceDetector, ThresholdDetector
from correlation.fields import MISSING, SIMPLE, Getter, as_object, hashable

#: (event, time in seconds, @timestamp, event.id) -> None
PlanFn = Callable[[Mapping[str, Any], float, str, Any], None]


class _Gen:
    def __init__(self, getter_for: Callable[[str], Getter]) -> None:
        self.getter_for = getter_for
        self.consts: list[Any] = []
        self.lines: list[str] = []
        self.objects: dict[str, str] = {}
        self.fields: dict[str, str] = {}  # path -> variable holding the raw value
        self.normal: dict[str, str] = {}  # path -> variable holding the value as keys hold it
        self.keys: dict[tuple[str, ...], str] = {}
        self.org = False

    def const(self, obj: Any) -> str:
        self.consts.append(obj)
        return f"q{len(self.consts) - 1}"

    def emit(self, line: str) -> None:
        self.lines.append("        " + line)

    def field(self, path: str) -> str:
        """A variable holding the value of ``path`` (as ``getter(path)`` reads it)."""
        v = self.fields.get(path)
        if v is not None:
            return v
        v = self.fields[path] = f"f{len(self.fields)}"
        parts = path.split(".")
        if len(parts) == 1:
            self.emit(f"{v} = e.get({path!r}, _M)")
        elif len(parts) == 2:
            o = self.objects.get(parts[0])
            if o is None:
                o = self.objects[parts[0]] = f"o{len(self.objects)}"
                self.emit(f"{o} = e.get({parts[0]!r})")
                self.emit(f"if {o}.__class__ is not dict:")
                self.emit(f"    {o} = _obj({o})")
            self.emit(f"{v} = {o}.get({parts[1]!r}, _M)")
        else:
            self.emit(f"{v} = {self.const(self.getter_for(path))}(e)")
        return v

    def key(self, fields: tuple[str, ...]) -> str:
        """A variable holding the group key ``(organization.id, *fields)`` of the event."""
        k = self.keys.get(fields)
        if k is not None:
            return k
        if not self.org:
            self.org = True
            self.emit("org = e.get('organization')")
            self.emit("org = org.get('id') if org.__class__ is dict else None")
            # an id that is a list or a mapping (events from anywhere) as keys hold values
            self.emit("if org.__class__ is not str and org.__class__ not in _S:")
            self.emit("    org = _h(org)")
        parts = ["org"]
        for path in fields:
            n = self.normal.get(path)
            if n is None:
                v = self.field(path)
                n = self.normal[path] = f"n{len(self.normal)}"
                self.emit(f"{n} = {v} if {v}.__class__ in _S else _h({v})")
            parts.append(n)
        k = self.keys[fields] = f"k{len(self.keys)}"
        self.emit(f"{k} = ({', '.join(parts)},)")
        return k

    def primary(self, det: Detector) -> str:
        return "None" if det.primary_reads_context else self.key(det.primary_fields)


def compile_plan(
    numbers: Sequence[int], matchers: Sequence[tuple[Detector, int | None]], getter_for: Callable[[str], Getter]
) -> PlanFn:
    """The function running matchers ``numbers`` (indexes into ``matchers``: detector, step)."""
    gen = _Gen(getter_for)
    steps: dict[SequenceDetector, list[int]] = {}
    for n in numbers:
        det, step = matchers[n]
        if step is not None:
            assert isinstance(det, SequenceDetector)
            steps.setdefault(det, []).append(step)
            continue
        key = gen.primary(det)
        value = "None"
        if isinstance(det, ThresholdDetector):
            if (det.distinct_path or "").startswith("context."):
                gen.emit(f"{gen.const(det.handle)}(e, t, ts, eid, {key})")
                continue
            if det.distinct_path is not None:
                value = gen.field(det.distinct_path)
        for line in det.inline(key, value, gen.const):
            gen.emit(line)
    for seq, nums in steps.items():
        key = gen.primary(seq)
        gen.emit(f"{gen.const(seq.handle_steps)}(e, t, ts, eid, {key}, {tuple(nums)!r})")
    params = ", ".join(["_M", "_S", "_h", "_obj", *(f"q{i}" for i in range(len(gen.consts)))])
    src = f"def _make({params}):\n    def plan(e, t, ts, eid):\n" + "\n".join(gen.lines) + "\n    return plan\n"
    fn: PlanFn = make(src, "<correlation plan>", MISSING, SIMPLE, hashable, as_object, *gen.consts)
    fn.source = src  # type: ignore[attr-defined]
    return fn
