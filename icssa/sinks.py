"""Output sinks: JSON lines and JSON documents, written with orjson."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
#: events have string keys only: orjson's general path for other keys costs a third more per event
_STR_KEYS = orjson.OPT_APPEND_NEWLINE


class JsonLines:
    """One JSON object per line, buffered; ``count`` says how many were written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self.count = 0
        self._dumps = orjson.dumps

    def write(self, obj: Any) -> None:
        try:
            data = self._dumps(obj, option=_STR_KEYS)
        except TypeError:  # a key that is not a string (or a value orjson cannot write: raised again)
            data = self._dumps(obj, option=_OPTS)
        self._fh.write(data)
        self.count += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_json(path: Path, obj: Any) -> None:
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]
