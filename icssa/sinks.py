"""Output sinks: JSON lines and JSON documents, written with orjson."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


class JsonLines:
    """One JSON object per line, buffered; ``count`` says how many were written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self.count = 0
        self._dumps = orjson.dumps

    def write(self, obj: Any) -> None:
        self._fh.write(self._dumps(obj, option=_OPTS))
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
